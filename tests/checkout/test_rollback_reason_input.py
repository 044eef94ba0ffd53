"""A rollback reason the ledger cannot store (a NUL character, a lone surrogate) is refused
before anything is written or sent, at every door (hostile review of checkout).

Old code: the admin's "Roll back selected redemptions" with a NUL in the reason answered a 500
page and rolled nothing back (PostgreSQL refuses NUL in text, after the row was locked);
``checkout.rollback``/``request_rollback``/``rollback_order`` raised the database's error.
"""

from __future__ import annotations

from functools import partial

import pytest

from django_voucherify import checkout
from django_voucherify.models import CheckoutRedemption, LedgerState
from tests.support.admin import post_action
from tests.support.checkout import live_redemptions
from tests.support.vouchers import make_voucher

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("tests.checkout.urls")]

URL = "/admin/django_voucherify/checkoutredemption/"
ORDER = {"source_id": "ORD-REASON", "amount": 1000}
UNSTORABLE = ["goodwill\x00", "goodwill \ud800"]


def test_the_admin_action_says_why_and_rolls_nothing_back(sandbox, admin_client):
    reason = "goodwill\x00"  # a form cannot carry a lone surrogate: UTF-8 bytes only
    make_voucher("FIVE")
    row = checkout.redeem(["FIVE"], ORDER).ledger
    admin_client.raise_request_exception = False
    rollback = partial(post_action, admin_client, URL, "rollback_selected", [row], post="yes", follow=True)
    page = rollback(reason=reason)
    assert page.status_code == 200
    assert "NUL character" in page.content.decode()
    row.refresh_from_db()
    assert row.state == LedgerState.SUCCEEDED and row.rollback_requested_at is None
    # A reason it can store then goes through.
    rollback(reason="goodwill")
    assert CheckoutRedemption.objects.get().state == LedgerState.ROLLED_BACK


@pytest.mark.parametrize("reason", UNSTORABLE, ids=["nul", "surrogate"])
def test_the_python_api_refuses_the_reason_before_writing(sandbox, reason):
    make_voucher("FIVE")
    row = checkout.redeem(["FIVE"], ORDER).ledger
    for call in (
        lambda: checkout.rollback(row, reason),
        lambda: checkout.request_rollback(row, reason),
        lambda: checkout.rollback_order(ORDER["source_id"], reason),
    ):
        with pytest.raises(checkout.InvalidCheckoutInput):
            call()
    row.refresh_from_db()
    assert row.state == LedgerState.SUCCEEDED and row.rollback_requested_at is None
    assert len(live_redemptions(sandbox)) == 1


def test_redeem_then_pay_refuses_the_reason_before_redeeming(sandbox):
    """Refused only once the payment had failed, it replaced the payment's error and left the
    redemption live for an unpaid order."""
    make_voucher("FIVE")

    def pay(outcome: checkout.RedeemOutcome) -> None:
        raise RuntimeError("card declined")

    with pytest.raises(checkout.InvalidCheckoutInput):
        checkout.redeem_then_pay(["FIVE"], ORDER, pay, rollback_reason="declined\x00")
    assert not CheckoutRedemption.objects.exists() and live_redemptions(sandbox) == []
