"""Iterators that walk every page of a list endpoint, however that endpoint pages.

Voucherify pages three ways, and each ``iterate*`` method of the resources picks one:

* :func:`iter_pages` - ``page``/``limit`` (vouchers, redemptions, orders, and the lists of
  campaigns, promotion tiers and stacks, validation rules and assignments, products, SKUs,
  publications and exports). The API refuses pages past 99 (100 for orders and the others);
  where the endpoint has a ``created_at`` filter (vouchers, redemptions, customers, promotion
  stacks) and the walk is ordered by ``created_at``, the window slides on
  (``created_at[after]`` ascending, ``created_at[before]`` descending) from the last item seen.
  Otherwise a full last page raises :class:`PaginationLimitError` rather than silently
  dropping the rest.
* :func:`iter_cursor` - ``starting_after_id`` + ``has_more``/``more_starting_after``
  (voucher and campaign transactions, customer activity, customer redeemables), or another
  cursor parameter (qualifications' ``options.starting_after``, a date).
* :func:`iter_by_date` - a date cursor taken from the last item's ``created_at`` (customers'
  ``starting_after``, async actions' ``end_date``).

A page that brings no item the walk has not just seen (a server or cache ignoring the paging
parameters) raises :class:`PaginationStalledError`: the walk never loops, never repeats an item,
and never ends short without saying so (a caller deleting local rows the walk did not see must
not mistake a stalled walk for a complete one).

A 2xx page without its list (the key missing or null: a gateway's or a proxy's ``{}``) raises
:class:`~.errors.InvalidResponseError`, in every walk: it is not an empty page. Voucherify
always sends the list its ``data_ref`` names, empty when nothing matches, and callers act on a
walk that finds nothing (the balance form credits a card when no transaction carries its
``source_id``, a job part is sent again when no async action came of it, reconciliation
concludes ``not_redeemed``). The vendored spec marks no field of a list answer required (nor of
almost any answer: every field is optional and nullable there), so it names no endpoint that
may leave its list out; there is no exception.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from .errors import InvalidResponseError, VoucherifyError

Page = dict[str, Any]
Fetch = Callable[..., Page]
ONE_MS = timedelta(milliseconds=1)


class PaginationError(VoucherifyError):
    """A list could not be walked to its end; what was yielded so far is not everything."""


class PaginationLimitError(PaginationError):
    """More items match than the endpoint can page through; narrow the filters."""


class PaginationStalledError(PaginationError):
    """Voucherify answered the next page with items already seen: the cursor did not move."""


def _items(body: Any, key: str) -> list[dict[str, Any]]:
    """``body[key]``, a list of objects, or InvalidResponseError: a page of another shape is not
    Voucherify's answer, and the walk must not end short or raise something else because of it.

    A page without its list (``key`` missing or null: a gateway's or a proxy's ``{}`` answered
    200) is such a page, never an empty one (see the module docstring)."""
    items = body.get(key) if isinstance(body, dict) else body
    if items is None:
        raise InvalidResponseError(f"Voucherify answered a page without its {key!r} list", status=200)
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise InvalidResponseError(
            f"Voucherify answered a page whose {key!r} is not a list of objects",
            status=200,
        )
    return items


def _ids(items: list[dict[str, Any]]) -> set[Any]:
    return {item.get("id") for item in items}


def _stalled(items: list[dict[str, Any]], previous: set[Any], skip: set[Any]) -> bool:
    """True when a non-empty page holds nothing that was not on the previous page."""
    return bool(items) and _ids(items) <= (previous | skip)


def _parse(timestamp: str) -> datetime | None:
    try:
        return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return None


def _created(item: dict[str, Any]) -> datetime | None:
    """When ``item`` was created: ``created_at``, or ``date`` for redemptions and rollbacks
    (whose ``created_at[...]`` filter reads that field)."""
    return _parse(str(item.get("created_at") or item.get("date") or ""))


def _format(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iter_pages(
    fetch: Fetch,
    key: str,
    *,
    params: dict[str, Any],
    limit: int = 100,
    max_page: int = 99,
    date_filter: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield every item of ``page[key]`` across pages (see the module docstring).

    The slide moves the bound one millisecond back over the last item's ``created_at`` (so the
    walk does not depend on whether the API's bound is inclusive) and skips, by id, every item
    already yielded at or beyond the new bound - all of them, not only the last page's, since
    a burst sharing one millisecond can span several pages. A window that ends where it began
    (more items in one millisecond than the pages reach) raises :class:`PaginationLimitError`.
    """
    params = dict(params)
    if date_filter:
        params.setdefault("order", "created_at")
    order = params.get("order")
    slide = None
    if date_filter and order in ("created_at", "-created_at"):
        slide = "after" if order == "created_at" else "before"
    walk = _Slide(slide) if slide else None
    page, previous = 1, set[Any]()
    while True:
        body = fetch(**params, page=page, limit=limit)
        items = _items(body, key)
        ids = _ids(items)
        if items and ids <= previous:
            raise PaginationStalledError(f"Page {page} of {key} repeats the previous page.")
        for item in items:
            if walk is None or walk.fresh(item):
                yield item
        if len(items) < limit:
            return
        previous = ids
        if page < max_page:
            page += 1
            continue
        total = body.get("total")
        if isinstance(total, int) and total <= page * limit:
            return  # the window ends exactly on the last allowed page
        bound = walk.next_bound(items[-1]) if walk is not None and date_filter else None
        if bound is None or date_filter is None:
            raise PaginationLimitError(
                f"More {key} match than Voucherify pages through ({max_page} pages of {limit}); "
                "add filters (e.g. created_at) or iterate ordered by created_at."
            )
        window = dict(params.get(date_filter) or {})
        window[slide or "after"] = _format(bound)
        params[date_filter] = window
        page, previous = 1, set()


class _Slide:
    """The state of a ``created_at`` slide: what was yielded near the window's moving edge."""

    def __init__(self, direction: str) -> None:
        self.ascending = direction == "after"
        self.bound: datetime | None = None
        self.skip: set[Any] = set()  # ids already yielded at or beyond the current bound
        self.recent: dict[Any, datetime] = {}  # id -> created_at of the window's yielded items

    def fresh(self, item: dict[str, Any]) -> bool:
        """Whether ``item`` is new to the walk (and remember it); raises if the server ignored
        the window (an item on the wrong side of the bound would be a repeat or a gap)."""
        ident = item.get("id")
        if ident in self.skip:
            return False
        at = _created(item)
        if (
            at is not None
            and self.bound is not None
            and (at < self.bound if self.ascending else at > self.bound)
        ):
            raise PaginationStalledError("Voucherify answered items outside the created_at window asked for.")
        if at is not None:
            self.recent[ident] = at
        return True

    def next_bound(self, last_item: dict[str, Any]) -> datetime | None:
        """The next window's bound, just before the last item's instant; None when unknown.

        Raises PaginationLimitError when the window would not move on: a full window's items
        all share the millisecond the walk stands on (and, with an inclusive bound, the one
        before it)."""
        last = _created(last_item)
        if last is None:
            return None
        bound = last - ONE_MS if self.ascending else last + ONE_MS
        if self.bound is not None and (bound <= self.bound if self.ascending else bound >= self.bound):
            raise PaginationLimitError(
                f"More items share the instant {_format(last)} than Voucherify pages through; "
                "the created_at window cannot move past them."
            )
        self.skip = {
            ident for ident, at in self.recent.items() if (at >= bound if self.ascending else at <= bound)
        }
        self.recent = {ident: self.recent[ident] for ident in self.skip}
        self.bound = bound
        return bound


def iter_cursor(
    fetch: Fetch,
    key: str,
    *,
    params: dict[str, Any],
    limit: int = 100,
    cursor_param: str = "starting_after_id",
    cursor_field: str = "id",
) -> Iterator[dict[str, Any]]:
    """Yield every item, following ``more_starting_after`` while ``has_more`` is true.

    The cursor goes back as ``cursor_param``; when a page has no ``more_starting_after`` the
    last item's ``cursor_field`` stands in (its ``id`` for transactions, its ``created_at``
    for qualifications, whose cursor is a date)."""
    params = dict(params)
    previous: set[Any] = set()
    while True:
        body = fetch(**params, limit=limit)
        items = _items(body, key)
        if _stalled(items, previous, set()):
            raise PaginationStalledError(f"The {key} cursor did not move.")
        yield from items
        cursor = body.get("more_starting_after") or (items[-1].get(cursor_field) if items else None)
        if not body.get("has_more") or not cursor or cursor == params.get(cursor_param):
            return
        previous = _ids(items)
        params[cursor_param] = cursor


def iter_by_date(
    fetch: Fetch, key: str, *, cursor_param: str, params: dict[str, Any], limit: int = 100
) -> Iterator[dict[str, Any]]:
    """Yield every item of a newest-first list, moving ``cursor_param`` (an upper date bound,
    e.g. async actions' ``end_date``) back page by page.

    The bound is set one millisecond after the last item's ``created_at`` (so items sharing that
    instant are not lost, whether the API's bound is inclusive or not) and the items of the
    previous page met again are skipped by id. A full page sharing one instant cannot be paged
    past: that raises :class:`PaginationLimitError` instead of silently stopping.
    """
    params = dict(params)
    previous: set[Any] = set()
    while True:
        body = fetch(**params, limit=limit)
        items = _items(body, key)
        fresh = [item for item in items if item.get("id") not in previous]
        if items and not fresh:
            stamps = {item.get("created_at") for item in items}
            if len(stamps) == 1 and len(items) >= limit:
                raise PaginationLimitError(
                    f"More than {limit} {key} share the instant {stamps.pop()}; "
                    "the date cursor cannot page past them."
                )
            raise PaginationStalledError(f"The {key} date cursor did not move.")
        yield from fresh
        if not items or not body.get("has_more", len(items) >= limit):
            return
        last = _parse(str(items[-1].get("created_at") or ""))
        if last is None:
            return
        previous = _ids(items)  # the next page starts with this one's last instant again
        params[cursor_param] = _format(last + ONE_MS)
