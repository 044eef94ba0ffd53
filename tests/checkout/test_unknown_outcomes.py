"""Which failed redeems count as "not redeemed" (D1), and abandoned PENDING rows (D5).

Only a connection that provably never opened, a 429 and an explicit 503 free the order at once.
Every other answer without a verdict (timeouts, resets, 500, 502, 504...) leaves the row UNKNOWN:
a gateway may answer 502/504 *after* Voucherify redeemed. The row is then settled by reading
redemptions back, never by redeeming again.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from django_voucherify import checkout
from django_voucherify.api.errors import (
    APIError,
    RateLimitedError,
    RequestTimeout,
    ServerError,
    TransportError,
)
from django_voucherify.checkout.validate import redeem_may_have_happened
from django_voucherify.models import CheckoutRedemption, LedgerState, Order, OrderStatus
from django_voucherify.models.ledger import REFERENCE_METADATA_KEY
from django_voucherify.tasks.checkout import checkout_sweep
from tests.support import adversary
from tests.support.checkout import checkout_settings, redemptions_of
from tests.support.vouchers import make_voucher

pytestmark = pytest.mark.django_db(transaction=True)

ORDER = {"source_id": "ORD-G", "amount": 10_000}


def redeemed(sandbox, code: str) -> int:
    return int(sandbox.state.vouchers[code]["redemption"]["redeemed_quantity"])


@pytest.mark.parametrize(
    ("exc", "may_have_happened"),
    [
        (TransportError("refused", request_sent=False), False),
        (RequestTimeout("connect timeout", request_sent=False), False),
        (RateLimitedError(429, {"key": "too_many_requests"}), False),
        (ServerError(503, {"key": "service_unavailable"}), False),
        (TransportError("connection reset"), True),
        (RequestTimeout("read timeout"), True),
        (ServerError(500, {}), True),
        (ServerError(502, {}), True),
        (ServerError(504, {}), True),
        (ServerError(507, {}), True),
        (APIError(520, {}), True),
    ],
)
def test_only_proof_of_no_processing_counts_as_not_redeemed(exc, may_have_happened):
    assert redeem_may_have_happened(exc) is may_have_happened


@pytest.mark.parametrize("status", [502, 504])
def test_gateway_error_after_redeeming_is_reconciled_not_redeemed_again(sandbox, status):
    make_voucher("MULTI")  # unlimited quantity: a second redeem would succeed, so it must not be sent
    sandbox.faults.add(path="/v1/redemptions", method="POST", times=1, status=status, after=True)
    with pytest.raises(checkout.CheckoutUnavailable) as unavailable:
        checkout.redeem(["MULTI"], ORDER, "cust-1")
    assert unavailable.value.outcome_unknown
    row = CheckoutRedemption.objects.get()
    # Reconciled at once (eager Celery, no grace): found by its marker, then undone since the
    # shop did not honour the discount. One POST /v1/redemptions ever; GETs to find it.
    assert row.state == LedgerState.ROLLED_BACK and row.redemption_ids
    assert sandbox.calls.count("POST", "/v1/redemptions") == 1
    assert sandbox.calls.count("GET", "/v1/redemptions") >= 1
    assert len(redemptions_of(sandbox, str(row.reference))) == 1
    assert redeemed(sandbox, "MULTI") == 0
    # The order is free again; the new attempt is the only live redemption.
    again = checkout.redeem(["MULTI"], ORDER, "cust-1")
    assert again.applied and redeemed(sandbox, "MULTI") == 1


@pytest.mark.parametrize("status", [502, 504])
def test_gateway_error_keeps_the_order_blocked_until_reconciled(sandbox, status, monkeypatch):
    from django_voucherify.checkout import schedule

    sent = []
    monkeypatch.setattr(schedule, "send", lambda *args: sent.append(args[:3]))  # no worker yet
    make_voucher("MULTI")
    sandbox.faults.add(path="/v1/redemptions", method="POST", times=1, status=status, after=True)
    with checkout_settings(sandbox, CHECKOUT_RECONCILE_GRACE=3600):
        with pytest.raises(checkout.CheckoutUnavailable):
            checkout.redeem(["MULTI"], ORDER, "cust-1")
        row = CheckoutRedemption.objects.get()
        assert row.state == LedgerState.UNKNOWN and row.rollback_requested_at is not None
        assert sent == [("reconcile_checkout_redemption", row.pk, 3600.0)]
        with pytest.raises(checkout.AlreadyRedeemed):  # a retried checkout sends nothing
            checkout.redeem(["MULTI"], ORDER, "cust-1")
        assert sandbox.calls.count("POST", "/v1/redemptions") == 1
        assert redeemed(sandbox, "MULTI") == 1
        # Reconciliation finds the redemption even before the grace period is over.
        row = checkout.reconcile(row)
    assert row.state == LedgerState.ROLLED_BACK
    assert redeemed(sandbox, "MULTI") == 0
    assert sandbox.calls.count("POST", "/v1/redemptions") == 1


def test_gateway_error_before_redeeming_ends_failed_after_the_grace(sandbox):
    make_voucher("MULTI")
    sandbox.faults.add(path="/v1/redemptions", method="POST", times=1, status=504)  # not processed
    with pytest.raises(checkout.CheckoutUnavailable) as unavailable:
        checkout.redeem(["MULTI"], ORDER)
    assert unavailable.value.outcome_unknown  # a 504 cannot tell, so it is read back
    row = CheckoutRedemption.objects.get()
    assert row.state == LedgerState.FAILED and row.last_error_key == "not_redeemed"
    assert redeemed(sandbox, "MULTI") == 0 and sandbox.calls.count("POST", "/v1/redemptions") == 1


# --- D5: a PENDING row whose caller died after Voucherify redeemed --------------------------------


def _abandoned_attempt(sandbox, order, *, age: timedelta = timedelta(hours=1)) -> CheckoutRedemption:
    """What a process killed right after a successful redeem leaves: a PENDING row, and a
    redemption carrying its marker in Voucherify."""
    from django_voucherify import client

    source_id = order.source_id if isinstance(order, Order) else order["source_id"]
    row = CheckoutRedemption.objects.create(
        order_source_id=source_id,
        codes=["FIVE"],
        amount=10_000,
        order=order if isinstance(order, Order) else None,
    )
    client.redemptions.redeem(
        {
            "redeemables": [{"object": "voucher", "id": "FIVE"}],
            "order": {"source_id": source_id, "amount": 10_000},
            "metadata": {REFERENCE_METADATA_KEY: str(row.reference)},
        }
    )
    CheckoutRedemption.objects.filter(pk=row.pk).update(created_at=timezone.now() - age)
    return CheckoutRedemption.objects.get(pk=row.pk)


def test_abandoned_pending_redemption_is_rolled_back(sandbox):
    make_voucher("FIVE", quantity=1)
    row = _abandoned_attempt(sandbox, {"source_id": "ORD-P", "amount": 10_000})
    assert redeemed(sandbox, "FIVE") == 1
    with checkout_settings(sandbox, CHECKOUT_RECONCILE_GRACE=60):
        assert checkout_sweep()["reconcile"] == 1
    row.refresh_from_db()
    assert row.state == LedgerState.ROLLED_BACK and row.redemption_ids
    assert row.rollback_reason.startswith("checkout interrupted")
    assert redeemed(sandbox, "FIVE") == 0  # the voucher is usable again
    assert sandbox.calls.count("POST", "/v1/redemptions") == 1  # only the abandoned one


def test_abandoned_pending_redemption_of_a_paid_order_is_kept_and_flagged(sandbox):
    make_voucher("FIVE", quantity=1)
    order = Order.objects.create(source_id="ORD-PAID", amount=10_000, status=OrderStatus.PAID)
    row = _abandoned_attempt(sandbox, order)
    with checkout_settings(sandbox, CHECKOUT_RECONCILE_GRACE=60):
        checkout_sweep()
    row.refresh_from_db()
    assert row.state == LedgerState.SUCCEEDED and row.rollback_requested_at is None
    assert row.needs_attention and "paid" in row.attention_reason
    assert redeemed(sandbox, "FIVE") == 1


def test_pending_row_within_the_grace_period_is_left_to_its_caller(sandbox):
    make_voucher("FIVE", quantity=1)
    row = _abandoned_attempt(sandbox, {"source_id": "ORD-P", "amount": 10_000}, age=timedelta(0))
    with checkout_settings(sandbox, CHECKOUT_RECONCILE_GRACE=600):
        assert checkout_sweep() == {"reconcile": 0, "rollback": 0}
        assert checkout.reconcile(row).state == LedgerState.PENDING
    assert not sandbox.calls.count("GET", "/v1/redemptions")


def test_answer_arriving_after_reconciliation_is_not_honoured(sandbox, monkeypatch):
    """A caller stalled past the grace period: reconciliation settled (and undid) its attempt
    while it waited, so the late success must not be honoured either."""

    make_voucher("FIVE", quantity=1)

    def sweep_ran_meanwhile():  # the process stalled after Voucherify answered
        row = CheckoutRedemption.objects.get()
        CheckoutRedemption.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(hours=1))
        checkout.reconcile(row)

    with (
        checkout_settings(sandbox, CHECKOUT_RECONCILE_GRACE=60),
        pytest.raises(checkout.CheckoutUnavailable) as unavailable,
    ):
        adversary.intercept(sandbox).arm(adversary.LATE_ANSWER, sweep_ran_meanwhile)
        checkout.redeem(["FIVE"], ORDER)
    assert unavailable.value.outcome_unknown
    assert CheckoutRedemption.objects.get().state == LedgerState.ROLLED_BACK
    assert redeemed(sandbox, "FIVE") == 0


def test_order_cancelled_while_the_redeem_is_in_flight_is_rolled_back(sandbox):
    make_voucher("FIVE", quantity=1)
    adversary.intercept(sandbox).arm(  # another request cancels the order meanwhile
        adversary.LATE_ANSWER, lambda: checkout.rollback_order(ORDER["source_id"], "order canceled")
    )
    with pytest.raises(checkout.CheckoutUnavailable):
        checkout.redeem(["FIVE"], ORDER)
    row = CheckoutRedemption.objects.get()
    assert row.state == LedgerState.ROLLED_BACK and row.rollback_reason == "order canceled"
    assert redeemed(sandbox, "FIVE") == 0
