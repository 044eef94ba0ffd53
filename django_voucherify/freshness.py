"""Which copy of a Voucherify object is newer: the one rule every writer of a mirror follows
(refreshes, pulls, webhook events), so that no writer makes a mirror older than it was.

A copy's time is its ``updated_at`` (Voucherify's own clock, on the object), or its ``created_at``
when it was never updated (``updated_at`` null). A mirror keeps the
copy it last stored in ``remote_payload``; a copy older than that is not written. Times without
an offset are UTC; a time that cannot be read orders nothing (the copy is written).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.utils.dateparse import parse_datetime


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 string as an aware datetime (no offset: UTC), or None when it is not one."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is None:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def remote_time(obj: Any) -> datetime | None:
    """The ``updated_at`` of a Voucherify object (a dict), as an aware datetime, or None."""
    return parse_time(obj.get("updated_at") if isinstance(obj, dict) else None)


def last_change(obj: Any) -> datetime | None:
    """When a Voucherify object (a dict) last changed: its ``updated_at``, or for an object never
    updated (``updated_at`` null or absent, as Voucherify answers a creation) its ``created_at``;
    None when neither can be read."""
    if not isinstance(obj, dict):
        return None
    return remote_time(obj) or parse_time(obj.get("created_at"))


def read_after(stored: Any, instant: datetime | None) -> bool:
    """Whether the copy ``stored`` (a mirror's ``remote_payload``) shows the object as it was
    after ``instant`` (its ``updated_at`` or ``created_at`` is later): an event of ``instant``
    (a deletion) is older than what the mirror holds. A copy of an object made again after its
    deletion may have no ``updated_at`` yet (never updated): its ``created_at`` tells."""
    if instant is None or not isinstance(stored, dict):
        return False
    times = (parse_time(stored.get("updated_at")), parse_time(stored.get("created_at")))
    return any(time is not None and time > instant for time in times)


def is_older(copy: Any, stored: Any) -> bool:
    """Whether ``copy`` is older than ``stored`` (a mirror's ``remote_payload``): writing it
    would make the mirror older. Each is timed by :func:`last_change`: before, a copy of an
    object never updated (``updated_at: null``, a late ``*.created`` event) had no time and was
    always written, over a newer copy the mirror held."""
    theirs, ours = last_change(copy), last_change(stored)
    return theirs is not None and ours is not None and theirs < ours


def before_deletion(copy: Any, deleted_at: datetime | None, deleted_id: str = "") -> bool:
    """Whether ``copy`` shows an object as it was before a deletion the shop has sent, so that
    writing it would make the deleted object's mirror again.

    ``deleted_id``: the Voucherify id the deletion was addressed to (a customer's, when the shop
    knew it). Only that object was deleted: a copy under that id is from before the deletion,
    whatever time Voucherify's clock put on it (its API has no way to restore a deleted
    customer), and a copy under another id is of a customer made with the source id since,
    which the deletion did not touch (made after it, or before it was sent, once Voucherify had
    deleted the old one itself: it lives on there). Without it (a deletion addressed by source
    id, which deletes whatever holds it; an order's, which Voucherify never receives): a copy
    that last changed (:func:`last_change`) before ``deleted_at`` is older; ``deleted_at`` is when
    the shop recorded the deletion as delivered, on its own clock, after Voucherify answered. A
    copy without a readable time orders nothing (it is written)."""
    if not isinstance(copy, dict):
        return False
    if deleted_id:
        return copy.get("id") == deleted_id
    changed = last_change(copy)
    return changed is not None and deleted_at is not None and changed < deleted_at
