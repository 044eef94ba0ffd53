"""Checkout tasks: thin shells over :mod:`django_voucherify.checkout`.

- ``rollback_checkout_redemption``: re-scheduled with backoff until Voucherify confirms (a
  refusal too: it is flagged for staff, never dropped).
- ``reconcile_checkout_redemption``: settles an UNKNOWN (or abandoned PENDING) redeem by reading
  redemptions back; after ``CHECKOUT_RECONCILE_MAX_ATTEMPTS`` reads the row is flagged for staff
  and left to the sweep's slow rate (``CHECKOUT_ATTENTION_INTERVAL``).
- ``late_check_checkout_redemption``: the late look at a row reconciliation concluded "not
  redeemed" (``CHECKOUT_LATE_CHECK_AFTER`` later): a redemption Voucherify processed after the
  grace period becomes ORPHANED and is rolled back (the chain's next step).
- ``checkout_sweep`` (periodic, celery beat): re-drives what a lost task or a broker outage left
  behind::

    CELERY_BEAT_SCHEDULE = {
        "voucherify-checkout": {"task": "django_voucherify.checkout_sweep", "schedule": 60.0},
    }

One task chain per ledger row (see :mod:`django_voucherify.checkout.schedule`): each task holds
the row's lease, and its last step either schedules the row's next task (re-leasing the row) or
releases it. The sweep only sends tasks for rows that are due and not leased, so running it
during an outage does not multiply chains.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.utils import timezone

from ..checkout import schedule
from ..checkout.errors import RollbackFailed
from ..checkout.reconcile import late_check as late_check_service
from ..checkout.reconcile import reconcile as reconcile_service
from ..checkout.rollback import rollback as rollback_service
from ..checkout.rollback import rollback_delay
from ..conf import settings as voucherify_settings
from ..models.ledger import CheckoutRedemption, LedgerState

logger = logging.getLogger("django_voucherify.checkout")

#: Eager Celery (tests, the demo) runs a re-scheduled task inline, ignoring its countdown: after
#: that many attempts the row is left to the periodic sweep instead of recursing.
EAGER_RETRY_LIMIT = 20

#: Rows the sweep leases and sends per run (the rest wait for the next run).
SWEEP_BATCH = 500


def _flag(ledger_id: int, reason: str) -> None:
    CheckoutRedemption.objects.filter(pk=ledger_id, needs_attention=False).update(
        needs_attention=True, attention_reason=reason[:200]
    )


def _next_step(task: Any, ledger_id: int, attempts: int, countdown: float) -> str:
    """Schedule the row's next task (this chain keeps the lease) or release it."""
    row = CheckoutRedemption.objects.get(pk=ledger_id)
    name = schedule.task_for(row)
    if name is None:
        schedule.release(ledger_id)
        return str(row.state)
    if task.request.is_eager and attempts >= EAGER_RETRY_LIMIT:
        logger.warning("Voucherify checkout: giving ledger row %s to the periodic sweep", ledger_id)
        schedule.release(ledger_id, next_attempt_in=countdown)
        return "left to the sweep"
    schedule.lease(ledger_id, countdown, force=True)
    schedule.send(name, ledger_id, countdown)
    return "retrying"


@shared_task(
    bind=True, name="django_voucherify.rollback_checkout_redemption", acks_late=True, ignore_result=True
)
def rollback_checkout_redemption(self: Any, ledger_id: int) -> str:
    """Roll ledger row ``ledger_id`` back; re-schedules itself until Voucherify confirms."""
    conf = voucherify_settings()
    try:
        row = rollback_service(ledger_id)
    except CheckoutRedemption.DoesNotExist:
        return "missing"
    except RollbackFailed as exc:
        # Every failure is retried, refusals too (a 401 is fixed by new keys, not by giving up);
        # a refusal was flagged for staff when recorded.
        attempts = exc.ledger.rollback_attempts if exc.ledger else 1
        if attempts >= conf.checkout_reconcile_max_attempts:
            # Still retried (a voucher is held for an order never paid), but staff should know.
            _flag(ledger_id, f"rollback not confirmed after {attempts} attempts: {exc.message}")
        return _next_step(self, ledger_id, attempts, rollback_delay(attempts, exc.retry_after))
    return _next_step(self, ledger_id, row.rollback_attempts, 0)


def reconcile_delay(attempts: int) -> float:
    """Seconds before the next read of an unsettled row: a quarter of the grace period (at
    least the rollback backoff, at least 1 s), doubling per attempt, capped at the backoff max."""
    conf = voucherify_settings()
    base = max(conf.checkout_reconcile_grace / 4, conf.checkout_rollback_backoff, 1.0)
    return float(min(max(conf.checkout_rollback_backoff_max, base), base * 2 ** max(attempts - 1, 0)))


@shared_task(
    bind=True, name="django_voucherify.reconcile_checkout_redemption", acks_late=True, ignore_result=True
)
def reconcile_checkout_redemption(self: Any, ledger_id: int) -> str:
    """Settle UNKNOWN ledger row ``ledger_id`` from Voucherify's redemption list."""
    from ..api.errors import VoucherifyError

    conf = voucherify_settings()
    try:
        row = reconcile_service(ledger_id, roll_back=False)  # the rollback is this chain's next step
    except CheckoutRedemption.DoesNotExist:
        return "missing"
    except VoucherifyError:  # Voucherify still unreachable: read again later
        row = CheckoutRedemption.objects.get(pk=ledger_id)
    else:
        if row.state not in (LedgerState.UNKNOWN, LedgerState.PENDING):
            return _next_step(self, ledger_id, row.rollback_attempts, 0)
        if row.state == LedgerState.PENDING:  # its caller may still be waiting: not ours yet
            schedule.release(ledger_id, keep_due=True)
            return str(row.state)
        if self.request.is_eager:  # still within the grace period; an inline retry cannot wait
            schedule.release(ledger_id, next_attempt_in=reconcile_delay(row.reconcile_attempts))
            return str(row.state)
    attempts = row.reconcile_attempts
    if attempts >= conf.checkout_reconcile_max_attempts:
        _flag(ledger_id, f"outcome still unknown after {attempts} reads of Voucherify's redemptions")
        schedule.release(ledger_id, next_attempt_in=conf.checkout_attention_interval)
        logger.error(
            "Voucherify checkout: ledger row %s still unknown after %s attempts; flagged "
            "for staff, re-read every %ss.",
            ledger_id,
            attempts,
            conf.checkout_attention_interval,
        )
        return "needs attention"
    return _next_step(self, ledger_id, attempts, reconcile_delay(attempts))


@shared_task(
    bind=True, name="django_voucherify.late_check_checkout_redemption", acks_late=True, ignore_result=True
)
def late_check_checkout_redemption(self: Any, ledger_id: int) -> str:
    """Look once more at FAILED (``not_redeemed``) row ``ledger_id``; roll back what landed late."""
    from ..api.errors import VoucherifyError

    try:
        row = late_check_service(ledger_id, roll_back=False)  # the rollback is this chain's next step
    except CheckoutRedemption.DoesNotExist:
        return "missing"
    except VoucherifyError:  # Voucherify unreachable: the late check stays due; read again later
        row = CheckoutRedemption.objects.get(pk=ledger_id)
        schedule.release(ledger_id, next_attempt_in=reconcile_delay(row.reconcile_attempts))
        return "retrying later"
    return _next_step(self, ledger_id, row.rollback_attempts, 0)


@shared_task(name="django_voucherify.checkout_sweep", ignore_result=True)
def checkout_sweep() -> dict[str, int]:
    """Send the next task of every row that needs one, is due and is held by no task chain:
    UNKNOWN and abandoned PENDING rows (reconcile), pending rollbacks, and late checks of rows
    concluded "not redeemed" (counted as reconcile reads)."""
    conf = voucherify_settings()
    now = timezone.now()
    stale = now - timedelta(seconds=conf.checkout_reconcile_grace)
    counts = {"reconcile": 0, "rollback": 0}
    for pk, name in schedule.claim_due_rows(now, stale, SWEEP_BATCH):
        schedule.send(name, pk, None)
        counts["rollback" if name == schedule.ROLLBACK_TASK else "reconcile"] += 1
    return counts
