"""Iterators that walk every page of a list endpoint, however that endpoint pages.

Voucherify pages three ways, and each ``iterate*`` method of the resources picks one:

* :func:`iter_pages` - ``page``/``limit`` (vouchers, redemptions, orders). The API refuses pages
  past 99 (100 for orders); where the endpoint has a ``created_at`` filter and the walk is
  ordered by ``created_at``, the window slides on (``created_at[after]`` ascending,
  ``created_at[before]`` descending) from the last item seen. Otherwise a full last page raises
  :class:`PaginationLimitError` rather than silently dropping the rest.
* :func:`iter_cursor` - ``starting_after_id`` + ``has_more``/``more_starting_after``
  (voucher transactions, customer activity, customer redeemables).
* :func:`iter_by_date` - a date cursor taken from the last item's ``created_at`` (customers'
  ``starting_after``, async actions' ``end_date``).

A page that brings no item the walk has not just seen (a server or cache ignoring the paging
parameters) raises :class:`PaginationStalledError`: the walk never loops, never repeats an item,
and never ends short without saying so (a caller deleting local rows the walk did not see must
not mistake a stalled walk for a complete one).
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
    """``body[key]``, a list of objects (missing or null: empty), or InvalidResponseError: a
    page of another shape is not Voucherify's answer, and the walk must not end short or
    raise something else because of it."""
    items = body.get(key) if isinstance(body, dict) else body
    if items is None:
        return []
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
    walk does not depend on whether the API's bound is inclusive) and skips the items of the
    last page it has already yielded. Voucherify timestamps have millisecond precision.
    """
    params = dict(params)
    if date_filter:
        params.setdefault("order", "created_at")
    order = params.get("order")
    slide = None
    if date_filter and order in ("created_at", "-created_at"):
        slide = "after" if order == "created_at" else "before"
    page, previous, skip = 1, set[Any](), set[Any]()
    while True:
        body = fetch(**params, page=page, limit=limit)
        items = _items(body, key)
        if _stalled(items, previous, skip):
            raise PaginationStalledError(f"Page {page} of {key} repeats the previous page.")
        for item in items:
            if item.get("id") not in skip:
                yield item
        if len(items) < limit:
            return
        previous = _ids(items)
        if page < max_page:
            page += 1
            continue
        total = body.get("total")
        if isinstance(total, int) and total <= page * limit:
            return  # the window ends exactly on the last allowed page
        last = _parse(str(items[-1].get("created_at") or ""))
        if slide is None or last is None or date_filter is None:
            raise PaginationLimitError(
                f"More {key} match than Voucherify pages through ({max_page} pages of {limit}); "
                "add filters (e.g. created_at) or iterate ordered by created_at."
            )
        bound = last - ONE_MS if slide == "after" else last + ONE_MS
        skip = {
            item.get("id")
            for item in items
            if (at := _parse(str(item.get("created_at") or ""))) is not None
            and (at >= bound if slide == "after" else at <= bound)
        }
        window = dict(params.get(date_filter) or {})
        window[slide] = _format(bound)
        params[date_filter] = window
        page, previous = 1, set()


def iter_cursor(
    fetch: Fetch, key: str, *, params: dict[str, Any], limit: int = 100
) -> Iterator[dict[str, Any]]:
    """Yield every item, following ``more_starting_after`` while ``has_more`` is true."""
    params = dict(params)
    previous: set[Any] = set()
    while True:
        body = fetch(**params, limit=limit)
        items = _items(body, key)
        if _stalled(items, previous, set()):
            raise PaginationStalledError(f"The {key} cursor did not move.")
        yield from items
        cursor = body.get("more_starting_after") or (items[-1].get("id") if items else None)
        if not body.get("has_more") or not cursor or cursor == params.get("starting_after_id"):
            return
        previous = _ids(items)
        params["starting_after_id"] = cursor


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
