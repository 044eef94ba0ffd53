"""Automatic promotions at checkout, against the in-process sandbox: ``offers`` lists the
qualifying tiers, ``validate`` / ``redeem`` with ``automatic=True`` add them after one
qualifications call, and every guarantee of a redeem holds (at most once per order, rollback,
reconciliation, the outage policy of the qualifications call: nothing lost, nothing doubled)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from django_voucherify import checkout
from django_voucherify.models import CheckoutRedemption, LedgerState
from tests.support.checkout import (
    QUALIFY_CALL,
    REDEEM,
    REDEEM_CALL,
    VALIDATE,
    VALIDATE_CALL,
    checkout_settings,
    redemptions_of,
)
from tests.support.vouchers import make_tier, make_voucher, order_amount_rule

pytestmark = pytest.mark.django_db

ORDER = {"source_id": "ORD-A", "amount": 10_000}


def redeemed(sandbox: Any, tier_id: str) -> int:
    return int(sandbox.state.extra["promotion_tiers"][tier_id]["summary"]["redemptions"]["total_redeemed"])


def promotions(sandbox: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Three tiers: 3.00 off any cart, 10.00 off carts of 50.00 or more, 20.00 off from 500.00."""
    small = make_tier("Three off", amount_off=300)
    medium = make_tier("Ten off", amount_off=1000, validation_rules=order_amount_rule(5000))
    large = make_tier("Twenty off", amount_off=2000, validation_rules=order_amount_rule(50_000))
    return small, medium, large


def test_offers_list_the_qualifying_tiers_as_automatic(sandbox: Any) -> None:
    small, medium, _large = promotions(sandbox)
    outcome = checkout.offers(ORDER)
    assert [(o.id, o.kind, o.automatic, o.code) for o in outcome.automatic] == [
        (medium["id"], "promotion_tier", True, None),
        (small["id"], "promotion_tier", True, None),
    ]
    assert [o.discount_amount for o in outcome.automatic] == [1000, 300]


def test_validate_adds_the_qualifying_tiers_after_the_codes_in_two_calls(sandbox: Any) -> None:
    small, medium, large = promotions(sandbox)
    make_voucher("FIVE", amount_off=500)
    before = sandbox.calls.by_route()
    result = checkout.validate(["FIVE"], ORDER, "cust-1", automatic=True)
    assert result.valid and not result.automatic_unavailable
    assert [(c.code, c.kind, c.discount_amount) for c in result.codes] == [
        ("FIVE", "voucher", 500),
        (medium["id"], "promotion_tier", 1000),  # best deal first
        (small["id"], "promotion_tier", 300),
    ]
    assert large["id"] not in [c.code for c in result.codes]
    assert result.totals.discount_amount == 1800
    calls = sandbox.calls.by_route() - before
    assert calls[QUALIFY_CALL] == 1 and calls[VALIDATE_CALL] == 1 and sum(calls.values()) == 2


def test_a_tier_given_explicitly_is_not_repeated(sandbox: Any) -> None:
    small, medium, _ = promotions(sandbox)
    result = checkout.validate([], ORDER, tiers=[small["id"]], automatic=True)
    assert [c.code for c in result.codes] == [small["id"], medium["id"]]


def test_without_automatic_nothing_is_looked_up(sandbox: Any) -> None:
    promotions(sandbox)
    make_voucher("FIVE", amount_off=500)
    result = checkout.validate(["FIVE"], ORDER)
    assert [c.code for c in result.codes] == ["FIVE"]
    assert sandbox.calls.count(*QUALIFY_CALL) == 0


def test_nothing_to_validate_is_an_empty_result_in_one_call(sandbox: Any) -> None:
    make_tier("Big carts", validation_rules=order_amount_rule(50_000))
    result = checkout.validate([], ORDER, automatic=True)
    assert not result.valid and result.codes == [] and not result.unavailable
    assert (result.totals.amount, result.totals.discount_amount, result.totals.total_amount) == (
        10_000,
        0,
        10_000,
    )
    assert sandbox.calls.count(*QUALIFY_CALL) == 1 and sandbox.calls.count(*VALIDATE_CALL) == 0


def test_redeem_records_the_automatic_tiers_and_redeems_them_once(sandbox: Any) -> None:
    small, medium, _ = promotions(sandbox)
    make_voucher("FIVE", amount_off=500)
    outcome = checkout.redeem(["FIVE"], ORDER, "cust-1", automatic=True)
    assert outcome.applied and outcome.totals.discount_amount == 1800
    row = outcome.ledger
    assert row.state == LedgerState.SUCCEEDED
    assert row.codes == ["FIVE"] and row.tiers == [medium["id"], small["id"]]
    assert len(redemptions_of(sandbox, str(row.reference))) == 3
    with pytest.raises(checkout.AlreadyRedeemed):
        checkout.redeem(["FIVE"], ORDER, "cust-1", automatic=True)
    assert sandbox.calls.count(*REDEEM_CALL) == 1
    assert (redeemed(sandbox, small["id"]), redeemed(sandbox, medium["id"])) == (1, 1)


def test_rolling_back_gives_the_automatic_tiers_back_and_frees_the_order(sandbox: Any) -> None:
    small, medium, _ = promotions(sandbox)
    outcome = checkout.redeem([], ORDER, automatic=True)
    checkout.rollback(outcome.ledger, "order cancelled")
    assert (redeemed(sandbox, small["id"]), redeemed(sandbox, medium["id"])) == (0, 0)
    again = checkout.redeem([], ORDER, automatic=True)
    assert again.applied and again.ledger.tiers == [medium["id"], small["id"]]


def test_a_failed_payment_rolls_the_automatic_tiers_back(sandbox: Any) -> None:
    small = make_tier("Three off", amount_off=300)

    def pay(outcome: Any) -> None:
        raise RuntimeError("card declined")

    with pytest.raises(RuntimeError):
        checkout.redeem_then_pay([], ORDER, pay, automatic=True)
    row = CheckoutRedemption.objects.get()
    assert row.state == LedgerState.ROLLED_BACK and row.tiers == [small["id"]]
    assert redeemed(sandbox, small["id"]) == 0


def test_nothing_qualifying_and_nothing_given_redeems_nothing(sandbox: Any) -> None:
    make_tier("Big carts", validation_rules=order_amount_rule(50_000))
    with pytest.raises(checkout.InvalidCheckoutInput):
        checkout.redeem([], ORDER, automatic=True)
    assert not CheckoutRedemption.objects.exists() and sandbox.calls.count(*REDEEM_CALL) == 0


def test_a_tier_switched_off_between_the_lookup_and_the_redeem_refuses_cleanly(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault between the steps: the tier qualified, then its campaign owner disabled it."""
    import importlib

    redeem_module = importlib.import_module("django_voucherify.checkout.redeem")  # not the function
    small = make_tier("Three off", amount_off=300)
    real = redeem_module.with_automatic

    def then_disable(*args: Any, **kwargs: Any) -> Any:
        found = real(*args, **kwargs)
        sandbox.state.extra["promotion_tiers"][small["id"]]["active"] = False
        return found

    monkeypatch.setattr(redeem_module, "with_automatic", then_disable)
    with pytest.raises(checkout.CodesRefused) as refused:
        checkout.redeem([], ORDER, automatic=True)
    assert refused.value.key == "promotion_inactive"
    row = CheckoutRedemption.objects.get()
    assert row.state == LedgerState.FAILED and row.tiers == [small["id"]]
    monkeypatch.undo()
    sandbox.state.extra["promotion_tiers"][small["id"]]["active"] = True
    assert checkout.redeem([], ORDER, automatic=True).applied  # the order is free again
    assert redeemed(sandbox, small["id"]) == 1


# ---- the outage policy of the qualifications call ------------------------------------------------

OUTAGES = [{"status": 503}, {"status": 500}, {"drop": True}, {"latency": 2.0}, {"status": 401}]


@pytest.mark.parametrize("fault", OUTAGES)
def test_refuse_policy_an_outage_of_the_lookup_writes_nothing(sandbox: Any, fault: dict[str, Any]) -> None:
    small = make_tier("Three off", amount_off=300)
    make_voucher("FIVE", amount_off=500)
    sandbox.faults.add(path="/v1/qualifications", times=1, **fault)
    with pytest.raises(checkout.CheckoutUnavailable) as unavailable:
        checkout.redeem(["FIVE"], ORDER, automatic=True)
    assert not unavailable.value.outcome_unknown and unavailable.value.ledger is None
    assert not CheckoutRedemption.objects.exists() and sandbox.calls.count(*REDEEM_CALL) == 0
    # Nothing lost: once Voucherify answers, the same order redeems the code and the tier, once.
    outcome = checkout.redeem(["FIVE"], ORDER, automatic=True)
    assert outcome.ledger.codes == ["FIVE"] and outcome.ledger.tiers == [small["id"]]
    assert sandbox.calls.count(*REDEEM_CALL) == 1 and redeemed(sandbox, small["id"]) == 1


@pytest.mark.parametrize("fault", OUTAGES)
def test_proceed_policy_redeems_the_codes_alone_and_says_so(sandbox: Any, fault: dict[str, Any]) -> None:
    small = make_tier("Three off", amount_off=300)
    make_voucher("FIVE", amount_off=500)
    sandbox.faults.add(path="/v1/qualifications", **fault)
    with checkout_settings(sandbox, CHECKOUT_OUTAGE_POLICY="proceed_without_discount"):
        checked = checkout.validate(["FIVE"], ORDER, automatic=True)
        outcome = checkout.redeem(["FIVE"], ORDER, automatic=True)
        with pytest.raises(checkout.AlreadyRedeemed):  # still one redemption per order
            checkout.redeem(["FIVE"], ORDER, automatic=True)
    assert checked.valid and checked.automatic_unavailable and checked.notice
    assert [c.code for c in checked.codes] == ["FIVE"]
    assert outcome.applied and outcome.automatic_unavailable and outcome.notice
    assert outcome.totals.discount_amount == 500
    assert outcome.ledger.codes == ["FIVE"] and outcome.ledger.tiers == []
    assert sandbox.calls.count(*REDEEM_CALL) == 1 and redeemed(sandbox, small["id"]) == 0


def test_proceed_policy_with_no_code_given_redeems_nothing(sandbox: Any) -> None:
    make_tier("Three off", amount_off=300)
    sandbox.faults.add(path="/v1/qualifications", status=503)
    with checkout_settings(sandbox, CHECKOUT_OUTAGE_POLICY="proceed_without_discount"):
        checked = checkout.validate([], ORDER, automatic=True)
        with pytest.raises(checkout.CheckoutUnavailable):
            checkout.redeem([], ORDER, automatic=True)
    assert checked.unavailable and checked.automatic_unavailable and checked.codes == []
    assert checked.totals.total_amount == 10_000
    assert not CheckoutRedemption.objects.exists()


def test_a_lookup_answer_of_another_shape_is_an_outage_not_a_500(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django_voucherify.api.resources.qualifications import Qualifications

    make_voucher("FIVE", amount_off=500)
    monkeypatch.setattr(Qualifications, "check_eligibility", lambda self, body: {"redeemables": [{}]})
    with pytest.raises(checkout.CheckoutUnavailable):
        checkout.validate(["FIVE"], ORDER, automatic=True)
    with checkout_settings(sandbox, CHECKOUT_OUTAGE_POLICY="proceed_without_discount"):
        assert checkout.validate(["FIVE"], ORDER, automatic=True).automatic_unavailable


def test_a_refused_lookup_is_a_refusal_with_nothing_written(sandbox: Any) -> None:
    with pytest.raises(checkout.CodesRefused):
        checkout.redeem([], {"id": "ord_unknown", "amount": 100}, automatic=True)  # a 404
    assert not CheckoutRedemption.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_unknown_outcome_with_automatic_tiers_is_reconciled_not_redeemed_again(sandbox: Any) -> None:
    small = make_tier("Three off", amount_off=300)
    sandbox.faults.add(path="/v1/redemptions", method="POST", times=1, status=502, after=True)
    with pytest.raises(checkout.CheckoutUnavailable) as unavailable:
        checkout.redeem([], ORDER, "cust-1", automatic=True)
    assert unavailable.value.outcome_unknown
    row = CheckoutRedemption.objects.get()
    assert row.state == LedgerState.ROLLED_BACK and row.tiers == [small["id"]]
    assert sandbox.calls.count(*REDEEM_CALL) == 1 and redeemed(sandbox, small["id"]) == 0


def test_room_is_left_for_thirty_redeemables_in_all(sandbox: Any) -> None:
    for i in range(3):
        make_tier(f"Tier {i}", amount_off=10)
    codes = [f"C{i}" for i in range(29)]
    for code in codes:
        make_voucher(code, amount_off=1)
    result = checkout.validate(codes, ORDER, automatic=True)
    assert len(result.codes) == 30 and [c.kind for c in result.codes].count("promotion_tier") == 1
    full = [*codes, "C29"]
    make_voucher("C29", amount_off=1)
    before = sandbox.calls.count(*QUALIFY_CALL)
    assert len(checkout.validate(full, ORDER, automatic=True).codes) == 30
    assert sandbox.calls.count(*QUALIFY_CALL) == before  # no room: no lookup


NAMES = itertools.count()


# ---- property: what automatic=True applies is what offers() lists as automatic ---------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tiers=st.lists(st.tuples(st.integers(1, 3000), st.sampled_from([None, 5000, 20_000])), max_size=4),
    amount=st.integers(0, 40_000),
)
def test_property_automatic_applies_exactly_the_qualifying_tiers(
    sandbox: Any, tiers: list[tuple[int, int | None]], amount: int
) -> None:
    sandbox.state.extra.pop("promotion_tiers", None)  # each example starts with no tier
    made = [
        make_tier(
            f"T{next(NAMES)}",
            amount_off=off,
            **({"validation_rules": order_amount_rule(floor)} if floor else {}),
        )
        for i, (off, floor) in enumerate(tiers)
    ]
    cart = {"amount": amount}
    offered = {o.id: o.discount_amount for o in checkout.offers(cart, limit=50).automatic}
    expected = {
        t["id"] for t, (_, floor) in zip(made, tiers, strict=True) if floor is None or amount >= floor
    }
    assert set(offered) == expected
    result = checkout.validate([], cart, automatic=True)
    assert {c.code for c in result.codes} == expected
    assert all(c.kind == "promotion_tier" for c in result.codes)
    if expected:
        assert result.valid
        assert result.totals.discount_amount == min(amount, sum(offered.values()))


# ---- REST ------------------------------------------------------------------------------------------


@pytest.mark.urls("tests.checkout.urls")
def test_rest_validate_with_automatic_needs_no_code(sandbox: Any) -> None:
    small = make_tier("Three off", amount_off=300)
    response = APIClient().post(VALIDATE, {"automatic": True, "order": {"amount": 10_000}}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["valid"] and data["discount_amount"] == 300
    assert [(c["code"], c["kind"]) for c in data["codes"]] == [(small["id"], "promotion_tier")]


@pytest.mark.urls("tests.checkout.urls")
def test_rest_redeem_with_automatic_records_the_tiers(sandbox: Any, shopper: Any) -> None:
    user, order = shopper
    small = make_tier("Three off", amount_off=300)
    client = APIClient()
    client.force_authenticate(user)
    response = client.post(REDEEM, {"automatic": True, "order_source_id": order.source_id}, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["discount_amount"] == 300 and data["redemption"]["tiers"] == [small["id"]]


@pytest.mark.urls("tests.checkout.urls")
@pytest.mark.parametrize(
    "body",
    [
        {"automatic": "yes please", "order": {"amount": 100}},
        {"automatic": [True], "order": {"amount": 100}},
        {"automatic": "true", "order": {"amount": 100}},
        {"automatic": 1, "order": {"amount": 100}},
        {"automatic": False, "order": {"amount": 100}},  # nothing to validate
        {"codes": [], "automatic": None, "order": {"amount": 100}},
    ],
)
def test_rest_refuses_a_bad_automatic_with_a_json_400(sandbox: Any, body: dict[str, Any]) -> None:
    response = APIClient().post(VALIDATE, body, format="json")
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/json")
    assert set(response.json()) & {"automatic", "codes"}


@pytest.mark.urls("tests.checkout.urls")
def test_rest_redeem_refuses_a_non_boolean_automatic(sandbox: Any, shopper: Any) -> None:
    user, order = shopper
    client = APIClient()
    client.force_authenticate(user)
    body = {"codes": ["X"], "automatic": "yes", "order_source_id": order.source_id}
    response = client.post(REDEEM, body, format="json")
    assert response.status_code == 400 and "automatic" in response.json(), response.content
    assert not CheckoutRedemption.objects.exists()
