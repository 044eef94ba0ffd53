"""What processing made of one event, for staff (stored on the event row)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    text: str
    needs_attention: bool = False
