"""The offers' ``iterate*`` methods walk several pages the way each endpoint pages: ``page``
and ``limit`` up to page 100 (and then say so), the promotion stacks' ``created_at`` window,
campaign transactions' cursor, and qualifications' date cursor carried in the request body.

The fake servers page a generated list as Voucherify documents it (test_paging.py's
``PageServer`` for the page-based lists).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any

import pytest

from django_voucherify.api import (
    InvalidResponseError,
    PaginationLimitError,
    PaginationStalledError,
)
from tests.api.offer_cases import CAMPAIGN, CAMPAIGN_ENC, PRODUCT, PRODUCT_ENC, QUALIFICATION, RULE, RULE_ENC
from tests.api.wire import API
from tests.support.paging import (
    PageServer,
    RunawayPagingError,
    assert_no_duplicates,
    ids,
    json_reply,
    query_of,
    ts,
    url_for,
)

#: Page-based iterators: (call, path, key). None of these endpoints has a ``created_at`` window
#: but the stacks, so past 100 pages of 100 they raise rather than stop short.
PAGED: dict[str, tuple[Callable[..., Iterator[dict[str, Any]]], str, str]] = {
    "campaigns": (lambda c, **q: c.campaigns.iterate(**q), "/v1/campaigns", "campaigns"),
    "tiers": (lambda c, **q: c.promotions.iterate_tiers(**q), "/v1/promotions/tiers", "tiers"),
    "validation rules": (lambda c, **q: c.validation_rules.iterate(**q), "/v1/validation-rules", "data"),
    "all assignments": (
        lambda c, **q: c.validation_rules.iterate_all_assignments(**q),
        "/v1/validation-rules-assignments",
        "data",
    ),
    "a rule's assignments": (
        lambda c, **q: c.validation_rules.iterate_assignments(RULE, **q),
        f"/v1/validation-rules/{RULE_ENC}/assignments",
        "data",
    ),
    "products": (lambda c, **q: c.products.iterate(**q), "/v1/products", "products"),
    "skus": (
        lambda c, **q: c.products.iterate_skus(PRODUCT, **q),
        f"/v1/products/{PRODUCT_ENC}/skus",
        "skus",
    ),
    "publications": (lambda c, **q: c.publications.iterate(**q), "/v1/publications", "publications"),
    "exports": (lambda c, **q: c.exports.iterate(**q), "/v1/exports", "exports"),
}


def things(count: int, prefix: str = "x") -> list[dict[str, Any]]:
    return [{"id": f"{prefix}_{n:06d}", "created_at": ts(n), "metadata": {"n": n}} for n in range(count)]


@pytest.mark.parametrize("name", sorted(PAGED))
def test_page_based_iterators_walk_every_page(client, mocked, name):
    call, path, key = PAGED[name]
    items = things(237)
    server = PageServer(key, items, max_page=100, default_order="created_at")
    mocked.add_callback("GET", url_for(path), callback=server)

    got = list(islice(call(client, order="created_at"), 1000))

    assert ids(got) == ids(items)
    assert got[5] == items[5]
    assert [q["page"] for q in server.queries] == ["1", "2", "3"]
    assert all(q["limit"] == "100" and q["order"] == "created_at" for q in server.queries)


@pytest.mark.parametrize("name", sorted(set(PAGED) - {"exports"}))
def test_more_than_100_pages_raise_instead_of_stopping_short(client, mocked, name):
    call, path, key = PAGED[name]
    items = things(10_001)
    server = PageServer(key, items, max_page=100, default_order="created_at")
    mocked.add_callback("GET", url_for(path), callback=server)

    seen: list[dict[str, Any]] = []
    with pytest.raises(PaginationLimitError):
        seen.extend(call(client, order="created_at"))
    assert len(seen) == 10_000 and len(server.queries) == 100


def test_exactly_100_full_pages_end_without_error(client, mocked):
    items = things(10_000)
    server = PageServer("publications", items, max_page=100, default_order="created_at")
    mocked.add_callback("GET", url_for("/v1/publications"), callback=server)
    assert len(list(client.publications.iterate(order="created_at"))) == 10_000


def test_promotion_stacks_slide_their_created_at_window_past_page_100(client, mocked):
    items = things(10_150, prefix="stack")
    server = PageServer("data", items, max_page=100, default_order="created_at")
    mocked.add_callback("GET", url_for("/v1/promotions/stacks"), callback=server)

    got = list(client.promotions.iterate_stacks())

    assert_no_duplicates(got)
    assert ids(got) == ids(items)
    assert [q["page"] for q in server.queries[:100]] == [str(n) for n in range(1, 101)]
    assert server.queries[100]["page"] == "1" and "created_at[after]" in server.queries[100]


def test_a_page_server_ignoring_page_stalls_the_walk(client, mocked):
    full = {"object": "list", "campaigns": things(100), "total": 500}
    mocked.add("GET", url_for("/v1/campaigns"), json=full)
    with pytest.raises(PaginationStalledError):
        list(client.campaigns.iterate())


class CursorServer:
    """``starting_after_id`` -> ``has_more`` + ``more_starting_after`` (campaign transactions)."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.queries: list[dict[str, str]] = []

    def __call__(self, request: Any) -> tuple[int, dict[str, str], str]:
        query = query_of(request)
        self.queries.append(query)
        if len(self.queries) > 50:
            raise RunawayPagingError("the cursor walk does not end")
        limit = int(query.get("limit", "10"))
        start = 0
        if "starting_after_id" in query:
            start = ids(self.items).index(query["starting_after_id"]) + 1
        page = self.items[start : start + limit]
        has_more = start + limit < len(self.items)
        return json_reply(
            {
                "object": "list",
                "data_ref": "data",
                "data": page,
                "has_more": has_more,
                "more_starting_after": page[-1]["id"] if has_more else None,
            }
        )


def test_campaign_transactions_follow_the_cursor(client, mocked):
    items = things(250, prefix="vtx")
    server = CursorServer(items)
    mocked.add_callback("GET", url_for(f"/v1/campaigns/{CAMPAIGN_ENC}/transactions"), callback=server)

    got = list(client.campaigns.iterate_transactions(CAMPAIGN, order="id"))

    assert ids(got) == ids(items)
    assert [q.get("starting_after_id") for q in server.queries] == [None, "vtx_000099", "vtx_000199"]
    assert all(q["order"] == "id" and q["limit"] == "100" for q in server.queries)


class QualificationServer:
    """``POST /v1/qualifications``: newest first, ``options.limit`` (at most 50) a page, the
    next page from ``options.starting_after`` (a ``created_at``: strictly older items)."""

    def __init__(self, items: list[dict[str, Any]], *, cursor: bool = True) -> None:
        self.items = sorted(items, key=lambda i: i["created_at"], reverse=True)
        self.cursor = cursor  # False: answer without more_starting_after
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: Any) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body)
        self.bodies.append(body)
        if len(self.bodies) > 50:
            raise RunawayPagingError("the qualifications walk does not end")
        options = body.get("options") or {}
        limit = options.get("limit", 5)
        if limit > 50:
            return json_reply({"code": 400, "key": "invalid_payload", "message": "limit"}, 400)
        after = options.get("starting_after")
        selected = [i for i in self.items if after is None or i["created_at"] < after]
        page = selected[:limit]
        has_more = len(selected) > limit
        redeemables: dict[str, Any] = {"object": "list", "data_ref": "data", "data": page, "total": len(page)}
        redeemables["has_more"] = has_more
        if self.cursor and has_more:
            redeemables["more_starting_after"] = page[-1]["created_at"]
        return json_reply({"redeemables": redeemables, "tracking_id": "track_1", "order": {"amount": 1}})


@pytest.mark.parametrize("cursor", [True, False], ids=["more_starting_after", "last-created_at"])
def test_qualifications_walk_every_redeemable_50_at_a_time(client, mocked, cursor):
    items = [
        {"id": f"promo_{n:04d}", "object": "promotion_tier", "created_at": ts(n), "result": {"discount": {}}}
        for n in range(120)
    ]
    server = QualificationServer(items, cursor=cursor)
    mocked.add_callback("POST", url_for("/v1/qualifications"), callback=server)

    got = list(client.qualifications.iterate(QUALIFICATION))

    assert_no_duplicates(got)
    assert ids(got) == ids(server.items)
    assert len(server.bodies) == 3
    for sent in server.bodies:
        assert {k: v for k, v in sent.items() if k != "options"} == {
            k: v for k, v in QUALIFICATION.items() if k != "options"
        }
        assert sent["options"]["limit"] == 50
        assert sent["options"]["expand"] == QUALIFICATION["options"]["expand"]
        assert sent["options"]["filters"] == QUALIFICATION["options"]["filters"]
    assert "starting_after" not in server.bodies[0]["options"]
    assert [b["options"].get("starting_after") for b in server.bodies[1:]] == [ts(70), ts(20)]


def test_qualifications_keep_the_callers_limit_and_starting_point(client, mocked):
    items = [{"id": f"v_{n}", "created_at": ts(n)} for n in range(30)]
    server = QualificationServer(items)
    mocked.add_callback("POST", url_for("/v1/qualifications"), callback=server)
    request = copy.deepcopy(QUALIFICATION)
    request["options"] = {"limit": 10, "starting_after": ts(25)}

    got = list(client.qualifications.iterate(request))

    assert ids(got) == [f"v_{n}" for n in range(24, -1, -1)]
    assert [b["options"]["limit"] for b in server.bodies] == [10, 10, 10]
    assert request["options"] == {"limit": 10, "starting_after": ts(25)}  # the caller's, unchanged


def test_qualifications_whose_cursor_does_not_move_stall(client, mocked):
    page = {
        "redeemables": {
            "data": [{"id": "v_1", "created_at": ts(1)}],
            "has_more": True,
            "more_starting_after": ts(0),
        }
    }
    mocked.add("POST", url_for("/v1/qualifications"), json=page)
    with pytest.raises(PaginationStalledError):
        list(islice(client.qualifications.iterate({"scenario": "ALL"}), 10))


@pytest.mark.parametrize("redeemables", [[{"id": "v_1"}], "none", 5])
def test_qualifications_of_another_shape_are_an_invalid_response(client, mocked, redeemables):
    mocked.add("POST", url_for("/v1/qualifications"), json={"redeemables": redeemables})
    with pytest.raises(InvalidResponseError):
        list(client.qualifications.iterate({"scenario": "ALL"}))


def test_no_redeemables_at_all_is_an_invalid_response_not_an_empty_walk(client, mocked):
    # Voucherify sends ``redeemables`` (an empty list when nothing qualifies): an answer without
    # it is a gateway's, not "nothing qualifies" (test_paging_list_shapes.py: every walk).
    mocked.add("POST", url_for("/v1/qualifications"), json={"tracking_id": "t"})
    with pytest.raises(InvalidResponseError):
        list(client.qualifications.iterate({"scenario": "ALL"}))


def test_iterators_forward_the_callers_filters_on_every_page(client, mocked):
    server = PageServer("publications", things(150), max_page=100, default_order="created_at")
    mocked.add_callback("GET", re.compile(re.escape(API) + r"/v1/publications.*"), callback=server)
    list(client.publications.iterate(order="created_at", campaign="Welcome", result="SUCCESS"))
    assert len(server.queries) == 2
    assert all(q["campaign"] == "Welcome" and q["result"] == "SUCCESS" for q in server.queries)
