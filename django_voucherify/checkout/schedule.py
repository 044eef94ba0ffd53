"""Hand work to Celery after commit; a broker outage loses nothing (the ledger row says what is
due, and the periodic ``django_voucherify.checkout_sweep`` task picks it up)."""

from __future__ import annotations

import logging

from django.db import transaction

logger = logging.getLogger("django_voucherify.checkout")


def _send(task_name: str, ledger_id: int, countdown: float | None) -> None:
    from ..tasks import checkout as tasks

    task = getattr(tasks, task_name)
    try:
        task.apply_async((ledger_id,), countdown=countdown, retry=False)
    except Exception:
        logger.warning("Voucherify checkout: could not enqueue %s for ledger row %s (broker "
                       "down?); the periodic sweep will pick it up.", task_name, ledger_id,
                       exc_info=True)  # fmt: skip


def schedule_rollback(ledger_id: int, countdown: float | None = None) -> None:
    """Roll ledger row ``ledger_id`` back from a Celery worker, once the transaction commits."""
    transaction.on_commit(lambda: _send("rollback_checkout_redemption", ledger_id, countdown))


def schedule_reconcile(ledger_id: int, countdown: float | None = None) -> None:
    """Reconcile an UNKNOWN ledger row from a Celery worker, once the transaction commits."""
    transaction.on_commit(lambda: _send("reconcile_checkout_redemption", ledger_id, countdown))
