"""Promotion tiers at checkout, against the in-process sandbox: validate and redeem take tiers
beside codes, the ledger records them, and every guarantee holds for them (one live redemption
per order, rollback, reconciliation of an unknown outcome)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from django_voucherify import checkout
from django_voucherify.models import CheckoutRedemption, LedgerState
from tests.support.checkout import REDEEM, VALIDATE, redemptions_of
from tests.support.vouchers import make_tier, make_voucher, order_amount_rule

pytestmark = pytest.mark.django_db

ORDER = {"source_id": "ORD-T", "amount": 10_000}


def tier_summary(sandbox, tier_id: str) -> dict:
    return dict(sandbox.state.extra["promotion_tiers"][tier_id]["summary"]["redemptions"])


def test_validate_reports_each_tier_beside_the_codes(sandbox):
    make_voucher("FIVE", amount_off=500)
    tier = make_tier(amount_off=300)
    result = checkout.validate(["FIVE"], ORDER, "cust-1", tiers=[tier["id"]])
    assert result.valid
    assert [(c.code, c.kind, c.applicable, c.discount_amount) for c in result.codes] == [
        ("FIVE", "voucher", True, 500),
        (tier["id"], "promotion_tier", True, 300),
    ]
    assert (result.totals.discount_amount, result.totals.total_amount) == (800, 9200)


def test_tiers_alone_need_no_code(sandbox):
    tier = make_tier(amount_off=300)
    result = checkout.validate([], ORDER, tiers=[tier["id"]])
    assert result.valid and result.totals.discount_amount == 300


def test_a_tier_placed_among_the_codes_is_sent_where_it_stands(sandbox):
    make_voucher("HALF", "percent", discount={"type": "PERCENT", "percent_off": 50})
    tier = make_tier(amount_off=1000)
    first = checkout.validate([checkout.Redeemable.tier(tier["id"]), "HALF"], ORDER)
    # 10.00 off first, then half of the 90.00 left
    assert first.totals.discount_amount == 1000 + 4500
    second = checkout.validate(["HALF"], ORDER, tiers=[tier["id"]])
    assert second.totals.discount_amount == 5000 + 1000


def test_an_inactive_tier_is_refused_with_a_message_for_shoppers(sandbox):
    tier = make_tier(active=False)
    result = checkout.validate([], ORDER, tiers=[tier["id"]])
    assert not result.valid
    (refused,) = result.refused
    assert refused.kind == "promotion_tier" and refused.reason_key == "promotion_inactive"
    assert refused.reason == "This promotion is not active right now."
    with pytest.raises(checkout.CodesRefused) as err:
        checkout.redeem([], ORDER, tiers=[tier["id"]])
    assert err.value.key == "promotion_inactive"
    row = CheckoutRedemption.objects.get()
    assert row.state == LedgerState.FAILED and row.tiers == [tier["id"]] and row.codes == []


def test_a_tier_rule_refuses_with_the_shops_own_message(sandbox):
    tier = make_tier(validation_rules=order_amount_rule(20000, "Spend 200 to get this promotion"))
    result = checkout.validate([], ORDER, tiers=[tier["id"]])
    assert result.refused[0].reason == "Spend 200 to get this promotion"


def test_redeem_records_the_tiers_on_the_ledger_and_in_voucherify(sandbox):
    make_voucher("FIVE", amount_off=500)
    tier = make_tier(amount_off=300)
    outcome = checkout.redeem(["FIVE"], ORDER, "cust-1", tiers=[tier["id"]])
    assert outcome.applied and outcome.totals.discount_amount == 800
    row = outcome.ledger
    assert row.state == LedgerState.SUCCEEDED and row.codes == ["FIVE"] and row.tiers == [tier["id"]]
    assert row.parent_redemption_id and len(row.redemption_ids) == 2
    mine = redemptions_of(sandbox, str(row.reference))
    assert sorted(r["related_object_type"] for r in mine) == ["promotion_tier", "voucher"]
    assert tier_summary(sandbox, tier["id"]) == {"total_redeemed": 1}
    assert tier["id"] in str(row)


def test_a_tier_is_redeemed_at_most_once_per_order(sandbox):
    tier = make_tier()
    checkout.redeem([], ORDER, tiers=[tier["id"]])
    with pytest.raises(checkout.AlreadyRedeemed):
        checkout.redeem([], ORDER, tiers=[tier["id"]])
    assert sandbox.calls.count("POST", "/v1/redemptions") == 1
    assert tier_summary(sandbox, tier["id"]) == {"total_redeemed": 1}


def test_rolling_back_a_tier_redemption_gives_it_back(sandbox):
    tier = make_tier()
    outcome = checkout.redeem([], ORDER, tiers=[tier["id"]])
    row = checkout.rollback(outcome.ledger, "order cancelled")
    assert row.state == LedgerState.ROLLED_BACK and row.rollback_ids
    assert tier_summary(sandbox, tier["id"]) == {"total_redeemed": 0}
    again = checkout.redeem([], ORDER, tiers=[tier["id"]])  # the order is free again
    assert again.applied


def test_a_failed_payment_rolls_the_tier_back(sandbox):
    tier = make_tier()

    def pay(outcome):
        raise RuntimeError("card declined")

    with pytest.raises(RuntimeError):
        checkout.redeem_then_pay([], ORDER, pay, tiers=[tier["id"]])
    row = CheckoutRedemption.objects.get()
    assert row.state == LedgerState.ROLLED_BACK and row.tiers == [tier["id"]]
    assert tier_summary(sandbox, tier["id"]) == {"total_redeemed": 0}


@pytest.mark.django_db(transaction=True)
def test_an_unknown_outcome_of_a_tier_is_reconciled_not_redeemed_again(sandbox):
    tier = make_tier()
    sandbox.faults.add(path="/v1/redemptions", method="POST", times=1, status=502, after=True)
    with pytest.raises(checkout.CheckoutUnavailable) as unavailable:
        checkout.redeem([], ORDER, "cust-1", tiers=[tier["id"]])
    assert unavailable.value.outcome_unknown
    row = CheckoutRedemption.objects.get()
    # Reconciled at once (eager Celery, no grace): found by its marker, then undone since the
    # shop did not honour the discount. One POST ever.
    assert row.state == LedgerState.ROLLED_BACK and row.redemption_ids and row.tiers == [tier["id"]]
    assert sandbox.calls.count("POST", "/v1/redemptions") == 1
    assert len(redemptions_of(sandbox, str(row.reference))) == 1
    assert tier_summary(sandbox, tier["id"]) == {"total_redeemed": 0}


@pytest.mark.parametrize(
    ("codes", "tiers"),
    [
        ([], []),
        ([], ["\u200bpromo_x"]),
        ([], ["promo\nx"]),
        ([checkout.Redeemable("promo_x", gift_credits=100, kind="promotion_tier")], []),
        ([checkout.Redeemable("X", kind="promotion_stack")], []),
        ([], [f"promo_{i}" for i in range(31)]),
        ([f"C{i}" for i in range(20)], [f"promo_{i}" for i in range(11)]),
    ],
)
def test_bad_tiers_are_refused_before_anything_is_sent(sandbox, codes, tiers):
    with pytest.raises(checkout.InvalidCheckoutInput):
        checkout.validate(codes, ORDER, tiers=tiers)
    with pytest.raises(checkout.InvalidCheckoutInput):
        checkout.redeem(codes, ORDER, tiers=tiers)
    assert not sandbox.calls.calls and not CheckoutRedemption.objects.exists()


def test_a_code_and_a_tier_of_the_same_text_are_two_redeemables(sandbox):
    tier = make_tier(amount_off=300)
    make_voucher(tier["id"], amount_off=500)  # a code that happens to read like the tier's id
    result = checkout.validate([tier["id"]], ORDER, tiers=[tier["id"]])
    assert [(c.kind, c.discount_amount) for c in result.codes] == [("voucher", 500), ("promotion_tier", 300)]


# ---- the DRF endpoints ------------------------------------------------------------------------


@pytest.mark.urls("tests.checkout.urls")
def test_rest_validate_takes_tiers(sandbox):
    tier = make_tier(amount_off=300)
    body = {"tiers": [tier["id"]], "order": {"amount": 10_000}}
    response = APIClient().post(VALIDATE, body, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["valid"] and data["discount_amount"] == 300
    assert data["codes"] == [
        {
            "code": tier["id"],
            "applicable": True,
            "discount_amount": 300,
            "reason_key": None,
            "reason": "",
            "kind": "promotion_tier",
            "card": None,
        }
    ]


@pytest.mark.urls("tests.checkout.urls")
def test_rest_redeem_takes_tiers_and_shows_them_on_the_ledger(sandbox, shopper):
    user, order = shopper
    tier = make_tier(amount_off=300)
    client = APIClient()
    client.force_authenticate(user)
    response = client.post(REDEEM, {"tiers": [tier["id"]], "order_source_id": order.source_id}, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["discount_amount"] == 300
    assert data["redemption"]["tiers"] == [tier["id"]] and data["redemption"]["codes"] == []


@pytest.mark.urls("tests.checkout.urls")
@pytest.mark.parametrize(
    "body",
    [
        {"order": {"amount": 100}},
        {"codes": [], "tiers": [], "order": {"amount": 100}},
        {"tiers": "promo_x", "order": {"amount": 100}},
        {"tiers": [5], "order": {"amount": 100}},
        {"tiers": ["promo_x", "promo_x"], "order": {"amount": 100}},
        {"tiers": ["\u202epromo"], "order": {"amount": 100}},
        {
            "codes": [f"C{i}" for i in range(20)],
            "tiers": [f"p{i}" for i in range(11)],
            "order": {"amount": 100},
        },
    ],
)
def test_rest_refuses_bad_tiers_with_a_json_400(sandbox, body):
    response = APIClient().post(VALIDATE, body, format="json")
    assert response.status_code == 400, response.content
    data = response.json()
    assert "codes" in data or "tiers" in data, data
    assert not sandbox.calls.calls
