"""What processing made of one event, for staff (stored on the event row)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    text: str
    needs_attention: bool = False
    #: The event changed a mirror: later, older events of its subject are stale. An event that
    #: did nothing (no handler, nothing mirrored, not applied) judges nothing stale.
    applied: bool = False
