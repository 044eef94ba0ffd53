"""Checkout with ``automatic=True`` when an automatic tier refuses the stack: qualifications list
a tier Voucherify then refuses (its per-customer limit spent, or disabled within its five-minute
cache), and the customer's own codes are redeemed without it. Review 19 found such a tier put in
every later stack refused the returning customer's code (and every automatic checkout)."""

from __future__ import annotations

import pytest

from django_voucherify import checkout
from django_voucherify.models import CheckoutRedemption
from tests.support.vouchers import once_per_customer_rule

pytestmark = pytest.mark.django_db

ORDER = {"source_id": "ORD-R19", "amount": 10_000}


def test_an_automatic_tier_the_customer_used_up_does_not_refuse_their_next_order(sandbox):
    """Qualifications list a tier whose per-customer limit is spent (and, in Voucherify, a tier
    disabled less than 5 minutes ago: its cache), so automatic=True put it in every later stack,
    and Voucherify refused the whole stack: the returning customer's own code was refused (and
    with no code, every automatic checkout) for as long as the promotion ran."""
    from tests.support.vouchers import make_tier, make_voucher

    first_order = make_tier("First order 3 off", amount_off=300, validation_rules=once_per_customer_rule())
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

    make_tier("First order 3 off", amount_off=300, validation_rules=once_per_customer_rule())
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
