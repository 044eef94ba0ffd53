"""``checkout.offers`` and ``POST offers/`` against the sandbox: what a cart qualifies for, the
discount each gives (the validation's), one round trip, the outage policy, the REST door."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from django_voucherify import checkout
from django_voucherify.checkout.offers import MAX_OFFERS
from tests.support.checkout import checkout_settings
from tests.support.vouchers import make_voucher

pytestmark = pytest.mark.django_db

OFFERS = "/api/vouchers/offers/"
CART = {
    "amount": 10_000,
    "items": [{"source_id": "sku-1", "related_object": "sku", "quantity": 2, "price": 5000}],
}


def hold(sandbox: Any, code: str, source_id: str) -> None:
    """Give ``code`` to the customer ``source_id`` (a publication, as a welcome code is)."""
    from django_voucherify import client

    client.customers.create({"source_id": source_id})
    customer = sandbox.state.find_customer(source_id)
    sandbox.state.vouchers[code]["holder_id"] = customer["id"]
    sandbox.state.vouchers.touch(code)


def test_offers_are_the_customers_own_codes_best_deal_first_in_one_call(sandbox: Any) -> None:
    make_voucher("PUBLIC5", amount_off=500)
    make_voucher("MINE20", discount={"type": "PERCENT", "percent_off": 20})
    make_voucher("MINE1", amount_off=100)
    make_voucher("THEIRS30", discount={"type": "PERCENT", "percent_off": 30})
    hold(sandbox, "MINE20", "user-ann")
    hold(sandbox, "MINE1", "user-ann")
    hold(sandbox, "THEIRS30", "user-bob")
    before = sandbox.calls.count()
    outcome = checkout.offers(CART, "user-ann")
    assert sandbox.calls.count() - before == 1 and sandbox.calls.count("POST", "/v1/qualifications") == 1
    assert [(o.code, o.discount_amount, o.automatic) for o in outcome.offers] == [
        ("MINE20", 2000, False),
        ("MINE1", 100, False),
    ]  # never PUBLIC5 (a code nobody holds: review 18) nor another customer's
    assert outcome.totals.amount == 10_000 and not outcome.unavailable and outcome.automatic == []
    assert checkout.offers(CART).offers == []  # anonymous: no wallet, no code nobody holds


def test_each_offers_discount_is_what_validating_that_code_gives(sandbox: Any) -> None:
    make_voucher("A", amount_off=12_000)  # more than the cart: capped
    make_voucher("B", discount={"type": "PERCENT", "percent_off": 15})
    make_voucher("C", amount_off=1)
    for code in "ABC":
        hold(sandbox, code, "user-ann")
    offered = checkout.offers(CART, "user-ann").offers
    assert sorted(o.code for o in offered) == ["A", "B", "C"]
    for offer in offered:
        validation = checkout.validate([offer.code], CART)
        assert validation.codes[0].applicable
        assert offer.discount_amount == validation.codes[0].discount_amount, offer


def test_a_code_whose_rule_the_cart_misses_is_not_offered(sandbox: Any) -> None:
    from django_voucherify import client

    make_voucher("BIG", amount_off=1000)
    rule = client.validation_rules.create(
        {
            "name": "Over 200",
            "rules": {"1": {"name": "order.amount", "conditions": {"$more_than_equal": [20_000]}}},
        }
    )
    client.validation_rules.create_assignment(rule["id"], "voucher", "BIG")
    hold(sandbox, "BIG", "user-ann")
    assert checkout.offers(CART, "user-ann").offers == []
    assert [o.code for o in checkout.offers({"amount": 25_000}, "user-ann").offers] == ["BIG"]


def test_limit_is_checked_and_passed(sandbox: Any) -> None:
    for i in range(4):
        make_voucher(f"P{i}", amount_off=100 * (i + 1))
        hold(sandbox, f"P{i}", "user-ann")
    outcome = checkout.offers(CART, "user-ann", limit=2)
    assert len(outcome.offers) == 2 and outcome.has_more
    for bad in (0, MAX_OFFERS + 1, True, "3"):
        with pytest.raises(checkout.InvalidCheckoutInput):
            checkout.offers(CART, limit=bad)  # type: ignore[arg-type]


def test_a_customers_codes_older_than_the_sandboxs_scan_bound_are_offered(sandbox: Any) -> None:
    """The customer got two codes before more than ``SCAN_BOUND`` other codes were made (codes
    nobody holds, which offers never asks for): both are offered, in one call."""
    from django_voucherify.sandbox.handlers.qualifications import SCAN_BOUND
    from django_voucherify.sandbox.state import iso, parse_iso

    mine = [make_voucher("MINE-OLD-1", amount_off=300), make_voucher("MINE-OLD-2", amount_off=700)]
    for made in mine:
        hold(sandbox, made["code"], "user-ann")
    start = parse_iso(mine[-1]["created_at"])
    template = sandbox.state.vouchers["MINE-OLD-1"]
    sandbox.state.put_vouchers(
        {
            **template,
            "id": f"v_newer_{i}",
            "code": f"NEWER-{i:04d}",
            "holder_id": None,
            "created_at": iso(start + timedelta(milliseconds=1 + i)),
        }
        for i in range(SCAN_BOUND + 200)
    )
    outcome = checkout.offers(CART, "user-ann")
    assert [o.code for o in outcome.offers] == ["MINE-OLD-2", "MINE-OLD-1"] and not outcome.has_more
    assert sandbox.calls.count("POST", "/v1/qualifications") == 1


@pytest.mark.parametrize("fault", [{"status": 503}, {"drop": True}, {"latency": 2.0}, {"status": 401}])
def test_an_outage_follows_the_checkout_policy(sandbox: Any, fault: dict[str, Any]) -> None:
    make_voucher("PUBLIC5", amount_off=500)
    sandbox.faults.add(path="/v1/qualifications", **fault)
    with pytest.raises(checkout.CheckoutUnavailable):
        checkout.offers(CART)
    with checkout_settings(sandbox, CHECKOUT_OUTAGE_POLICY="proceed_without_discount"):
        outcome = checkout.offers(CART)
    assert outcome.unavailable and outcome.offers == [] and outcome.notice
    assert outcome.totals.total_amount == 10_000


def test_an_answer_of_another_shape_is_an_outage_not_a_500(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django_voucherify.api.resources.qualifications import Qualifications

    monkeypatch.setattr(
        Qualifications, "check_eligibility", lambda self, body: {"redeemables": {"data": [{}]}}
    )
    with checkout_settings(sandbox, CHECKOUT_OUTAGE_POLICY="proceed_without_discount"):
        assert checkout.offers(CART).unavailable


def test_a_refused_request_is_invalid_input(sandbox: Any) -> None:
    with pytest.raises(checkout.InvalidCheckoutInput):
        checkout.offers({"id": "ord_unknown", "amount": 100})  # 404 from Voucherify


# ---- REST --------------------------------------------------------------------------------------


@pytest.mark.urls("tests.checkout.urls")
def test_rest_offers_for_anonymous_and_signed_in(sandbox: Any, shopper: Any) -> None:
    user, _order = shopper
    make_voucher("PUBLIC5", amount_off=500)
    make_voucher("MINE20", discount={"type": "PERCENT", "percent_off": 20})
    hold(sandbox, "MINE20", "user-ann")
    anonymous = APIClient().post(OFFERS, {"order": CART}, format="json")
    assert anonymous.status_code == 200, anonymous.content
    assert anonymous.json()["offers"] == []  # never a code nobody holds (review 18)
    signed_in = APIClient()
    signed_in.force_authenticate(user)
    body = signed_in.post(OFFERS, {"order": CART, "limit": 5}, format="json").json()
    assert [(o["code"], o["discount_amount"]) for o in body["offers"]] == [("MINE20", 2000)]
    assert body["amount"] == 10_000 and body["unavailable"] is False and body["has_more"] is False
    assert set(body["offers"][0]) == {
        "kind",
        "id",
        "code",
        "name",
        "banner",
        "discount_amount",
        "automatic",
        "campaign_id",
        "campaign_name",
    }


@pytest.mark.urls("tests.checkout.urls")
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "order"),
        ({"order": {}}, "order"),
        ({"order": {"amount": -1}}, "order"),
        ({"order": {"amount": "100"}}, "order"),
        ({"order": {"amount": 100}, "limit": 0}, "limit"),
        ({"order": {"amount": 100}, "limit": 51}, "limit"),
        ({"order": {"amount": 100}, "limit": True}, "limit"),
        ({"order": {"amount": 100}, "limit": "lots"}, "limit"),
        ({"order": {"items": [{"source_id": "x", "quantity": 1, "price": 1}] * 501}}, "order"),
    ],
)
def test_rest_offers_rejects_bad_input_clearly(sandbox: Any, body: dict[str, Any], field: str) -> None:
    response = APIClient().post(OFFERS, body, format="json")
    assert response.status_code == 400 and field in response.json(), response.content
    assert sandbox.calls.count("POST", "/v1/qualifications") == 0


@pytest.mark.urls("tests.checkout.urls")
def test_rest_offers_body_that_is_not_json_is_a_json_400(sandbox: Any) -> None:
    response = APIClient().post(OFFERS, b"{nope", content_type="application/json")
    assert response.status_code == 400 and response["Content-Type"].startswith("application/json")


@pytest.mark.urls("tests.checkout.urls")
def test_rest_offers_is_throttled(sandbox: Any) -> None:
    rates = {"voucherify_offers": "2/min"}
    with override_settings(REST_FRAMEWORK={"DEFAULT_THROTTLE_RATES": rates}):
        answers = [APIClient().post(OFFERS, {"order": CART}, format="json").status_code for _ in range(3)]
    assert answers == [200, 200, 429]
    assert sandbox.calls.count("POST", "/v1/qualifications") == 2


@pytest.mark.urls("tests.checkout.urls")
def test_rest_offers_during_an_outage_is_a_json_503(sandbox: Any) -> None:
    sandbox.faults.add(path="/v1/qualifications", status=503)
    response = APIClient().post(OFFERS, {"order": CART}, format="json")
    assert response.status_code == 503 and "detail" in response.json()


@pytest.mark.urls("tests.checkout.urls")
def test_unknown_paths_below_offers_are_json_404s(sandbox: Any) -> None:
    response = APIClient().get(OFFERS + "more/")
    assert response.status_code == 404 and response["Content-Type"].startswith("application/json")


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**15), 10**15)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
ORDER_LIKE = st.fixed_dictionaries(
    {},
    optional={
        "amount": JSON_VALUES,
        "items": st.lists(
            st.fixed_dictionaries(
                {}, optional={k: JSON_VALUES for k in ("source_id", "quantity", "price", "related_object")}
            ),
            max_size=3,
        ),
        "source_id": JSON_VALUES,
    },
)


@pytest.mark.urls("tests.checkout.urls")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.fixed_dictionaries({}, optional={"order": ORDER_LIKE | JSON_VALUES, "limit": JSON_VALUES})
    | JSON_VALUES
)
def test_rest_offers_fuzzed_bodies_never_500(sandbox: Any, body: Any) -> None:
    from django.core.cache import cache

    cache.clear()  # the throttle would answer 429 to most examples otherwise
    response = APIClient(raise_request_exception=False).post(OFFERS, body, format="json")
    assert response.status_code < 500, response.content
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.urls("tests.checkout.urls")
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_rest_offers_wrong_methods_are_json_405s(sandbox: Any, method: str) -> None:
    response = APIClient().generic(method, OFFERS)
    assert response.status_code == 405 and response.json()["key"] == "method_not_allowed"
