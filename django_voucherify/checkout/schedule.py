"""Hand work to Celery, one task chain per ledger row.

Every task sent for a row first *leases* the row (``lease_until``) and records when the attempt
is due (``due_at``). While the lease runs, neither the periodic sweep nor another
service call sends a second task for the row; the chain that holds it re-leases the row each
time it schedules its next step, and releases it when the row needs nothing more. A lost task
(broker down, worker killed) only delays the work: the lease expires and the sweep
(``django_voucherify.checkout_sweep``) sends the row's next task.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from ..models.ledger import CheckoutRedemption, LedgerState

logger = logging.getLogger("django_voucherify.checkout")

#: How long after its due time a task may take before the row counts as abandoned and the
#: sweep sends a new one. Far above CHECKOUT_TIMEOUT: a task makes a few short calls.
LEASE = timedelta(minutes=5)

ROLLBACK_TASK = "rollback_checkout_redemption"
RECONCILE_TASK = "reconcile_checkout_redemption"
LATE_CHECK_TASK = "late_check_checkout_redemption"


def lease(ledger_id: int, countdown: float | None, *, force: bool = False) -> bool:
    """Lease row ``ledger_id`` for a task due in ``countdown`` seconds.

    Without ``force``, only when no other chain holds it (returns False otherwise: the holder
    will do the work). ``force`` is for the chain that already holds the lease, scheduling its
    own next step.
    """
    now = timezone.now()
    due = now + timedelta(seconds=countdown or 0)
    rows = CheckoutRedemption.objects.filter(pk=ledger_id)
    if not force:
        rows = rows.filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
    return rows.update(due_at=due, lease_until=due + LEASE) == 1


def release(ledger_id: int, *, next_attempt_in: float | None = None, keep_due: bool = False) -> None:
    """End the chain holding ``ledger_id``: nothing due (default), due in ``next_attempt_in``
    seconds, or (``keep_due``) at the time already recorded; the sweep takes it from there."""
    changes: dict[str, datetime | None] = {"lease_until": None}
    if next_attempt_in is not None:
        changes["due_at"] = timezone.now() + timedelta(seconds=next_attempt_in)
    elif not keep_due:
        changes["due_at"] = None
    CheckoutRedemption.objects.filter(pk=ledger_id).update(**changes)


def send(task_name: str, ledger_id: int, countdown: float | None) -> None:
    """Enqueue ``task_name`` for a row already leased; on a broker failure, free the row so the
    next sweep sends it."""
    from ..tasks import checkout as tasks

    task = getattr(tasks, task_name)
    try:
        task.apply_async((ledger_id,), countdown=countdown, retry=False)
    except Exception:
        logger.warning(
            "Voucherify checkout: could not enqueue %s for ledger row %s (broker "
            "down?); the periodic sweep will pick it up.",
            task_name,
            ledger_id,
            exc_info=True,
        )
        CheckoutRedemption.objects.filter(pk=ledger_id).update(lease_until=None, due_at=timezone.now())


def _schedule(task_name: str, ledger_id: int, countdown: float | None, force: bool) -> bool:
    if not lease(ledger_id, countdown, force=force):
        return False  # a chain already holds the row
    transaction.on_commit(lambda: send(task_name, ledger_id, countdown))
    return True


def schedule_rollback(ledger_id: int, countdown: float | None = None, *, force: bool = False) -> bool:
    """Roll ledger row ``ledger_id`` back from a Celery worker, once the transaction commits.
    Returns False when a task chain already holds the row (it carries the rollback out)."""
    return _schedule(ROLLBACK_TASK, ledger_id, countdown, force)


def schedule_reconcile(ledger_id: int, countdown: float | None = None, *, force: bool = False) -> bool:
    """Reconcile an UNKNOWN ledger row from a Celery worker, once the transaction commits."""
    return _schedule(RECONCILE_TASK, ledger_id, countdown, force)


def task_for(row: CheckoutRedemption, now: datetime | None = None) -> str | None:
    """The task a row needs next: reconcile (outcome unknown), rollback (asked for), the late
    check (concluded "not redeemed", due by ``now``), or none."""
    if row.state in (LedgerState.UNKNOWN, LedgerState.PENDING):
        return RECONCILE_TASK
    if row.rollback_pending:
        return ROLLBACK_TASK
    if (
        row.state == LedgerState.FAILED
        and row.late_check_at is not None
        and row.late_check_at <= (now or timezone.now())
    ):
        return LATE_CHECK_TASK
    return None


def claim_due_rows(now: datetime, stale_before: datetime, limit: int) -> list[tuple[int, str]]:
    """Lease up to ``limit`` rows that need work, are due and are held by no chain; returns
    ``(pk, task name)`` pairs to send. ``SKIP LOCKED``: two sweeps never claim the same row."""
    with transaction.atomic():
        rows: Iterable[CheckoutRedemption] = (
            CheckoutRedemption.objects.select_for_update(skip_locked=True)
            .needing_work(stale_before, now)
            .sweepable(now)
            .order_by(F("due_at").asc(nulls_first=True), "pk")[:limit]
        )
        claimed = [(row.pk, task) for row in rows if (task := task_for(row, now))]
        CheckoutRedemption.objects.filter(pk__in=[pk for pk, _task in claimed]).update(
            due_at=now, lease_until=now + LEASE
        )
    return claimed
