"""Iterators that walk every page of a list endpoint, however that endpoint pages.

Voucherify pages three ways, and each ``iter_*`` method of the resources picks one:

* :func:`iter_pages` - ``page``/``limit`` with a ``total`` (vouchers, redemptions, orders). The
  API refuses pages past 99 (100 for orders), so when a window is exhausted the walk continues
  with a ``created_at[after]`` filter from the last item seen, where the endpoint has one.
* :func:`iter_cursor` - ``starting_after_id`` + ``has_more``/``more_starting_after``
  (voucher transactions, customer activity, customer redeemables).
* :func:`iter_by_date` - a date cursor taken from the last item's ``created_at`` (customers'
  ``starting_after``, async actions' ``end_date``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

Page = dict[str, Any]
Fetch = Callable[..., Page]


def iter_pages(fetch: Fetch, key: str, *, params: dict[str, Any], limit: int = 100,
               max_page: int = 99, date_filter: str | None = None) -> Iterator[dict[str, Any]]:
    """Yield every item of ``page[key]`` across pages.

    ``date_filter`` names the deepObject filter (``created_at``) used to move past ``max_page``;
    results are then ordered by ``created_at`` so the window can slide forward without gaps.
    Items already yielded at the window's edge (same timestamp) are skipped by id.
    """
    params = dict(params)
    if date_filter:
        params.setdefault("order", "created_at")
    page = 1
    seen_at_edge: set[str] = set()
    while True:
        body = fetch(**params, page=page, limit=limit)
        items = body.get(key) or []
        for item in items:
            item_id = item.get("id")
            if item_id is not None and item_id in seen_at_edge:
                continue
            yield item
        if len(items) < limit:
            return
        if page < max_page:
            page += 1
            continue
        if not date_filter:
            return
        # Slide the window: restart at page 1 after the last timestamp seen.
        last_at = items[-1].get("created_at")
        if not last_at:
            return
        seen_at_edge = {i.get("id") for i in items if i.get("created_at") == last_at}
        window = dict(params.get(date_filter) or {})
        window["after"] = last_at
        params[date_filter] = window
        page = 1


def iter_cursor(fetch: Fetch, key: str, *, params: dict[str, Any],
                limit: int = 100) -> Iterator[dict[str, Any]]:
    """Yield every item, following ``more_starting_after`` while ``has_more`` is true."""
    params = dict(params)
    while True:
        body = fetch(**params, limit=limit)
        items = body.get(key) or []
        yield from items
        cursor = body.get("more_starting_after") or (items[-1].get("id") if items else None)
        if not body.get("has_more") or not cursor:
            return
        params["starting_after_id"] = cursor


def iter_by_date(fetch: Fetch, key: str, *, cursor_param: str, params: dict[str, Any],
                 limit: int = 100) -> Iterator[dict[str, Any]]:
    """Yield every item, passing the last item's ``created_at`` as ``cursor_param``.

    Items sharing the boundary timestamp are de-duplicated by id.
    """
    params = dict(params)
    seen_at_edge: set[str] = set()
    while True:
        body = fetch(**params, limit=limit)
        items = body.get(key) or []
        for item in items:
            if item.get("id") in seen_at_edge:
                continue
            yield item
        if not items or not body.get("has_more", len(items) >= limit):
            return
        last_at = items[-1].get("created_at")
        if not last_at:
            return
        edge = {i.get("id") for i in items if i.get("created_at") == last_at}
        if params.get(cursor_param) == last_at and edge <= seen_at_edge:
            return  # a whole page at one timestamp: the cursor cannot move, stop, don't loop
        seen_at_edge = edge if params.get(cursor_param) != last_at else seen_at_edge | edge
        params[cursor_param] = last_at
