"""Shared list-endpoint helpers: limit/page parsing, date filters, ordering, cursors.

Limits follow the spec's parameter schemas: ``limit`` 1..100 (default 10), ``page`` 1..99 or
1..100 depending on the endpoint; out-of-range or non-numeric values give 400
``invalid_payload``... as Voucherify answers malformed query parameters with a 400.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django_voucherify.sandbox.errors import SandboxError, invalid_query_params
from django_voucherify.sandbox.state import parse_iso

JSON = dict[str, Any]


def invalid_param(name: str, why: str) -> SandboxError:
    return invalid_query_params(f"{name}: {why}")


def int_param(query: JSON, name: str, default: int, lo: int, hi: int) -> int:
    """An integer query parameter within ``lo..hi`` (400 otherwise)."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(str(raw))
    except ValueError:
        raise invalid_param(name, "must be an integer") from None
    if not lo <= value <= hi:
        raise invalid_param(name, f"must be between {lo} and {hi}")
    return value


def date_param(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise invalid_param(name, "must be an ISO 8601 date")
    try:
        return parse_iso(value)
    except ValueError:
        raise invalid_param(name, "must be an ISO 8601 date") from None


def filter_dates(items: list[JSON], query: JSON, *fields: str) -> list[JSON]:
    """Apply ``<field>[before]`` / ``<field>[after]`` filters (exclusive bounds)."""
    for f in fields:
        spec = query.get(f)
        if not isinstance(spec, dict):
            continue
        for bound in ("before", "after"):
            if bound not in spec:
                continue
            limit = date_param(spec[bound], f"{f}[{bound}]")

            def keep(obj: JSON, _f: str = f, _b: str = bound, _l: datetime = limit) -> bool:
                val = obj.get(_f)
                if not val:
                    return False
                ts = parse_iso(val)
                return ts < _l if _b == "before" else ts > _l

            items = [o for o in items if keep(o)]
    return items


def order_items(items: list[JSON], order: Any, allowed: Sequence[str], default: str) -> list[JSON]:
    """Sort by ``order`` (``field`` or ``-field``), one of ``allowed``; None values sort first."""
    key = str(order) if order else default
    if key not in allowed:
        raise invalid_param("order", f"must be one of {', '.join(allowed)}")
    field = key.lstrip("-")
    desc = key.startswith("-")
    # Ties (same millisecond) keep creation order, reversed for descending sorts, so "newest
    # first" really is newest first.
    return sorted(
        reversed(items) if desc else items,
        key=lambda o: (o.get(field) is not None, str(o.get(field) or "")),
        reverse=desc,
    )


def page_slice(items: list[JSON], page: int, limit: int) -> list[JSON]:
    start = (page - 1) * limit
    return items[start : start + limit]


def cursor_slice(items: list[JSON], after_id: Any, limit: int, id_field: str = "id") -> JSON:
    """Cursor paging: the ``limit`` items after the one whose id is ``after_id``.

    Returns ``{"data", "has_more", "more_starting_after"}``; an unknown cursor yields an empty
    page (Voucherify does not error on it).
    """
    start = 0
    if after_id:
        ids = [o.get(id_field) for o in items]
        start = ids.index(after_id) + 1 if after_id in ids else len(items)
    page = items[start : start + limit]
    has_more = start + limit < len(items)
    return {
        "data": page,
        "has_more": has_more,
        "more_starting_after": page[-1][id_field] if has_more and page else None,
    }
