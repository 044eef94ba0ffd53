"""Checkout tasks: thin shells over the step bodies of :mod:`django_voucherify.checkout.schedule`
(one task chain per ledger row; the retry policy lives there, none here). Each message
carries the lease token of its chain (absent in messages queued before 0.2: they act as then).

``checkout_sweep`` stays for one release as an alias for shops that scheduled it: the periodic
entry point is now ``django_voucherify.sweep`` (:mod:`.periodic`).
"""

from __future__ import annotations

from celery import shared_task

from ..checkout import schedule


@shared_task(name="django_voucherify.rollback_checkout_redemption", acks_late=True, ignore_result=True)
def rollback_checkout_redemption(ledger_id: int, token: str | None = None) -> str:
    """Roll ledger row ``ledger_id`` back; re-scheduled until Voucherify confirms."""
    return schedule.rollback_step(ledger_id, token)


@shared_task(name="django_voucherify.reconcile_checkout_redemption", acks_late=True, ignore_result=True)
def reconcile_checkout_redemption(ledger_id: int, token: str | None = None) -> str:
    """Settle UNKNOWN ledger row ``ledger_id`` from Voucherify's redemption list."""
    return schedule.reconcile_step(ledger_id, token)


@shared_task(name="django_voucherify.late_check_checkout_redemption", acks_late=True, ignore_result=True)
def late_check_checkout_redemption(ledger_id: int, token: str | None = None) -> str:
    """Look once more at FAILED (``not_redeemed``) row ``ledger_id``; roll back what landed late."""
    return schedule.late_check_step(ledger_id, token)


@shared_task(name="django_voucherify.checkout_sweep", ignore_result=True)
def checkout_sweep() -> dict[str, int]:
    """Deprecated alias (one release): schedule ``django_voucherify.sweep`` instead."""
    return schedule.sweep()
