"""``iter_pages``' created_at slide stays exact when many items share one millisecond.

The walk used to skip, after a slide, only the last page's items at the boundary instant; a
burst longer than a page at the page-cap boundary was yielded again (20,100 items for 20,000).
A fake endpoint here pages a generated list like Voucherify (page cap, exclusive or inclusive
``created_at[after]``/``[before]``, ties in creation order, the descending order its reverse)
and the walk must yield every item exactly once, or refuse with PaginationLimitError exactly
when some instant holds more items than a window can page through.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from django_voucherify.api.paging import PaginationLimitError, iter_pages

BASE = datetime(2024, 1, 1, tzinfo=UTC)


def stamp(ms: int) -> str:
    moment = BASE + timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def burst_items(bursts: list[int]) -> list[dict[str, Any]]:
    """Items in creation order; ``bursts[i]`` items share millisecond ``i`` (adjacent instants,
    so the slide's one-millisecond step back lands on the previous burst)."""
    out = []
    for ms, size in enumerate(bursts):
        first = len(out)
        out.extend({"id": f"v_{first + k:06d}", "created_at": stamp(ms)} for k in range(size))
    return out


class Endpoint:
    """A page/limit list ordered by created_at (ties: creation order; descending: reversed)."""

    def __init__(
        self, items: list[dict[str, Any]], max_page: int, inclusive: bool, field: str = "created_at"
    ) -> None:
        self.items, self.max_page, self.inclusive, self.field = items, max_page, inclusive, field
        self.calls = 0

    def __call__(
        self, *, page: int, limit: int, order: str, created_at: Any = None, **_: Any
    ) -> dict[str, Any]:
        self.calls += 1
        assert self.calls < 10_000, "the walk does not end"
        assert 1 <= page <= self.max_page
        rows = self.items
        window = created_at or {}
        if "after" in window:
            rows = [
                r
                for r in rows
                if r[self.field] > window["after"] or (self.inclusive and r[self.field] == window["after"])
            ]
        if "before" in window:
            rows = [
                r
                for r in rows
                if r[self.field] < window["before"] or (self.inclusive and r[self.field] == window["before"])
            ]
        if order == "-created_at":
            rows = rows[::-1]
        start = (page - 1) * limit
        return {"vouchers": rows[start : start + limit], "total": len(rows)}


def walk(items: list[dict[str, Any]], *, limit: int, max_page: int, inclusive: bool, order: str) -> list[str]:
    fetch = Endpoint(items, max_page, inclusive)
    params = {"order": order}
    return [
        i["id"]
        for i in iter_pages(
            fetch, "vouchers", params=params, limit=limit, max_page=max_page, date_filter="created_at"
        )
    ]


def test_a_burst_longer_than_a_page_at_the_page_cap_is_walked_once():
    """The reported case at scale: 20,000 vouchers, 250 of them in one millisecond across the
    end of page 99 (index 9,900). Every voucher exactly once, oldest first."""
    sizes = [1] * 9_800 + [250] + [1] * 9_950
    items = burst_items(sizes)
    assert len(items) == 20_000
    got = walk(items, limit=100, max_page=99, inclusive=False, order="created_at")
    assert [n for n in Counter(got).values() if n > 1] == []
    assert got == [i["id"] for i in items]


def fits(sizes: list[int], capacity: int, inclusive: bool) -> bool:
    """Whether every window can move: no instant (with, when bounds are inclusive, the instant
    just before it, which the window re-reads) holds a whole window's worth of items."""
    return all(size + (sizes[ms - 1] if inclusive and ms else 0) < capacity for ms, size in enumerate(sizes))


@settings(max_examples=150, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=14), min_size=1, max_size=40),
    limit=st.integers(min_value=1, max_value=6),
    max_page=st.integers(min_value=1, max_value=4),
    inclusive=st.booleans(),
    descending=st.booleans(),
)
def test_walk_never_repeats_or_skips(sizes, limit, max_page, inclusive, descending):
    items = burst_items(sizes)
    expected = [i["id"] for i in (items[::-1] if descending else items)]
    order = "-created_at" if descending else "created_at"
    seen: list[str] = []
    fetch = Endpoint(items, max_page, inclusive)
    try:
        for item in iter_pages(
            fetch,
            "vouchers",
            params={"order": order},
            limit=limit,
            max_page=max_page,
            date_filter="created_at",
        ):
            seen.append(item["id"])
    except PaginationLimitError:
        assert len(set(seen)) == len(seen), "repeated before giving up"
        assert seen == expected[: len(seen)], "skipped before giving up"
        capacity = limit * max_page
        ordered = sizes[::-1] if descending else sizes
        assert not fits(ordered, capacity, inclusive), "gave up on a walk that fits"
        return
    assert seen == expected


def test_redemptions_slide_on_their_date_field():
    """Redemptions carry ``date``, not ``created_at`` (their ``created_at[...]`` filter reads
    it): the walk past the page cap slides on it instead of giving up."""
    items = [{"id": i["id"], "date": i["created_at"]} for i in burst_items([3] * 40)]
    fetch = Endpoint(items, max_page=2, inclusive=False, field="date")
    got = [
        i["id"]
        for i in iter_pages(
            fetch, "vouchers", params={"order": "created_at"}, limit=5, max_page=2, date_filter="created_at"
        )
    ]
    assert got == [i["id"] for i in items]
