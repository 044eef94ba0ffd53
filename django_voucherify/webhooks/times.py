"""Times in events: ISO 8601 strings read as aware UTC datetimes, within what both PostgreSQL
and Python can hold."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..freshness import parse_time

#: The instants the database and Python can both hold, in UTC.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def instant(value: Any) -> datetime | None:
    """An aware datetime for an ISO 8601 string (naive: UTC), None when it is not one or lies
    outside 1970-9000 (a date at the calendar's edge converts to a year Python cannot read)."""
    parsed = parse_time(value)
    if parsed is None:
        return None
    try:
        parsed = parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    return parsed if EARLIEST <= parsed <= LATEST else None
