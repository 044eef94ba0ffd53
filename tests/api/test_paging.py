"""``iterate*()`` walk every page, however the endpoint pages, and never loop forever.

The fake servers (page-based: tests/support/paging.py; the cursors: below) serve from a
generated list the way Voucherify pages each endpoint:

* page-based (vouchers, redemptions: ``page`` 1..99; orders: 1..100; 400 beyond), ordered by
  ``order``, filtered by ``created_at[before|after]``;
* cursor (``starting_after_id`` -> ``has_more`` + ``more_starting_after``) for voucher
  transactions, customer activity and customer redeemables;
* date cursor: customers' ``starting_after`` (ascending with ``order=created_at``), async
  actions' ``end_date`` (newest first).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

import pytest

from django_voucherify.api import PaginationStalledError, VoucherifyClient
from tests.support.paging import (
    MAX_REQUESTS,
    PageServer,
    RunawayPagingError,
    assert_no_duplicates,
    bad_request,
    ids,
    json_reply,
    query_of,
    ts,
    url_for,
)


def plus_ms(stamp: str) -> str:
    """``stamp`` plus one millisecond, in the same format."""
    moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC) + timedelta(milliseconds=1)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# --- page-based ---------------------------------------------------------------------------------


def vouchers(count: int, ties: range = range(0)) -> list[dict[str, Any]]:
    """``count`` vouchers, one second apart, except that those in ``ties`` share a timestamp."""
    out = []
    for n in range(count):
        second = ties.start if n in ties else n
        out.append(
            {
                "id": f"v_{n:06d}",
                "code": f"CODE-{n:06d}",
                "object": "voucher",
                "created_at": ts(second),
                "metadata": {"n": n},
            }
        )
    return out


@pytest.mark.parametrize("after_inclusive", [True, False], ids=["after-inclusive", "after-exclusive"])
def test_vouchers_slide_past_page_99_without_gaps_or_duplicates(client, mocked, after_inclusive):
    """10,250 vouchers: 99 pages of 100, then the window slides with ``created_at[after]``.

    Vouchers 9,897..9,904 share one timestamp, straddling the end of page 99 (index 9,899).
    Whether the API's ``after`` bound includes that instant or not, every voucher must come
    out exactly once (the spec does not say; a robust walk does not depend on it)."""
    items = vouchers(10_250, ties=range(9_897, 9_905))
    server = PageServer("vouchers", items, max_page=99, after_inclusive=after_inclusive)
    mocked.add_callback("GET", url_for("/v1/vouchers"), callback=server)

    got = list(islice(client.vouchers.iterate(category="summer"), 20_000))

    assert_no_duplicates(got)
    assert ids(got) == ids(items)  # complete and oldest first
    assert got[0] == items[0]  # items come back untouched
    pages = [q.get("page") for q in server.queries]
    assert pages[:99] == [str(p) for p in range(1, 100)]
    assert all(int(p) <= 99 for p in pages)
    assert all(q["category"] == "summer" and q["order"] == "created_at" for q in server.queries)
    assert all(q["limit"] == "100" for q in server.queries)
    # After the slide: page 1 again, from the boundary timestamp (or just before it).
    slid = server.queries[99]
    assert slid["page"] == "1"
    assert slid["created_at[after]"] <= ts(9_897)
    assert len(server.queries) <= 99 + 5


def test_vouchers_slide_keeps_callers_before_bound(client, mocked):
    items = vouchers(10_050)
    server = PageServer("vouchers", items, max_page=99)
    mocked.add_callback("GET", url_for("/v1/vouchers"), callback=server)

    got = list(islice(client.vouchers.iterate(created_at={"before": ts(10_020)}), 20_000))

    assert ids(got) == ids(items[:10_020])
    assert all(q["created_at[before]"] == ts(10_020) for q in server.queries)
    assert "created_at[after]" in server.queries[-1]


def test_vouchers_newest_first_past_page_99(client, mocked):
    """The caller asks for ``order="-created_at"``: sliding with ``created_at[after]`` would
    restart at the newest voucher. The walk must still give every voucher exactly once (or
    refuse the order up front with ValueError), never repeat or loop."""
    items = vouchers(10_150)
    server = PageServer("vouchers", items, max_page=99)
    mocked.add_callback("GET", url_for("/v1/vouchers"), callback=server)

    try:
        got = list(islice(client.vouchers.iterate(order="-created_at"), 30_000))
    except ValueError:
        assert server.queries == []
        return
    assert_no_duplicates(got)
    assert sorted(ids(got)) == ids(items)


def test_vouchers_exactly_full_last_page(client, mocked):
    items = vouchers(300)
    server = PageServer("vouchers", items, max_page=99)
    mocked.add_callback("GET", url_for("/v1/vouchers"), callback=server)

    assert ids(client.vouchers.iterate()) == ids(items)
    assert [q["page"] for q in server.queries] == ["1", "2", "3", "4"]


def test_vouchers_empty_list(client, mocked):
    server = PageServer("vouchers", [], max_page=99)
    mocked.add_callback("GET", url_for("/v1/vouchers"), callback=server)
    assert list(client.vouchers.iterate()) == []
    assert len(server.queries) == 1


def test_redemptions_walk_pages_with_callers_filters(client, mocked):
    items = [
        {"id": f"r_{n:04d}", "object": "redemption", "result": "SUCCESS", "created_at": ts(n)}
        for n in range(250)
    ]
    server = PageServer("redemptions", items, max_page=99)
    mocked.add_callback("GET", url_for("/v1/redemptions"), callback=server)

    got = list(
        client.redemptions.iterate(result="SUCCESS", filters={"voucher_code": {"conditions": {"$is": "X"}}})
    )

    assert got == items
    assert [q["page"] for q in server.queries] == ["1", "2", "3"]
    for q in server.queries:
        assert q["result"] == "SUCCESS"
        assert q["filters[voucher_code][conditions][$is]"] == "X"


def test_redemptions_slide_past_page_99(client, mocked):
    items = [{"id": f"r_{n:06d}", "object": "redemption", "created_at": ts(n)} for n in range(9_950)]
    server = PageServer("redemptions", items, max_page=99)
    mocked.add_callback("GET", url_for("/v1/redemptions"), callback=server)

    got = list(islice(client.redemptions.iterate(), 20_000))

    assert ids(got) == ids(items)
    assert all(int(q["page"]) <= 99 for q in server.queries)


def test_orders_walk_all_100_pages(client, mocked):
    """Orders allow page 100 (``ParameterPage``), unlike vouchers and redemptions."""
    items = [{"id": f"ord_{n:05d}", "object": "order", "created_at": ts(n)} for n in range(10_000)]
    server = PageServer("orders", items, max_page=100, default_order="created_at")
    mocked.add_callback("GET", url_for("/v1/orders"), callback=server)

    got = list(islice(client.orders.iterate(), 20_000))

    assert ids(got) == ids(items)
    assert [q["page"] for q in server.queries][:100] == [str(p) for p in range(1, 101)]


def test_orders_beyond_the_page_cap_are_not_dropped_silently(client, mocked):
    """10,001 orders do not fit in 100 pages of 100 and list-orders has no date filter:
    the iterator must either deliver them all or fail loudly, never stop short in silence."""
    items = [{"id": f"ord_{n:05d}", "object": "order", "created_at": ts(n)} for n in range(10_001)]
    server = PageServer("orders", items, max_page=100, default_order="created_at")
    mocked.add_callback("GET", url_for("/v1/orders"), callback=server)

    got: list[dict[str, Any]] = []
    failed = None
    try:
        for item in islice(client.orders.iterate(), 20_000):
            got.append(item)
    except RunawayPagingError:
        raise
    except Exception as exc:
        failed = exc
    assert failed is not None or ids(got) == ids(items), (
        f"iterate() stopped after {len(got)} of {len(items)} orders without an error"
    )


def test_page_based_walk_stops_when_server_repeats_the_same_page(client, mocked):
    """A server (or proxy cache) ignoring ``page`` and ``created_at`` keeps serving one full
    page: the walk must end, and must not hand out the same voucher twice."""
    page = vouchers(100)
    calls: list[str] = []

    def same_page(request: Any) -> tuple[int, dict[str, str], str]:
        calls.append(request.url)
        if len(calls) > MAX_REQUESTS:
            raise RunawayPagingError(f"{len(calls)} requests for one repeated page")
        return json_reply({"object": "list", "vouchers": page, "total": 100_000})

    mocked.add_callback("GET", url_for("/v1/vouchers"), callback=same_page)

    got: list[dict[str, Any]] = []
    with pytest.raises(PaginationStalledError):  # loudly, not a silent short walk
        for item in islice(client.vouchers.iterate(), 50_000):
            got.append(item)

    assert_no_duplicates(got)
    assert ids(got) == ids(page)


# --- cursor (starting_after_id) ---------------------------------------------------------------


class CursorServer:
    """``starting_after_id`` cursor; ``more_starting_after`` optional (falls back to last id)."""

    def __init__(self, items: list[dict[str, Any]], *, send_cursor: bool = True) -> None:
        self.items = items
        self.send_cursor = send_cursor
        self.queries: list[dict[str, str]] = []

    def __call__(self, request: Any) -> tuple[int, dict[str, str], str]:
        query = query_of(request)
        self.queries.append(query)
        if len(self.queries) > MAX_REQUESTS:
            raise RunawayPagingError(f"{len(self.queries)} requests")
        limit = int(query.get("limit", "10"))
        if not 1 <= limit <= 100:
            return bad_request(f"limit {limit}")
        start = 0
        if "starting_after_id" in query:
            position = [i["id"] for i in self.items].index(query["starting_after_id"])
            start = position + 1
        chunk = self.items[start : start + limit]
        has_more = start + limit < len(self.items)
        body: dict[str, Any] = {"object": "list", "data_ref": "data", "data": chunk, "has_more": has_more}
        if self.send_cursor:
            body["more_starting_after"] = chunk[-1]["id"] if has_more else None
        return json_reply(body)


CURSOR_CASES: dict[str, tuple[str, Callable[[VoucherifyClient], Any]]] = {
    "voucher-transactions": (
        "/v1/vouchers/GIFT%2F1/transactions",
        lambda c: c.vouchers.iterate_transactions("GIFT/1", order="-id"),
    ),
    "customer-activity": (
        "/v1/customers/cust%40shop/activity",
        lambda c: c.customers.iterate_activity("cust@shop", order="-id"),
    ),
    "customer-redeemables": (
        "/v1/customers/cust%40shop/redeemables",
        lambda c: c.customers.iterate_redeemables("cust@shop", order="-id"),
    ),
}


@pytest.mark.parametrize("send_cursor", [True, False], ids=["more_starting_after", "last-id"])
@pytest.mark.parametrize("name", sorted(CURSOR_CASES))
def test_cursor_walk(client, mocked, name, send_cursor):
    path, start = CURSOR_CASES[name]
    items = [{"id": f"x_{n:05d}", "object": "item", "amount": n} for n in range(345)]
    server = CursorServer(items, send_cursor=send_cursor)
    mocked.add_callback("GET", url_for(path), callback=server)

    got = list(islice(start(client), 5_000))

    assert got == items
    assert len(server.queries) == 4
    assert "starting_after_id" not in server.queries[0]
    assert [q.get("starting_after_id") for q in server.queries[1:]] == ["x_00099", "x_00199", "x_00299"]
    assert all(q["order"] == "-id" and q["limit"] == "100" for q in server.queries)


def test_cursor_walk_stops_on_has_more_false_even_with_a_full_page(client, mocked):
    items = [{"id": f"x_{n:05d}"} for n in range(100)]
    server = CursorServer(items)
    mocked.add_callback("GET", url_for("/v1/vouchers/G/transactions"), callback=server)
    assert list(client.vouchers.iterate_transactions("G")) == items
    assert len(server.queries) == 1


@pytest.mark.parametrize("name", sorted(CURSOR_CASES))
def test_cursor_walk_stops_when_server_repeats_the_same_page(client, mocked, name):
    """``has_more`` stays true and the cursor never moves: stop, and yield each item once."""
    path, start = CURSOR_CASES[name]
    page = [{"id": f"x_{n:05d}"} for n in range(100)]
    calls: list[str] = []

    def same_page(request: Any) -> tuple[int, dict[str, str], str]:
        calls.append(request.url)
        if len(calls) > MAX_REQUESTS:
            raise RunawayPagingError(f"{len(calls)} requests for one repeated page")
        return json_reply(
            {"object": "list", "data": page, "has_more": True, "more_starting_after": page[-1]["id"]}
        )

    mocked.add_callback("GET", url_for(path), callback=same_page)

    got: list[dict[str, Any]] = []
    with pytest.raises(PaginationStalledError):  # loudly, not a silent short walk
        for item in islice(start(client), 50_000):
            got.append(item)

    assert_no_duplicates(got)
    assert got == page


# --- date cursor -----------------------------------------------------------------------------


def customers(count: int, ties: range = range(0)) -> list[dict[str, Any]]:
    return [
        {
            "id": f"cust_{n:05d}",
            "source_id": f"shop-{n}",
            "object": "customer",
            "created_at": ts(ties.start if n in ties else n),
        }
        for n in range(count)
    ]


@pytest.mark.parametrize("after_inclusive", [True, False], ids=["after-inclusive", "after-exclusive"])
def test_customers_slide_past_page_99_without_gaps_or_duplicates(client, mocked, after_inclusive):
    """10,120 customers (list-customers caps ``page`` at 99): pages of 100 within a
    ``created_at[after]`` window, slid on past page 99; ties at the boundary are kept once."""
    items = customers(10_120, ties=range(9_897, 9_905))
    server = PageServer("customers", items, max_page=99, after_inclusive=after_inclusive)
    mocked.add_callback("GET", url_for("/v1/customers"), callback=server)

    got = list(islice(client.customers.iterate(city="Berlin"), 20_000))

    assert_no_duplicates(got)
    assert ids(got) == ids(items)
    assert all(
        q["city"] == "Berlin" and q["limit"] == "100" and q["order"] == "created_at" for q in server.queries
    )
    assert all(int(q["page"]) <= 99 for q in server.queries)
    assert server.queries[99]["page"] == "1" and "created_at[after]" in server.queries[99]


def test_customers_sharing_one_instant_are_all_walked(client, mocked):
    """250 customers created in the same millisecond (one bulk import): pages within the
    window get them all; a date cursor alone could not."""
    items = customers(250, ties=range(0, 250))
    server = PageServer("customers", items, max_page=99, after_inclusive=False)
    mocked.add_callback("GET", url_for("/v1/customers"), callback=server)

    got = list(islice(client.customers.iterate(), 5_000))

    assert_no_duplicates(got)
    assert ids(got) == ids(items)


def test_customers_walk_stops_when_server_repeats_the_same_page(client, mocked):
    page = customers(100)
    calls: list[str] = []

    def same_page(request: Any) -> tuple[int, dict[str, str], str]:
        calls.append(request.url)
        if len(calls) > MAX_REQUESTS:
            raise RunawayPagingError(f"{len(calls)} requests for one repeated page")
        return json_reply({"object": "list", "customers": page, "has_more": True})

    mocked.add_callback("GET", url_for("/v1/customers"), callback=same_page)

    got: list[dict[str, Any]] = []
    with pytest.raises(PaginationStalledError):  # loudly, not a silent short walk
        for item in islice(client.customers.iterate(), 50_000):
            got.append(item)

    assert_no_duplicates(got)
    assert ids(got) == ids(page)


class AsyncActionsServer:
    """``GET /v1/async-actions``: newest first, ``end_date`` keeps those created before it."""

    def __init__(self, items: list[dict[str, Any]], *, inclusive: bool = False) -> None:
        self.items = sorted(items, key=lambda i: i["created_at"], reverse=True)
        self.inclusive = inclusive
        self.queries: list[dict[str, str]] = []

    def __call__(self, request: Any) -> tuple[int, dict[str, str], str]:
        query = query_of(request)
        self.queries.append(query)
        if len(self.queries) > MAX_REQUESTS:
            raise RunawayPagingError(f"{len(self.queries)} requests")
        limit = int(query.get("limit", "10"))
        if not 1 <= limit <= 100:
            return bad_request(f"limit {limit}")
        end = query.get("end_date")
        selected = [
            i
            for i in self.items
            if end is None or i["created_at"] < end or (self.inclusive and i["created_at"] == end)
        ]
        return json_reply(
            {
                "object": "list",
                "data_ref": "async_actions",
                "async_actions": selected[:limit],
                "has_more": len(selected) > limit,
            }
        )


def test_async_actions_walk_back_with_end_date(client, mocked):
    items = [
        {
            "id": f"aa_{n:05d}",
            "object": "async_action",
            "type": "CUSTOMERS.IMPORT_CSV",
            "status": "DONE",
            "created_at": ts(n * 2),
        }
        for n in range(333)
    ]
    server = AsyncActionsServer(items)
    mocked.add_callback("GET", url_for("/v1/async-actions"), callback=server)

    got = list(islice(client.async_actions.iterate(), 5_000))

    assert ids(got) == ids(server.items)  # newest first, all of them
    assert "end_date" not in server.queries[0]
    # Each next page ends just after the previous page's last instant (ties there are kept).
    assert server.queries[1]["end_date"] == plus_ms(server.items[99]["created_at"])
    assert len(server.queries) <= 5


@pytest.mark.parametrize("inclusive", [True, False], ids=["end-inclusive", "end-exclusive"])
def test_async_actions_sharing_an_instant_at_the_page_edge_are_not_lost(client, mocked, inclusive):
    items = [
        {
            "id": f"aa_{n:05d}",
            "object": "async_action",
            "created_at": ts(n * 2 if not 140 <= n < 170 else 280),
        }
        for n in range(333)
    ]
    server = AsyncActionsServer(items, inclusive=inclusive)
    mocked.add_callback("GET", url_for("/v1/async-actions"), callback=server)

    got = list(islice(client.async_actions.iterate(), 5_000))

    assert_no_duplicates(got)
    assert sorted(ids(got)) == sorted(ids(items))


def test_async_actions_full_page_in_one_instant_raises(client, mocked):
    from django_voucherify.api import PaginationLimitError

    items = [{"id": f"aa_{n:05d}", "created_at": ts(5)} for n in range(150)]
    server = AsyncActionsServer(items)
    mocked.add_callback("GET", url_for("/v1/async-actions"), callback=server)

    with pytest.raises(PaginationLimitError):
        list(islice(client.async_actions.iterate(), 5_000))


def test_async_actions_walk_stops_when_server_repeats_the_same_page(client, mocked):
    page = [{"id": f"aa_{n:05d}", "created_at": ts(1000 - n)} for n in range(100)]
    calls: list[str] = []

    def same_page(request: Any) -> tuple[int, dict[str, str], str]:
        calls.append(request.url)
        if len(calls) > MAX_REQUESTS:
            raise RunawayPagingError(f"{len(calls)} requests for one repeated page")
        return json_reply({"object": "list", "async_actions": page, "has_more": True})

    mocked.add_callback("GET", url_for("/v1/async-actions"), callback=same_page)

    got: list[dict[str, Any]] = []
    with pytest.raises(PaginationStalledError):  # loudly, not a silent short walk
        for item in islice(client.async_actions.iterate(), 50_000):
            got.append(item)

    assert_no_duplicates(got)
    assert ids(got) == ids(page)


def test_iterators_are_lazy(client, mocked):
    """Nothing is fetched until the first item is asked for, and only the pages needed."""
    items = vouchers(1_000)
    server = PageServer("vouchers", items, max_page=99)
    mocked.add_callback("GET", url_for("/v1/vouchers"), callback=server)

    walk = client.vouchers.iterate()
    assert server.queries == []
    assert ids(islice(walk, 150)) == ids(items[:150])
    assert len(server.queries) == 2
