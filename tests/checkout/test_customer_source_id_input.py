"""The customer's source id given to ``checkout.validate``/``redeem``/``offers`` is checked by the
one source-id validator, as the order's is (hostile review of checkout): refused before anything
is written or sent.

Old code sent it as given and recorded it cut to 200 characters on the ledger row: a redeem for
a customer with a longer source id whose answer was lost (a 502 after Voucherify redeemed) was
reconciled by listing the cut id's redemptions, found none, and was concluded FAILED
``not_redeemed`` with the redemption left live. Control and bidi characters went through too.
"""

from __future__ import annotations

from typing import Any

import pytest

from django_voucherify import checkout
from django_voucherify.checkout import schedule
from django_voucherify.models import CheckoutRedemption, LedgerState
from tests.support.checkout import live_redemptions
from tests.support.vouchers import make_voucher

pytestmark = pytest.mark.django_db(transaction=True)

ORDER = {"source_id": "ORD-CUSTOMER-ID", "amount": 10_000}

BAD_IDS = ["c" * 201, "ann\x00", "ann\u202e", " ann", "ann\u200b"]
IDS = ["too-long", "nul", "bidi", "leading-space", "zero-width"]


@pytest.mark.parametrize("as_mapping", [False, True], ids=["text", "mapping"])
@pytest.mark.parametrize("source_id", BAD_IDS, ids=IDS)
def test_a_bad_customer_source_id_is_refused_before_anything_is_written(sandbox, source_id, as_mapping):
    make_voucher("FIVE")
    customer: Any = {"source_id": source_id, "email": "ann@example.com"} if as_mapping else source_id
    before = len(sandbox.calls.calls)
    for call in (
        lambda: checkout.redeem(["FIVE"], ORDER, customer),
        lambda: checkout.validate(["FIVE"], ORDER, customer),
        lambda: checkout.offers(ORDER, customer),
    ):
        with pytest.raises(checkout.InvalidCheckoutInput):
            call()
    assert not CheckoutRedemption.objects.exists() and len(sandbox.calls.calls) == before


@pytest.mark.parametrize(
    "customer", [5, ["ann"], [("source_id", "ann")], b"ann"], ids=["int", "list", "pairs", "bytes"]
)
def test_a_customer_of_another_type_is_refused_before_anything_is_written(sandbox, customer):
    """Old code: ``dict(customer)``: a TypeError or ValueError (not InvalidCheckoutInput, so a
    500 for a view catching checkout's errors), and a list of pairs was taken as a customer."""
    make_voucher("FIVE")
    before = len(sandbox.calls.calls)
    for call in (
        lambda: checkout.redeem(["FIVE"], ORDER, customer),
        lambda: checkout.validate(["FIVE"], ORDER, customer),
        lambda: checkout.offers(ORDER, customer),
    ):
        with pytest.raises(checkout.InvalidCheckoutInput, match="A customer is"):
            call()
    assert not CheckoutRedemption.objects.exists() and len(sandbox.calls.calls) == before


def test_a_long_customer_id_no_longer_hides_a_lost_redeem_from_reconciliation(sandbox, monkeypatch):
    """At the limit (200 characters) the ledger keeps the whole id, and reconciliation finds
    the redemption under it."""
    monkeypatch.setattr(schedule, "send", lambda *args, **kwargs: True)
    make_voucher("MULTI")
    sandbox.faults.add(path="/v1/redemptions", method="POST", times=1, status=502, after=True)
    with pytest.raises(checkout.CheckoutUnavailable):
        checkout.redeem(["MULTI"], ORDER, "c" * 200)
    row = checkout.reconcile(CheckoutRedemption.objects.get())
    assert row.state == LedgerState.ROLLED_BACK and live_redemptions(sandbox) == []


@pytest.mark.parametrize("customer", [None, "", {"email": "guest@example.com"}])
def test_customers_without_a_bad_source_id_still_redeem(sandbox, customer):
    make_voucher("FIVE")
    assert checkout.redeem(["FIVE"], ORDER, customer).applied


def test_a_source_id_that_is_not_text_is_refused_before_the_ledger_row(sandbox):
    """It used to write the row, then be refused by Voucherify (``customer.source_id`` must be
    a string): a FAILED row and a request for nothing."""
    make_voucher("FIVE")
    with pytest.raises(checkout.InvalidCheckoutInput):
        checkout.redeem(["FIVE"], ORDER, {"source_id": 42})
    assert not CheckoutRedemption.objects.exists()
