"""Every ``iterate*()`` walk reads "nothing there" only from a real, empty list: a 2xx page
without its list (the key missing, or null: a gateway's or a proxy's ``{}``) raises
:class:`InvalidResponseError`, whether it is the first page or a later one.

Voucherify always sends the list (``data_ref`` names it; the sandbox's lists do the same),
empty when nothing matches; the vendored spec marks no response field required, for lists or
anything else, so it allows no exception. Old code read such a page as an empty one (all but
``redemptions.iterate(strict=True)``): the walk ended as if complete, and its callers concluded
that nothing was there (a balance change never applied, no async action to adopt, a rule with
no assignment, an empty pull).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from django_voucherify.api import InvalidResponseError, VoucherifyClient
from tests.support.paging import json_reply, ts, url_for


@dataclass(frozen=True)
class Walk:
    method: str
    path: str
    key: str  # the list's key in the page (qualifications: in ``redeemables``)
    start: Callable[[VoucherifyClient], Iterator[dict[str, Any]]]


def _page(walk: Walk, items: list[dict[str, Any]] | None, **more: Any) -> dict[str, Any]:
    """A page of ``walk`` with ``items`` as its list (None: null), as Voucherify shapes it."""
    page = {"object": "list", "data_ref": walk.key, walk.key: items, **more}
    return {"redeemables": page} if walk.path == "/v1/qualifications" else page


WALKS: dict[str, Walk] = {
    "vouchers": Walk("GET", "/v1/vouchers", "vouchers", lambda c: c.vouchers.iterate()),
    "redemptions": Walk("GET", "/v1/redemptions", "redemptions", lambda c: c.redemptions.iterate()),
    "orders": Walk("GET", "/v1/orders", "orders", lambda c: c.orders.iterate()),
    "customers": Walk("GET", "/v1/customers", "customers", lambda c: c.customers.iterate()),
    "campaigns": Walk("GET", "/v1/campaigns", "campaigns", lambda c: c.campaigns.iterate()),
    "tiers": Walk("GET", "/v1/promotions/tiers", "tiers", lambda c: c.promotions.iterate_tiers()),
    "stacks": Walk("GET", "/v1/promotions/stacks", "data", lambda c: c.promotions.iterate_stacks()),
    "rules": Walk("GET", "/v1/validation-rules", "data", lambda c: c.validation_rules.iterate()),
    "all-assignments": Walk(
        "GET",
        "/v1/validation-rules-assignments",
        "data",
        lambda c: c.validation_rules.iterate_all_assignments(),
    ),
    "rule-assignments": Walk(
        "GET",
        "/v1/validation-rules/val_1/assignments",
        "data",
        lambda c: c.validation_rules.iterate_assignments("val_1"),
    ),
    "products": Walk("GET", "/v1/products", "products", lambda c: c.products.iterate()),
    "skus": Walk("GET", "/v1/products/prod_1/skus", "skus", lambda c: c.products.iterate_skus("prod_1")),
    "publications": Walk("GET", "/v1/publications", "publications", lambda c: c.publications.iterate()),
    "exports": Walk("GET", "/v1/exports", "exports", lambda c: c.exports.iterate()),
    "async-actions": Walk("GET", "/v1/async-actions", "async_actions", lambda c: c.async_actions.iterate()),
    "voucher-transactions": Walk(
        "GET", "/v1/vouchers/G1/transactions", "data", lambda c: c.vouchers.iterate_transactions("G1")
    ),
    "campaign-transactions": Walk(
        "GET",
        "/v1/campaigns/camp_1/transactions",
        "data",
        lambda c: c.campaigns.iterate_transactions("camp_1"),
    ),
    "customer-activity": Walk(
        "GET", "/v1/customers/cust_1/activity", "data", lambda c: c.customers.iterate_activity("cust_1")
    ),
    "customer-redeemables": Walk(
        "GET", "/v1/customers/cust_1/redeemables", "data", lambda c: c.customers.iterate_redeemables("cust_1")
    ),
    "qualifications": Walk(
        "POST", "/v1/qualifications", "data", lambda c: c.qualifications.iterate({"scenario": "ALL"})
    ),
}

#: Pages without their list: the key missing (an empty object, an envelope without it), or null.
MISSING: dict[str, Callable[[Walk], Any]] = {
    "empty-object": lambda walk: {},
    "no-list": lambda walk: (
        {key: value for key, value in _page(walk, [], total=0, has_more=False).items() if key != walk.key}
        if walk.path != "/v1/qualifications"
        else {"redeemables": {"object": "list", "total": 0, "has_more": False}}
    ),
    "null": lambda walk: _page(walk, None, total=0, has_more=False),
}


def _serve(mocked: Any, walk: Walk, pages: list[Any]) -> list[Any]:
    """Answer ``walk``'s requests with ``pages`` in turn (the last one again and again)."""
    requests: list[Any] = []

    def reply(request: Any) -> tuple[int, dict[str, str], str]:
        requests.append(request)
        return json_reply(pages[min(len(requests), len(pages)) - 1])

    mocked.add_callback(walk.method, url_for(walk.path), callback=reply)
    return requests


def _full_page(walk: Walk, size: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``size`` items (newest first, as most lists are) and a page saying more follow."""
    items = [{"id": f"x_{n:05d}", "created_at": ts(1_000 - n)} for n in range(size)]
    return items, _page(walk, items, total=10 * size, has_more=True, more_starting_after=items[-1]["id"])


@pytest.mark.parametrize("shape", sorted(MISSING))
@pytest.mark.parametrize("name", sorted(WALKS))
def test_a_first_page_without_its_list_is_an_error_not_an_empty_walk(client, mocked, name, shape):
    walk = WALKS[name]
    requests = _serve(mocked, walk, [MISSING[shape](walk)])
    with pytest.raises(InvalidResponseError) as raised:
        list(walk.start(client))
    assert len(requests) == 1
    assert raised.value.status == 200 and repr(walk.key) in str(raised.value)


@pytest.mark.parametrize("name", sorted(WALKS))
def test_a_later_page_without_its_list_is_an_error_not_the_end(client, mocked, name):
    walk = WALKS[name]
    size = 50 if name == "qualifications" else 100  # a full page: the walk asks for the next
    items, first = _full_page(walk, size)
    requests = _serve(mocked, walk, [first, {}])
    got: list[dict[str, Any]] = []
    with pytest.raises(InvalidResponseError):
        for item in walk.start(client):
            got.append(item)
    assert got == items and len(requests) == 2  # what came before is yielded, then the error


@pytest.mark.parametrize("name", sorted(WALKS))
def test_an_empty_list_is_an_empty_walk(client, mocked, name):
    walk = WALKS[name]
    requests = _serve(mocked, walk, [_page(walk, [], total=0, has_more=False)])
    assert list(walk.start(client)) == []
    assert len(requests) == 1
