"""Shared list-endpoint helpers: limit/page parsing, date windows, indexed selection, cursors.

Limits follow the spec's parameter schemas: ``limit`` 1..100 (default 10), ``page`` 1..99 or
1..100 depending on the endpoint; out-of-range or non-numeric values give 400
``invalid_payload``... as Voucherify answers malformed query parameters with a 400.

Cost (see docs/sandbox.md, "Performance"): :func:`select` reads a page out of a collection's
sorted index (:mod:`django_voucherify.sandbox.store`) by position, so an unfiltered page, or one
windowed on the ordering's own timestamp, costs the same whatever the store's size. A filtered
listing materialises its matching rows once (in index order, no sort) and keeps that selection
until the collection is next written, so walking its pages costs one pass, not one per page.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django_voucherify.sandbox.errors import SandboxError, invalid_query_params
from django_voucherify.sandbox.state import parse_iso
from django_voucherify.sandbox.store import MISSING, IndexedDict, Row, micros, window

JSON = dict[str, Any]
MAX_VIEWS = 16  # materialised filtered selections kept per collection


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


@dataclass(frozen=True)
class Window:
    """Exclusive bounds (microseconds) on one timestamp index: ``after < value < before``."""

    index: str
    after: int | None = None
    before: int | None = None

    def admits(self, value: int) -> bool:
        return (
            value != MISSING
            and (self.after is None or value > self.after)
            and (self.before is None or value < self.before)
        )


def date_windows(query: JSON, *fields: str, index_of: dict[str, str] | None = None) -> list[Window]:
    """The ``<field>[before]`` / ``<field>[after]`` filters given (exclusive bounds)."""
    out = []
    for field in fields:
        spec = query.get(field)
        if not isinstance(spec, dict):
            continue
        bounds: dict[str, int] = {}
        for bound in ("before", "after"):
            if bound in spec:
                bounds[bound] = micros(date_param(spec[bound], f"{field}[{bound}]"))
        if bounds:
            index = (index_of or {}).get(field, field)
            out.append(Window(index, bounds.get("after"), bounds.get("before")))
    return out


def parse_order(order: Any, allowed: Sequence[str], default: str) -> tuple[str, bool]:
    """``order`` (``field`` or ``-field``, one of ``allowed``) as ``(field, descending)``."""
    key = str(order) if order else default
    if key not in allowed:
        raise invalid_param("order", f"must be one of {', '.join(allowed)}")
    return key.lstrip("-"), key.startswith("-")


@dataclass
class Selection:
    """The rows of a listing, in ascending index order, between positions ``lo`` and ``hi``."""

    coll: IndexedDict
    rows: list[Row]
    lo: int
    hi: int
    descending: bool

    @property
    def total(self) -> int:
        return self.hi - self.lo

    def page(self, page: int, limit: int) -> list[JSON]:
        """Page ``page`` (1-based) of ``limit`` objects; descending walks the rows backwards."""
        offset = (page - 1) * limit
        if self.descending:
            end = self.hi - offset
            chunk = self.rows[max(self.lo, end - limit) : max(self.lo, end)][::-1]
        else:
            start = self.lo + offset
            chunk = self.rows[min(start, self.hi) : min(start + limit, self.hi)]
        return self.coll.objects(chunk)


def select(
    coll: IndexedDict,
    order: str,
    descending: bool,
    windows: Sequence[Window] = (),
    matches: Callable[[JSON], bool] | None = None,
    filter_key: Hashable = None,
    candidates: Callable[[], set[str] | None] | None = None,
) -> Selection:
    """The objects of ``coll`` ordered by its index ``order``, inside ``windows``, that pass
    ``matches`` (whose identity, for caching, is ``filter_key``: equal keys, equal filters).

    A window on ``order`` itself is two bisections; other windows and ``matches`` are applied
    by one pass whose result is kept in ``coll.views`` until the next write. ``candidates``
    (called only when that pass is due) may narrow it to a superset of the matching keys, read
    from the collection's equality buckets: the pass then visits those rows only.
    """
    own = [w for w in windows if w.index == order]
    other = [w for w in windows if w.index != order]
    rows = coll.ordered(order)
    if other or matches is not None:
        key = (order, tuple(other), filter_key)
        cached = coll.views.get(key)
        if cached is None:
            keys = candidates() if candidates is not None else None
            cached = _materialise(coll, _narrowed(coll, order, rows, keys), other, matches)
            if len(coll.views) >= MAX_VIEWS:
                coll.views.clear()
            coll.views[key] = cached
        rows = cached
    lo, hi = 0, len(rows)
    for w in own:
        a, b = window(rows, w.after, w.before, skip_missing=True)
        lo, hi = max(lo, a), min(hi, b)
    return Selection(coll, rows, lo, max(lo, hi), descending)


def _narrowed(coll: IndexedDict, order: str, rows: list[Row], keys: set[str] | None) -> list[Row]:
    """The rows of ``keys`` (all rows when None), still in index order: the few candidates'
    rows sorted, or, for many candidates, one cheap membership pass."""
    if keys is None:
        return rows
    if len(keys) * 8 < len(rows):
        index = coll.indexes[order]
        return sorted(index.row(key) for key in keys)
    return [row for row in rows if row[2] in keys]


def _materialise(
    coll: IndexedDict, rows: list[Row], other: list[Window], matches: Callable[[JSON], bool] | None
) -> list[Row]:
    values = [coll.indexes[w.index] for w in other]
    kept = []
    for row in rows:
        key = row[2]
        if all(w.admits(index.value(key)) for w, index in zip(other, values, strict=True)) and (
            matches is None or matches(row[3])
        ):
            kept.append(row)
    return kept


def frozen(value: Any) -> Hashable:
    """A hashable copy of a query value (nested dicts/lists), to key cached selections."""
    if isinstance(value, dict):
        return tuple(sorted((str(k), frozen(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(frozen(v) for v in value)
    return str(value)


def cursor_slice(items: list[JSON], after_id: Any, limit: int, id_field: str = "id") -> JSON:
    """Cursor paging: the ``limit`` items after the one whose id is ``after_id``.

    Returns ``{"data", "has_more"}`` plus ``more_starting_after`` only when there is a next page
    (the response schemas type it as a string: Voucherify omits it rather than sending null).
    An unknown cursor yields an empty page (Voucherify does not error on it).
    """
    start = 0
    if after_id:
        ids = [o.get(id_field) for o in items]
        start = ids.index(after_id) + 1 if after_id in ids else len(items)
    page = items[start : start + limit]
    has_more = start + limit < len(items)
    out: JSON = {"data": page, "has_more": has_more}
    if has_more and page:
        out["more_starting_after"] = page[-1][id_field]
    return out
