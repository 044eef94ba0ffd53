"""Faults injected in the sandbox never produce a double redemption or a lost rollback.

``after=True`` faults let the sandbox act on the request and then lose (or spoil) the answer:
the case where only reading redemptions back can tell what happened.
"""

from __future__ import annotations

import pytest

from django_voucherify import checkout
from django_voucherify.models import CheckoutRedemption, LedgerState
from django_voucherify.tasks.checkout import checkout_sweep
from tests.support.checkout import checkout_settings, redemptions_of
from tests.support.vouchers import make_voucher

pytestmark = pytest.mark.django_db(transaction=True)  # on_commit runs: tasks are really enqueued

ORDER = {"source_id": "ORD-F", "amount": 10_000}


@pytest.mark.parametrize(
    "fault",
    [
        {"latency": 2.0, "after": True},  # read timeout, but Voucherify redeemed
        {"drop": True, "after": True},  # connection dropped after redeeming
        {"status": 500, "after": True},  # Voucherify redeemed, then failed answering
    ],
)
def test_unanswered_redeem_that_happened_is_found_and_rolled_back(sandbox, fault):
    make_voucher("FIVE", quantity=1)
    sandbox.faults.add(path="/v1/redemptions", method="POST", times=1, **fault)
    with pytest.raises(checkout.CheckoutUnavailable) as unavailable:
        checkout.redeem(["FIVE"], ORDER, "cust-1")
    assert unavailable.value.outcome_unknown
    row = CheckoutRedemption.objects.get()
    # Reconciled by listing (eager Celery), never by redeeming again; then undone, since the
    # checkout did not honour the discount.
    assert sandbox.calls.count("POST", "/v1/redemptions") == (1 if fault.get("status") else 0)
    assert sandbox.calls.count("GET", "/v1/redemptions") >= 1
    assert row.state == LedgerState.ROLLED_BACK and row.redemption_ids
    assert sandbox.state.vouchers["FIVE"]["redemption"]["redeemed_quantity"] == 0
    assert len(redemptions_of(sandbox, str(row.reference))) == 1


@pytest.mark.parametrize("fault", [{"latency": 2.0}, {"drop": True}])
def test_unanswered_redeem_that_never_happened_ends_failed(sandbox, fault):
    make_voucher("FIVE")
    sandbox.faults.add(path="/v1/redemptions", method="POST", times=1, **fault)
    with pytest.raises(checkout.CheckoutUnavailable):
        checkout.redeem(["FIVE"], ORDER)
    row = CheckoutRedemption.objects.get()
    assert row.state == LedgerState.FAILED and row.last_error_key == "not_redeemed"
    assert not redemptions_of(sandbox)
    assert checkout.redeem(["FIVE"], ORDER).applied  # the order is free for a new attempt


def test_unknown_stays_unknown_within_the_grace_period(sandbox):
    make_voucher("FIVE")
    sandbox.faults.add(path="/v1/redemptions", method="POST", times=1, drop=True)
    with checkout_settings(sandbox, CHECKOUT_RECONCILE_GRACE=3600):
        with pytest.raises(checkout.CheckoutUnavailable):
            checkout.redeem(["FIVE"], ORDER)
        row = CheckoutRedemption.objects.get()
        assert row.state == LedgerState.UNKNOWN  # nothing found yet proves nothing
        with pytest.raises(checkout.AlreadyRedeemed):
            checkout.redeem(["FIVE"], ORDER)  # and the order cannot be redeemed meanwhile
    assert checkout.reconcile(row).state == LedgerState.FAILED  # grace over (0 s again)


@pytest.mark.parametrize("status", [429, 503])
def test_answers_that_prove_nothing_happened_fail_at_once(sandbox, status):
    make_voucher("FIVE")
    sandbox.faults.add(path="/v1/redemptions", method="POST", times=1, status=status)
    with pytest.raises(checkout.CheckoutUnavailable) as unavailable:
        checkout.redeem(["FIVE"], ORDER)
    assert not unavailable.value.outcome_unknown
    assert CheckoutRedemption.objects.get().state == LedgerState.FAILED
    assert sandbox.calls.count("POST", "/v1/redemptions") == 1  # never retried


def test_proceed_without_discount_policy(sandbox):
    make_voucher("FIVE", quantity=1)
    sandbox.faults.add(path="/v1/redemptions", method="POST", times=1, drop=True, after=True)
    with checkout_settings(sandbox, CHECKOUT_OUTAGE_POLICY="proceed_without_discount"):
        outcome = checkout.redeem(["FIVE"], ORDER)
        assert not outcome.applied and outcome.notice
        assert outcome.totals.total_amount == 10_000
        sandbox.faults.add(path="/v1/validations", times=1, status=503)
        validation = checkout.validate(["FIVE"], ORDER)
        assert validation.unavailable and validation.totals.discount_amount == 0
    assert sandbox.state.vouchers["FIVE"]["redemption"]["redeemed_quantity"] == 0  # undone


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 503, "times": 2},
        {"status": 429, "retry_after": 0.01, "times": 2},
        {"drop": True, "times": 1},
        {"latency": 2.0, "after": True, "times": 1},  # rolled back, answer lost: retry is told so
    ],
)
def test_failed_rollback_is_retried_until_done(sandbox, fault):
    make_voucher("FIVE", quantity=1)
    sandbox.faults.add(path="/v1/redemptions/*/rollback", method="POST", **fault)

    def declined(outcome):
        raise RuntimeError("card declined")

    with pytest.raises(RuntimeError):
        checkout.redeem_then_pay(["FIVE"], ORDER, declined)
    row = CheckoutRedemption.objects.get()
    assert row.state == LedgerState.ROLLED_BACK and row.rollback_attempts >= 2
    assert sandbox.state.vouchers["FIVE"]["redemption"]["redeemed_quantity"] == 0


def test_rollback_survives_a_broker_outage_through_the_sweep(sandbox, monkeypatch):
    make_voucher("FIVE")
    outcome = checkout.redeem(["FIVE"], ORDER)
    sandbox.faults.add(path="/v1/redemptions/*/rollback", method="POST", status=503, times=1)
    from django_voucherify.tasks import checkout as tasks

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.rollback_checkout_redemption, "apply_async", broker_down)
    row = checkout.request_rollback(outcome.ledger, "payment failed")
    assert row.rollback_pending and row.rollback_error
    monkeypatch.undo()
    assert checkout_sweep() == {"reconcile": 0, "rollback": 1}
    assert CheckoutRedemption.objects.get().state == LedgerState.ROLLED_BACK


def test_canceling_the_order_mirror_rolls_back_its_redemptions(sandbox):
    from django_voucherify.models import Order, OrderStatus

    make_voucher("FIVE", quantity=1)
    order = Order.objects.create(source_id="ORD-M", amount=5000)
    outcome = checkout.redeem(["FIVE"], order)
    assert outcome.ledger.order_id == order.pk
    order.status = OrderStatus.CANCELED
    order.save()
    row = CheckoutRedemption.objects.get()
    assert row.state == LedgerState.ROLLED_BACK and row.rollback_reason == "order canceled"
    assert sandbox.state.vouchers["FIVE"]["redemption"]["redeemed_quantity"] == 0


def test_cancelling_a_shop_order_through_its_registry_mapping_rolls_back_its_redemptions(sandbox):
    """The registry writes the mirror with one INSERT ... ON CONFLICT statement, which sends no
    post_save: the receiver that rolls back a cancelled order's redemptions never ran, so a shop
    order cancelled through its mapping (what docs/checkout.md promises) kept its codes spent."""
    from django.contrib.auth import get_user_model

    from django_voucherify.models import Order
    from django_voucherify.sync import registry

    User = get_user_model()  # any model works: a user stands in for the shop's order
    registry.connect(
        User,
        Order,
        lambda u: {
            "source_id": f"shop-{u.pk}",
            "status": "PAID" if u.is_active else "CANCELED",
            "amount": 5000,
        },
    )
    try:
        user = User.objects.create_user("buyer")
        make_voucher("ONCE", quantity=1)
        outcome = checkout.redeem(["ONCE"], Order.objects.get(source_id=f"shop-{user.pk}"))
        assert outcome.ledger.state == LedgerState.SUCCEEDED
        user.is_active = False
        user.save()  # the shop cancels its order; the mapping says CANCELED
        row = CheckoutRedemption.objects.get()
        assert row.state == LedgerState.ROLLED_BACK and row.rollback_reason == "order canceled"
        assert sandbox.state.vouchers["ONCE"]["redemption"]["redeemed_quantity"] == 0
        user.save()  # saved again while cancelled: nothing more is asked
        assert CheckoutRedemption.objects.get().state == LedgerState.ROLLED_BACK
    finally:
        registry.disconnect(User)
