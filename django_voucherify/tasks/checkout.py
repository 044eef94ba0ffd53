"""Checkout tasks: thin shells over :mod:`django_voucherify.checkout`.

- ``rollback_checkout_redemption``: retried with backoff until Voucherify confirms the rollback.
- ``reconcile_checkout_redemption``: settles an UNKNOWN redeem by reading redemptions back.
- ``checkout_sweep`` (periodic, celery beat): re-drives what a lost task or a broker outage left
  behind::

    CELERY_BEAT_SCHEDULE = {
        "voucherify-checkout": {"task": "django_voucherify.checkout_sweep", "schedule": 60.0},
    }
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.utils import timezone

from ..checkout.conf import checkout_settings
from ..checkout.errors import RollbackFailed
from ..checkout.reconcile import reconcile as reconcile_service
from ..checkout.rollback import rollback as rollback_service
from ..checkout.rollback import rollback_delay
from ..models.ledger import CheckoutRedemption, LedgerState

logger = logging.getLogger("django_voucherify.checkout")

#: Eager Celery (tests, the demo) runs a retry inline: cap the recursion, the sweep goes on.
EAGER_RETRY_LIMIT = 20


def _retry(task: Any, ledger_id: int, countdown: float, exc: Exception) -> None:
    if task.request.is_eager and task.request.retries >= EAGER_RETRY_LIMIT:
        logger.warning("Voucherify checkout: giving ledger row %s to the periodic sweep", ledger_id)
        return
    raise task.retry(args=(ledger_id,), countdown=countdown, exc=exc)


@shared_task(bind=True, name="django_voucherify.rollback_checkout_redemption", max_retries=None,
             acks_late=True, ignore_result=True)  # fmt: skip
def rollback_checkout_redemption(self: Any, ledger_id: int) -> str:
    """Roll ledger row ``ledger_id`` back; re-schedules itself until Voucherify confirms."""
    try:
        row = rollback_service(ledger_id)
    except CheckoutRedemption.DoesNotExist:
        return "missing"
    except RollbackFailed as exc:
        if not exc.retryable:
            return "refused"  # kept in rollback_error for staff
        attempts = exc.ledger.rollback_attempts if exc.ledger else self.request.retries + 1
        _retry(self, ledger_id, rollback_delay(attempts, exc.retry_after), exc)
        return "retrying"
    return str(row.state)


@shared_task(bind=True, name="django_voucherify.reconcile_checkout_redemption", max_retries=None,
             acks_late=True, ignore_result=True)  # fmt: skip
def reconcile_checkout_redemption(self: Any, ledger_id: int) -> str:
    """Settle UNKNOWN ledger row ``ledger_id`` from Voucherify's redemption list."""
    from ..api.errors import VoucherifyError

    conf = checkout_settings()
    try:
        row = reconcile_service(ledger_id)
    except CheckoutRedemption.DoesNotExist:
        return "missing"
    except VoucherifyError as exc:  # Voucherify still unreachable: read again later
        _retry(self, ledger_id, max(conf.rollback_backoff, 1.0) * 2 ** min(self.request.retries, 8), exc)
        return "retrying"
    if row.state in (LedgerState.UNKNOWN, LedgerState.PENDING) and not self.request.is_eager:
        raise self.retry(args=(ledger_id,), countdown=max(conf.reconcile_grace / 4, 1.0))
    return str(row.state)


@shared_task(name="django_voucherify.checkout_sweep", ignore_result=True)
def checkout_sweep() -> dict[str, int]:
    """Enqueue reconciliation of UNKNOWN (and stale PENDING) rows and the pending rollbacks."""
    conf = checkout_settings()
    stale = timezone.now() - timedelta(seconds=conf.reconcile_grace)
    unknown = CheckoutRedemption.objects.filter(state=LedgerState.UNKNOWN).values_list("pk", flat=True)
    pending = CheckoutRedemption.objects.filter(state=LedgerState.PENDING, created_at__lt=stale
                                                ).values_list("pk", flat=True)  # fmt: skip
    rollbacks = CheckoutRedemption.objects.rollback_due().values_list("pk", flat=True)
    counts = {"reconcile": 0, "rollback": 0}
    for pk in [*unknown, *pending]:
        reconcile_checkout_redemption.apply_async((pk,))
        counts["reconcile"] += 1
    for pk in rollbacks:
        rollback_checkout_redemption.apply_async((pk,))
        counts["rollback"] += 1
    return counts
