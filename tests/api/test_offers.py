"""The offers' client (SCOPE-2.md): the spec's example answers parse (and iterate), errors are
typed, and ids that would turn a path into another operation's are refused. Paging over
several pages is test_offer_paging.py's.

The wire format of each call (method, percent-encoded path, query, body against the request
schema) is test_endpoints.py's table; this module is about what comes back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any

import pytest

from django_voucherify.api import (
    APIError,
    BadRequestError,
    ConflictError,
    InvalidResponseError,
    NotFoundError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    VoucherifyClient,
)
from django_voucherify.sandbox.openapi import scope, scope_all, voucherify_spec
from tests.api.offer_cases import (
    CAMPAIGN,
    CAMPAIGN_ENC,
    OFFER_CASES,
    PRODUCT,
    QUALIFICATION,
    RULE,
)
from tests.api.wire import ANY_URL, API

OFFERS = sorted({op for op, _, _ in scope_all()} - {op for op, _, _ in scope()} | {"list-exports"})


def test_the_offers_are_the_60_operations_beyond_the_first_part():
    assert len(OFFERS) == 61  # 60, and list-exports for its new iterator
    assert set(OFFERS) - {"list-exports"} <= set(OFFER_CASES)


# --- the spec's example answers ----------------------------------------------------------------


def spec_operation(operation_id: str) -> dict[str, Any]:
    for item in voucherify_spec()["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                return operation
    raise KeyError(operation_id)


def resolve(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = voucherify_spec()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def success_examples(operation_id: str) -> list[tuple[int, Any]]:
    """``(status, example)`` of every JSON example the spec gives for the operation's 2xx."""
    out = []
    for status, answer in spec_operation(operation_id)["responses"].items():
        if not status.startswith("2"):
            continue
        media = (answer.get("content") or {}).get("application/json") or {}
        if "example" in media:
            out.append((int(status), media["example"]))
        out += [
            (int(status), resolve(example)["value"]) for example in (media.get("examples") or {}).values()
        ]
    return out


EXAMPLES = [
    (operation_id, n, status, example)
    for operation_id in sorted(OFFER_CASES)
    for n, (status, example) in enumerate(success_examples(operation_id))
]


def test_the_spec_gives_examples_for_most_offers():
    assert len({op for op, *_ in EXAMPLES}) >= 45


@pytest.mark.parametrize(
    ("operation_id", "n", "status", "example"), EXAMPLES, ids=[f"{op}-{n}" for op, n, _, _ in EXAMPLES]
)
def test_the_spec_example_answer_comes_back_parsed_and_untouched(
    client, mocked, operation_id, n, status, example
):
    case = OFFER_CASES[operation_id]
    mocked.add(case.method, ANY_URL, status=status, json=example)
    assert case.call(client) == example


# The iterators over the spec's example pages: every listed item comes out, untouched.
ITERATORS: dict[str, tuple[Callable[[VoucherifyClient], Iterator[dict[str, Any]]], str]] = {
    "list-campaigns": (lambda c: c.campaigns.iterate(), "campaigns"),
    "list-campaign-transactions": (lambda c: c.campaigns.iterate_transactions(CAMPAIGN), "data"),
    "list-promotion-tiers": (lambda c: c.promotions.iterate_tiers(), "tiers"),
    "list-all-promotion-stacks": (lambda c: c.promotions.iterate_stacks(), "data"),
    "list-validation-rules": (lambda c: c.validation_rules.iterate(), "data"),
    "list-validation-rules-assignments": (lambda c: c.validation_rules.iterate_all_assignments(), "data"),
    "list-validation-rule-assignments": (lambda c: c.validation_rules.iterate_assignments(RULE), "data"),
    "list-products": (lambda c: c.products.iterate(), "products"),
    "list-SKUs-in-product": (lambda c: c.products.iterate_skus(PRODUCT), "skus"),
    "list-publications": (lambda c: c.publications.iterate(), "publications"),
    "list-exports": (lambda c: c.exports.iterate(), "exports"),
    "check-eligibility": (lambda c: c.qualifications.iterate(QUALIFICATION), "redeemables"),
}


def listed(example: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return example["redeemables"]["data"] if key == "redeemables" else example[key]


ITERATED_EXAMPLES = [
    (op, n, example) for op in sorted(ITERATORS) for n, (_, example) in enumerate(success_examples(op))
]


@pytest.mark.parametrize(
    ("operation_id", "n", "example"), ITERATED_EXAMPLES, ids=[f"{o}-{n}" for o, n, _ in ITERATED_EXAMPLES]
)
def test_iterating_the_spec_example_page_yields_its_items(client, mocked, operation_id, n, example):
    call, key = ITERATORS[operation_id]
    method = "POST" if operation_id == "check-eligibility" else "GET"
    mocked.add(method, ANY_URL, json=example)
    # An example that says more follows gets an empty last page after it.
    end = (
        {"redeemables": {"data": [], "has_more": False}}
        if key == "redeemables"
        else {"data": [], "has_more": False}
    )
    mocked.add(method, ANY_URL, json=end)
    assert list(islice(call(client), 1000)) == listed(example, key)


def test_every_paged_list_of_the_offers_has_an_iterator():
    """A list operation that takes ``page``, ``starting_after_id`` or a cursor option has an
    entry above (and so an ``iterate*`` method); the unpaged lists (a campaign's tiers and
    stacks, categories) take no paging parameter at all."""
    paged = set()
    for operation_id in OFFERS:
        names = {resolve(p).get("name") for p in spec_operation(operation_id).get("parameters", [])}
        if names & {"page", "starting_after_id"}:
            paged.add(operation_id)
    paged.add("check-eligibility")  # pages in its body (options.starting_after)
    assert paged == set(ITERATORS), paged ^ set(ITERATORS)


# --- typed errors -------------------------------------------------------------------------------


def error_body(status: int, key: str, **extra: Any) -> dict[str, Any]:
    return {
        "code": status,
        "key": key,
        "message": "Resource not found" if status == 404 else "Refused",
        "details": "Cannot find the resource with id X",
        "request_id": "v-0d3b7d94b1cf4d0f1e",
        **extra,
    }


@pytest.mark.parametrize("operation_id", sorted(OFFER_CASES))
def test_a_404_is_a_not_found_error_carrying_voucherifys_error(client, mocked, operation_id):
    case = OFFER_CASES[operation_id]
    body = error_body(404, "not_found", resource_id="x_1", resource_type="campaign")
    mocked.add(case.method, ANY_URL, status=404, json=body)
    with pytest.raises(NotFoundError) as raised:
        case.call(client)
    error = raised.value
    assert (error.status, error.key, error.request_id) == (404, "not_found", "v-0d3b7d94b1cf4d0f1e")
    assert (error.resource_id, error.resource_type) == ("x_1", "campaign")
    assert error.method == case.method
    assert error.body == body
    assert len(mocked.calls) == 1  # a 404 is never retried


@pytest.mark.parametrize(
    ("status", "key", "error_class"),
    [
        (400, "invalid_payload", BadRequestError),
        (409, "duplicate_found", ConflictError),
        (429, "too_many_requests", RateLimitedError),
        (500, "internal_error", ServerError),
        (422, "unprocessable", APIError),
    ],
)
def test_error_statuses_map_to_their_classes(client, mocked, status, key, error_class):
    mocked.add("POST", ANY_URL, status=status, json=error_body(status, key))
    with pytest.raises(error_class) as raised:
        client.campaigns.create({"name": "Dup", "campaign_type": "DISCOUNT_COUPONS"})
    assert raised.value.key == key


def test_a_validation_rule_refusal_carries_the_rules_own_message(client, mocked):
    """Qualifications and publications refuse with the rule's ``error.message``, which a shop
    shows its customer as it is."""
    body = error_body(400, "validation_rules_violated", error={"message": "Rings only, over 50 EUR."})
    mocked.add("POST", ANY_URL, status=400, json=body)
    with pytest.raises(BadRequestError) as raised:
        client.publications.create({"customer": {"source_id": "c"}, "voucher": "RING-10"})
    assert raised.value.error_message == "Rings only, over 50 EUR."


def test_a_post_of_the_offers_is_not_sent_twice_after_a_gateway_error(mocked):
    """A publication or an eligibility check that may have reached Voucherify is not repeated
    (a second publication would hand the customer a second code); a GET is retried."""
    sleeps: list[float] = []
    with VoucherifyClient(
        "a", "b", API, sleep=sleeps.append, retry=RetryPolicy(max_retries=2, budget=60.0)
    ) as retrying:
        mocked.add("POST", ANY_URL, status=503, json=error_body(503, "unavailable"))
        with pytest.raises(ServerError):
            retrying.publications.create({"customer": {"source_id": "c"}, "campaign": {"name": "Welcome"}})
        assert len(mocked.calls) == 1
        mocked.add("GET", ANY_URL, status=503, json=error_body(503, "unavailable"))
        with pytest.raises(ServerError):
            retrying.campaigns.get(CAMPAIGN)
        assert len(mocked.calls) == 1 + 3


def test_a_delete_answered_with_its_async_action_returns_it(client, mocked):
    mocked.add("DELETE", ANY_URL, status=202, json={"async_action_id": "aa_0a1b"})
    assert client.campaigns.delete(CAMPAIGN) == {"async_action_id": "aa_0a1b"}
    assert mocked.calls[0].request.url == f"{API}/v1/campaigns/{CAMPAIGN_ENC}"  # no force=false


@pytest.mark.parametrize("answer", [[1, 2], "text", None])
def test_a_2xx_that_is_not_an_object_is_an_invalid_response(client, mocked, answer):
    mocked.add("GET", ANY_URL, status=200, body=json.dumps(answer), content_type="application/json")
    with pytest.raises(InvalidResponseError):
        client.promotions.get_tier("promo_1")


# --- ids that would address another operation --------------------------------------------------


@pytest.mark.parametrize("campaign_id", ["tiers", "stacks", "", ".", ".."])
def test_a_campaign_id_that_reads_as_a_fixed_segment_is_refused(client, mocked, campaign_id):
    """``/v1/promotions/tiers/tiers`` is the tier whose id is "tiers", not the tiers of a
    campaign called so; ``/v1/promotions/stacks/stacks/x``... Nothing is sent."""
    calls = [
        lambda: client.promotions.list_campaign_tiers(campaign_id),
        lambda: client.promotions.create_tier(campaign_id, {"name": "x"}),
        lambda: client.promotions.list_campaign_stacks(campaign_id),
        lambda: client.promotions.create_stack(campaign_id, {"name": "x"}),
        lambda: client.promotions.get_stack(campaign_id, "s"),
        lambda: client.promotions.update_stack(campaign_id, "s", {"name": "y"}),
        lambda: client.promotions.delete_stack(campaign_id, "s"),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="cannot be used"):
            call()
    assert len(mocked.calls) == 0


def test_a_tier_or_stack_named_like_a_fixed_segment_is_still_one_path_segment(client, mocked):
    mocked.add("GET", ANY_URL, json={"id": "tiers"})
    client.promotions.get_tier("tiers")
    client.promotions.get_stack("camp_1", "tiers")
    assert [c.request.url for c in mocked.calls] == [
        f"{API}/v1/promotions/tiers/tiers",
        f"{API}/v1/promotions/camp_1/stacks/tiers",
    ]
