"""Checkout with promotion tiers (review 19): codes and tiers given as one string, automatic
tiers of one campaign in their hierarchy, an automatic tier that refuses the stack, huge lists."""

from __future__ import annotations

import pytest

from django_voucherify import checkout
from django_voucherify.models import CheckoutRedemption

pytestmark = pytest.mark.django_db

ORDER = {"source_id": "ORD-R19", "amount": 10_000}


@pytest.mark.parametrize(("codes", "tiers"), [("SAVE5", ()), ([], "promo_abc"), ("SAVE5", "promo_abc")])
def test_one_string_for_the_codes_or_the_tiers_is_refused_not_split_into_characters(sandbox, codes, tiers):
    """A ``str`` is a ``Sequence[str]``: ``tiers="promo_abc"`` was sent as eight tiers "p", "r",
    "o"... (and ``redeem`` wrote a ledger row for them) instead of a clear error."""
    with pytest.raises(checkout.InvalidCheckoutInput):
        checkout.validate(codes, ORDER, tiers=tiers)
    with pytest.raises(checkout.InvalidCheckoutInput):
        checkout.redeem(codes, ORDER, tiers=tiers)
    with pytest.raises(checkout.InvalidCheckoutInput):
        checkout.redeem(codes, ORDER, tiers=tiers, automatic=True)
    assert not sandbox.calls.calls and not CheckoutRedemption.objects.exists()


def test_automatic_tiers_of_one_campaign_stack_in_their_hierarchy(sandbox):
    from django_voucherify import client

    client.campaigns.create(
        {
            "name": "Tiered",
            "campaign_type": "PROMOTION",
            "promotion": {
                "tiers": [
                    {"name": "Ten off", "action": {"discount": {"type": "AMOUNT", "amount_off": 1000}}},
                    {"name": "20%", "action": {"discount": {"type": "PERCENT", "percent_off": 20}}},
                ]
            },
        }
    )
    outcome = checkout.validate([], ORDER, automatic=True)
    assert [c.applicable for c in outcome.codes] == [True, True]
    assert outcome.totals.discount_amount == 1000 + 1800  # 10.00 off, then 20% of 90.00


def _once_per_customer() -> list[str]:
    """A validation rule "one redemption per customer", as rule ids for a tier. Qualifications
    ignore it (the spec's warning: "Redemptions per customer"), validations and redeems do not."""
    from django_voucherify import client

    rule = client.transport.request(
        "POST",
        "/v1/validation-rules",
        json={
            "name": "First order only",
            "rules": {"1": {"name": "redemption.count.per_customer", "conditions": {"$less_than": [1]}}},
            "error": {"message": "Only on your first order"},
        },
    )
    return [str(rule["id"])]


def test_an_automatic_tier_the_customer_used_up_does_not_refuse_their_next_order(sandbox):
    """Qualifications list a tier whose per-customer limit is spent (and, in Voucherify, a tier
    disabled less than 5 minutes ago: its cache), so automatic=True put it in every later stack,
    and Voucherify refused the whole stack: the returning customer's own code was refused (and
    with no code, every automatic checkout) for as long as the promotion ran."""
    from tests.support.vouchers import make_tier, make_voucher

    first_order = make_tier("First order 3 off", amount_off=300, validation_rules=_once_per_customer())
    anyone = make_tier("Two off", amount_off=200)
    make_voucher("FIVE", amount_off=500)
    done = checkout.redeem([], {**ORDER, "source_id": "ORD-1"}, "ann", automatic=True)
    assert sorted(done.ledger.tiers) == sorted([first_order["id"], anyone["id"]])

    second = {**ORDER, "source_id": "ORD-2"}
    checked = checkout.validate(["FIVE"], second, "ann", automatic=True)
    assert checked.valid, [(c.code, c.reason) for c in checked.codes]
    assert [(c.code, c.applicable) for c in checked.codes] == [("FIVE", True), (anyone["id"], True)]
    assert checked.totals.discount_amount == 700

    outcome = checkout.redeem(["FIVE"], second, "ann", automatic=True)
    assert outcome.applied and outcome.totals.discount_amount == 700
    assert outcome.ledger.codes == ["FIVE"] and outcome.ledger.tiers == [anyone["id"]]
    assert CheckoutRedemption.objects.live().filter(order_source_id="ORD-2").count() == 1


def test_when_the_check_after_a_refusal_meets_an_outage_the_refusal_stands(sandbox):
    """The validation that looks for the automatic tier to blame gets no answer: the redeem's
    own refusal is raised, and nothing more is sent."""
    from tests.support.vouchers import make_tier, make_voucher

    make_tier("First order 3 off", amount_off=300, validation_rules=_once_per_customer())
    make_voucher("FIVE", amount_off=500)
    checkout.redeem([], {**ORDER, "source_id": "ORD-1"}, "ann", automatic=True)
    sandbox.faults.add(path="/v1/validations", method="POST", status=503)
    with pytest.raises(checkout.CodesRefused):
        checkout.redeem(["FIVE"], {**ORDER, "source_id": "ORD-2"}, "ann", automatic=True)
    assert sandbox.calls.count("POST", "/v1/redemptions") == 2  # ORD-1's, then ORD-2's refused one
    assert not CheckoutRedemption.objects.live().filter(order_source_id="ORD-2").exists()


def test_a_tier_disabled_after_the_lookup_leaves_the_customers_code_redeemed(sandbox, monkeypatch):
    """Voucherify caches qualifications for five minutes: a tier disabled meanwhile still
    qualifies. The redeem it refuses is sent again without it, on a new ledger row."""
    import importlib

    from tests.support.vouchers import make_tier, make_voucher

    redeem_module = importlib.import_module("django_voucherify.checkout.redeem")
    tier = make_tier("Three off", amount_off=300)
    make_voucher("FIVE", amount_off=500)
    real = redeem_module.with_automatic

    def then_disable(*args, **kwargs):
        found = real(*args, **kwargs)
        sandbox.state.extra["promotion_tiers"][tier["id"]]["active"] = False
        return found

    monkeypatch.setattr(redeem_module, "with_automatic", then_disable)
    outcome = checkout.redeem(["FIVE"], ORDER, automatic=True)
    assert outcome.applied and outcome.totals.discount_amount == 500
    assert outcome.ledger.codes == ["FIVE"] and outcome.ledger.tiers == []
    refused = CheckoutRedemption.objects.exclude(pk=outcome.ledger.pk).get()
    assert refused.state == "FAILED" and refused.tiers == [tier["id"]]


@pytest.mark.parametrize(
    ("codes", "tiers"),
    [
        ([], [f"promo_{i}" for i in range(100_000)]),
        ([f"C{i}" for i in range(100_000)], []),
        (["SAME"] * 100_000, []),
    ],
)
def test_a_huge_list_is_refused_after_the_first_thirty_one_not_after_checking_all(
    sandbox, monkeypatch, codes, tiers
):
    """Every element was checked against the code rule before the count was: 200,000 tier ids
    took over 20 s of CPU to be refused (and duplicates of one code were each checked)."""
    from django_voucherify.checkout import cart

    checked: list[str] = []
    real = cart.code_problem
    monkeypatch.setattr(cart, "code_problem", lambda code: checked.append(code) or real(code))
    if len(set(codes)) == 1:
        assert [r.code for r in cart.redeemables(codes, tiers)] == ["SAME"]
    else:
        with pytest.raises(checkout.InvalidCheckoutInput):
            cart.redeemables(codes, tiers)
    assert len(checked) <= cart.MAX_REDEEMABLES + 1
