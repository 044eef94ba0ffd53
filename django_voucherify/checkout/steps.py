"""The steps of a ledger row's task chain: run one service call, then apply the retry policy of
:mod:`.schedule` (next task, backoff, flag for staff). The Celery tasks only call these.

- :func:`rollback_step`: retried with backoff until Voucherify confirms (a refusal too: it is
  flagged for staff, never dropped).
- :func:`reconcile_step`: settles an UNKNOWN (or abandoned PENDING) redeem by reading redemptions
  back; after ``CHECKOUT_RECONCILE_MAX_ATTEMPTS`` reads the row is flagged for staff and left
  to the sweep's slow rate (``CHECKOUT_ATTENTION_INTERVAL``).
- :func:`late_check_step`: the late look at a row reconciliation concluded "not redeemed": a
  redemption Voucherify processed after the grace period becomes ORPHANED and is rolled back
  (the chain's next step).
"""

from __future__ import annotations

import logging

from ..api.errors import VoucherifyError
from ..conf import settings as voucherify_settings
from ..models.ledger import CheckoutRedemption, LedgerState
from . import schedule
from .errors import RollbackFailed
from .reconcile import late_check, reconcile
from .rollback import rollback

logger = logging.getLogger("django_voucherify.checkout")


def rollback_step(ledger_id: int) -> str:
    """Roll ledger row ``ledger_id`` back; schedules itself again until Voucherify confirms."""
    try:
        row = rollback(ledger_id)
    except CheckoutRedemption.DoesNotExist:
        return "missing"
    except RollbackFailed as exc:
        # Every failure is retried, refusals too (a 401 is fixed by new keys, not by giving up);
        # a refusal was flagged for staff when recorded.
        attempts = exc.ledger.rollback_attempts if exc.ledger else 1
        if attempts >= voucherify_settings().checkout_reconcile_max_attempts:
            # Still retried (a voucher is held for an order never paid), but staff should know.
            schedule.flag(ledger_id, f"rollback not confirmed after {attempts} attempts: {exc.message}")
        return schedule.next_step(ledger_id, schedule.rollback_delay(attempts, exc.retry_after))
    return schedule.next_step(row.pk)


def reconcile_step(ledger_id: int) -> str:
    """Settle UNKNOWN ledger row ``ledger_id`` from Voucherify's redemption list."""
    conf = voucherify_settings()
    try:
        row = reconcile(ledger_id, roll_back=False)  # the rollback is this chain's next step
    except CheckoutRedemption.DoesNotExist:
        return "missing"
    except VoucherifyError:  # Voucherify still unreachable: read again later
        row = CheckoutRedemption.objects.get(pk=ledger_id)
        unreachable = True
    else:
        unreachable = False
        if row.state not in (LedgerState.UNKNOWN, LedgerState.PENDING):
            return schedule.next_step(ledger_id)
        if row.state == LedgerState.PENDING:  # its caller may still be waiting: not ours yet
            schedule.release(ledger_id, keep_due=True)
            return str(row.state)
    attempts = row.reconcile_attempts
    if attempts >= conf.checkout_reconcile_max_attempts:
        schedule.flag(ledger_id, f"outcome still unknown after {attempts} reads of Voucherify's redemptions")
        schedule.release(ledger_id, next_attempt_in=conf.checkout_attention_interval)
        logger.error(
            "Voucherify checkout: ledger row %s still unknown after %s attempts; flagged "
            "for staff, re-read every %ss.",
            ledger_id,
            attempts,
            conf.checkout_attention_interval,
        )
        return "needs attention"
    # Unreachable: a retry, which may come early. Within the grace period: a wait for time.
    return schedule.next_step(ledger_id, schedule.reconcile_delay(attempts), may_run_early=unreachable)


def late_check_step(ledger_id: int) -> str:
    """Look once more at FAILED (``not_redeemed``) row ``ledger_id``; roll back what landed late."""
    try:
        row = late_check(ledger_id, roll_back=False)  # the rollback is this chain's next step
    except CheckoutRedemption.DoesNotExist:
        return "missing"
    except VoucherifyError:  # Voucherify unreachable: the late check stays due; read again later
        row = CheckoutRedemption.objects.get(pk=ledger_id)
        schedule.release(ledger_id, next_attempt_in=schedule.reconcile_delay(row.reconcile_attempts))
        return "retrying later"
    return schedule.next_step(row.pk)
