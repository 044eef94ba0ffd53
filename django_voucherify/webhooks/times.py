"""Times in events: ISO 8601 strings read as aware UTC datetimes, within what both PostgreSQL
and Python can hold."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

#: The instants the database and Python can both hold, in UTC.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def instant(value: Any) -> datetime | None:
    """An aware datetime for an ISO 8601 string (naive: UTC), None when it is not one or lies
    outside 1970-9000 (a date at the calendar's edge converts to a year Python cannot read)."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is None:
        return None
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    try:
        parsed = parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    return parsed if EARLIEST <= parsed <= LATEST else None
