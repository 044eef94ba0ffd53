"""The periodic sweep and the task chains: one chain per ledger row, however often the sweep
runs during an outage; bounded reconciliation, then flagged for staff and swept slowly (D4)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from django_voucherify import checkout
from django_voucherify.models import CheckoutRedemption, LedgerState
from django_voucherify.tasks import checkout as tasks
from tests.support.checkout import checkout_settings
from tests.support.vouchers import make_voucher

pytestmark = pytest.mark.django_db(transaction=True)


class Broker:
    """Records the tasks sent instead of running them (a broker with no worker yet)."""

    def __init__(self, monkeypatch):
        self.sent: list[tuple[str, int]] = []
        for task in (tasks.rollback_checkout_redemption, tasks.reconcile_checkout_redemption):
            monkeypatch.setattr(task, "apply_async", self._recorder(task))

    def _recorder(self, task):
        def apply_async(args, **kwargs):
            self.sent.append((task.name.rsplit(".", 1)[-1], args[0]))

        return apply_async

    def take(self) -> list[tuple[str, int]]:
        taken, self.sent = self.sent, []
        return taken

    def work(self, messages):
        """A worker runs each message once; what the task schedules next is recorded."""
        for name, pk in messages:
            getattr(tasks, name).apply(args=(pk,))


def _outage(sandbox):
    sandbox.faults.add(path="/v1/redemptions", method="GET", status=503)
    sandbox.faults.add(path="/v1/redemptions/*/rollback", method="POST", status=503)


def _rows(sandbox):
    """An UNKNOWN redeem (answer lost after redeeming) and a succeeded one whose rollback is due."""
    make_voucher("FIVE")
    sandbox.faults.add(path="/v1/redemptions", method="POST", drop=True, after=True, times=1)
    with pytest.raises(checkout.CheckoutUnavailable):
        checkout.redeem(["FIVE"], {"source_id": "ORD-U", "amount": 1000})
    done = checkout.redeem(["FIVE"], {"source_id": "ORD-R", "amount": 1000}).ledger
    CheckoutRedemption.objects.filter(pk=done.pk).update(
        rollback_requested_at=timezone.now(), rollback_reason="refund"
    )
    return (
        CheckoutRedemption.objects.get(order_source_id="ORD-U"),
        CheckoutRedemption.objects.get(order_source_id="ORD-R"),
    )


def test_repeated_sweeps_send_one_rollback(sandbox, monkeypatch):
    make_voucher("R1")
    out = checkout.redeem(["R1"], {"source_id": "O-1", "amount": 1000})
    CheckoutRedemption.objects.filter(pk=out.ledger.pk).update(rollback_requested_at=timezone.now())
    broker = Broker(monkeypatch)
    for _ in range(5):
        tasks.checkout_sweep()
    assert broker.take() == [("rollback_checkout_redemption", out.ledger.pk)]


def test_sweeps_during_an_outage_keep_one_chain_per_row(sandbox, monkeypatch):
    broker = Broker(monkeypatch)
    unknown, rollback = _rows(sandbox)
    # The redeem scheduled its own reconcile (leased until due): the sweep leaves it alone.
    assert broker.take() == [("reconcile_checkout_redemption", unknown.pk)]
    _outage(sandbox)
    for _ in range(5):
        tasks.checkout_sweep()
    assert broker.take() == [("rollback_checkout_redemption", rollback.pk)]
    CheckoutRedemption.objects.filter(pk=unknown.pk).update(due_at=timezone.now())
    messages = [("reconcile_checkout_redemption", unknown.pk), ("rollback_checkout_redemption", rollback.pk)]
    for _round in range(3):
        broker.work(messages)  # each attempt fails and schedules exactly its own next attempt
        messages = broker.take()
        assert sorted(messages) == sorted(
            [("reconcile_checkout_redemption", unknown.pk), ("rollback_checkout_redemption", rollback.pk)]
        )
        for _ in range(5):
            tasks.checkout_sweep()
        assert broker.take() == []  # the chains hold their rows
    for row in CheckoutRedemption.objects.all():
        assert row.lease_until > row.due_at > timezone.now() - timedelta(seconds=1)


def test_a_lost_task_is_resent_once_its_lease_expires(sandbox, monkeypatch):
    broker = Broker(monkeypatch)
    _rows(sandbox)
    broker.take()
    tasks.checkout_sweep()
    broker.take()  # both rows leased; imagine the broker lost these messages
    past = timezone.now() - timedelta(seconds=1)
    CheckoutRedemption.objects.update(lease_until=past, due_at=past)
    assert tasks.checkout_sweep() == {"reconcile": 1, "rollback": 1}
    assert tasks.checkout_sweep() == {"reconcile": 0, "rollback": 0}
    assert len(broker.take()) == 2


def test_reconcile_is_bounded_then_flagged_and_swept_slowly(sandbox):
    make_voucher("FIVE", quantity=1)
    sandbox.faults.add(path="/v1/redemptions", method="POST", drop=True, after=True, times=1)
    with checkout_settings(sandbox, CHECKOUT_RECONCILE_MAX_ATTEMPTS=3):
        _outage(sandbox)  # reads fail from the start: the eager chain runs its attempts inline
        with pytest.raises(checkout.CheckoutUnavailable):
            checkout.redeem(["FIVE"], {"source_id": "ORD-U", "amount": 1000})
        row = CheckoutRedemption.objects.get()
        assert row.state == LedgerState.UNKNOWN and row.reconcile_attempts == 3
        assert row.needs_attention and "still unknown after 3" in row.attention_reason
        assert row.lease_until is None
        assert row.due_at > timezone.now() + timedelta(minutes=59)  # 3600 s by default
        assert tasks.checkout_sweep() == {"reconcile": 0, "rollback": 0}  # not due yet
        CheckoutRedemption.objects.update(due_at=timezone.now())
        assert tasks.checkout_sweep() == {"reconcile": 1, "rollback": 0}  # one slow read
        row.refresh_from_db()
        assert row.reconcile_attempts == 4 and row.due_at > timezone.now() + timedelta(minutes=59)
        sandbox.faults.clear()  # Voucherify is back
        CheckoutRedemption.objects.update(due_at=timezone.now())
        tasks.checkout_sweep()
    row.refresh_from_db()
    assert row.state == LedgerState.ROLLED_BACK and row.lease_until is None
    assert sandbox.state.vouchers["FIVE"]["redemption"]["redeemed_quantity"] == 0
