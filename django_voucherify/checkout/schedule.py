"""A ledger row's background work: one task chain per row, its retry policy, and the bodies of its
steps (the Celery tasks in :mod:`django_voucherify.tasks.checkout` only call these).

Every task sent for a row first *leases* the row (:mod:`django_voucherify.background`:
``lease_until``, ``lease_token``) and records when the attempt is due (``due_at``). While the
lease runs, neither the periodic sweep nor another service call sends a second task for the
row; the chain that holds it re-leases the row each time it schedules its next step, and
releases it when the row needs nothing more. A lost task (broker down, worker killed) only
delays the work: the lease (``CHECKOUT_TASK_LEASE`` past the due time) expires and the sweep
(``django_voucherify.sweep``) sends the row's next task.

The retry policy is here and nowhere else: :func:`rollback_delay` (backoff, ``Retry-After``
honoured), :func:`reconcile_delay` (a quarter of the grace period, doubling), when an unanswered
redeem is first read back (:func:`reconcile_after_grace`), and the thresholds that flag a row for
staff (:func:`flag`). The steps:

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
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from .. import background
from ..api.errors import VoucherifyError
from ..conf import settings as voucherify_settings
from ..models.background import ERROR_FIELDS
from ..models.ledger import CheckoutRedemption, LedgerState
from .errors import RollbackFailed

logger = logging.getLogger("django_voucherify.checkout")

ROLLBACK_TASK = "rollback_checkout_redemption"
RECONCILE_TASK = "reconcile_checkout_redemption"
LATE_CHECK_TASK = "late_check_checkout_redemption"

#: Rows the sweep leases and sends per run (the rest wait for the next run).
SWEEP_BATCH = 500


def task_lease() -> timedelta:
    return timedelta(seconds=voucherify_settings().checkout_task_lease)


def rollback_delay(attempts: int, retry_after: float | None = None) -> float:
    """Seconds before the next rollback attempt: Voucherify's ``Retry-After``, else exponential."""
    conf = voucherify_settings()
    return background.backoff(
        attempts,
        base=conf.checkout_rollback_backoff,
        cap=conf.checkout_rollback_backoff_max,
        retry_after=retry_after,
    )


def reconcile_delay(attempts: int) -> float:
    """Seconds before the next read of an unsettled row: a quarter of the grace period (at
    least the rollback backoff, at least 1 s), doubling per attempt, capped at the backoff max."""
    conf = voucherify_settings()
    base = max(conf.checkout_reconcile_grace / 4, conf.checkout_rollback_backoff, 1.0)
    return background.backoff(attempts, base=base, cap=max(conf.checkout_rollback_backoff_max, base))


def flag(ledger_id: int, reason: str) -> None:
    """Mark the row for staff (the admin lists it); it is still swept."""
    CheckoutRedemption.objects.filter(pk=ledger_id, needs_attention=False).update(
        needs_attention=True, attention_reason=reason[:200]
    )


def release(
    ledger_id: int, *, next_attempt_in: float | None = None, keep_due: bool = False, token: str | None = None
) -> None:
    """End the chain holding ``ledger_id``: nothing due (default), due in ``next_attempt_in``
    seconds, or (``keep_due``) at the time already recorded; the sweep takes it from there.
    ``token``: the chain's lease; a chain whose lease another chain took over frees nothing."""
    background.release(CheckoutRedemption, ledger_id, due_in=next_attempt_in, keep_due=keep_due, token=token)


def holds(ledger_id: int, token: str | None) -> bool:
    """Whether the chain holding lease ``token`` still holds the row. A task of an earlier chain
    (its lease ran out and the sweep gave the row to another) stops before acting. Messages
    queued before tokens were sent (``None``) act as they did."""
    if token is None:
        return True
    return CheckoutRedemption.objects.filter(pk=ledger_id, lease_token=token).exists()


def send(
    task: str,
    ledger_id: int,
    countdown: float | None,
    held: background.Lease | None = None,
    may_run_early: bool = True,
) -> bool:
    """Send ``task`` for a row already leased (``held``); not sent, the row is left to the sweep.
    A retry may run early (eager mode runs it inline); a wait (``may_run_early=False``) not."""
    name = f"django_voucherify.{task}"
    args = (ledger_id,) if held is None else (ledger_id, held.token)
    return background.send(name, args, countdown=countdown, lease=held, may_run_early=may_run_early)


def _schedule(
    task: str,
    ledger_id: int,
    countdown: float | None,
    force: bool,
    may_run_early: bool = True,
    holder: str | None = None,
) -> bool:
    lease_for = task_lease()
    held = background.lease(
        CheckoutRedemption, ledger_id, due_in=countdown, lease_for=lease_for, force=force, holder=holder
    )
    if held is None:
        return False  # a chain already holds the row
    transaction.on_commit(lambda: send(task, ledger_id, countdown, held, may_run_early))
    return True


def schedule_rollback(ledger_id: int, countdown: float | None = None, *, force: bool = False) -> bool:
    """Roll ledger row ``ledger_id`` back from a Celery worker, once the transaction commits.
    Returns False when a task chain already holds the row (it carries the rollback out)."""
    return _schedule(ROLLBACK_TASK, ledger_id, countdown, force)


def retry_rollback(ledger_id: int, attempts: int, retry_after: float | None = None) -> bool:
    """A rollback sent from a service call failed: retry it from a Celery worker after the
    backoff of ``attempts`` (or Voucherify's ``Retry-After``)."""
    return schedule_rollback(ledger_id, countdown=rollback_delay(attempts, retry_after))


def schedule_reconcile(ledger_id: int, countdown: float | None = None, *, force: bool = False) -> bool:
    """Reconcile an UNKNOWN ledger row from a Celery worker, once the transaction commits."""
    return _schedule(RECONCILE_TASK, ledger_id, countdown, force)


def reconcile_after_grace(ledger_id: int) -> bool:
    """Read an unanswered redeem back once ``CHECKOUT_RECONCILE_GRACE`` has passed: before that,
    finding nothing proves nothing (the request may still be in flight)."""
    return schedule_reconcile(ledger_id, countdown=voucherify_settings().checkout_reconcile_grace)


def next_step(
    ledger_id: int, countdown: float = 0, *, may_run_early: bool = True, token: str | None = None
) -> str:
    """Schedule the row's next task in ``countdown`` seconds (this chain keeps the lease), or
    release the row when it needs nothing more. ``may_run_early=False``: the step must wait
    (a reconcile within the grace period); eager mode leaves it to the sweep. ``token``: this
    chain's lease; when another chain holds the row now, this one ends without touching it."""
    row = CheckoutRedemption.objects.get(pk=ledger_id)
    task = task_for(row)
    if task is None:
        release(ledger_id, token=token)
        return str(row.state)
    if not _schedule(task, ledger_id, countdown, token is None, may_run_early, holder=token):
        return "superseded"
    return "retrying"


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


def sweep() -> dict[str, int]:
    """Send the next task of every row that needs one, is due and is held by no task chain:
    UNKNOWN and abandoned PENDING rows (reconcile), pending rollbacks, and late checks of rows
    concluded "not redeemed" (counted as reconcile reads)."""
    now = timezone.now()
    stale = now - timedelta(seconds=voucherify_settings().checkout_reconcile_grace)
    rows = background.claim_due(
        CheckoutRedemption.objects.needing_work(stale, now),
        lease_for=task_lease(),
        limit=SWEEP_BATCH,
        now=now,
        wanted=lambda row: task_for(row, now) is not None,
    )
    counts = {"reconcile": 0, "rollback": 0}
    for position, row in enumerate(rows):
        task = task_for(row, now)
        assert task is not None
        held = background.Lease(CheckoutRedemption, row.pk, row.lease_token, row.lease_until or now)
        if not send(task, row.pk, None, held):
            # The broker refused: each further try would wait for its timeout. The rest of the
            # claimed rows are freed, due now, for the next sweep.
            for rest in rows[position + 1 :]:
                background.release(CheckoutRedemption, rest.pk, due_in=0, token=rest.lease_token)
            break
        counts["rollback" if task == ROLLBACK_TASK else "reconcile"] += 1
    return counts


# The steps -----------------------------------------------------------------------------------


def rollback_step(ledger_id: int, token: str | None = None) -> str:
    """Roll ledger row ``ledger_id`` back; schedules itself again until Voucherify confirms."""
    from .rollback import rollback  # the services schedule through this module: imported at call time

    if not holds(ledger_id, token):
        return "superseded"
    counted = _attempts(ledger_id, "rollback_attempts")
    try:
        row = rollback(ledger_id)
    except CheckoutRedemption.DoesNotExist:
        return "missing"
    except RollbackFailed as exc:
        # Every failure is retried, refusals too (a 401 is fixed by new keys, not by giving up);
        # a refusal was flagged for staff when recorded.
        attempts = exc.ledger.rollback_attempts if exc.ledger else 1
        return _rollback_again(
            ledger_id, attempts, exc.message, rollback_delay(attempts, exc.retry_after), token
        )
    except Exception as exc:
        return _step_failed(ROLLBACK_TASK, ledger_id, token, exc, counted=counted)
    return next_step(row.pk, token=token)


def _rollback_again(
    ledger_id: int, attempts: int, why: str, delay: float, token: str | None, *, may_run_early: bool = True
) -> str:
    """The next rollback attempt after ``delay``; past the maximum the row is flagged (``why``)."""
    if attempts >= voucherify_settings().checkout_reconcile_max_attempts:
        # Still retried (a voucher is held for an order never paid), but staff should know.
        flag(ledger_id, f"rollback not confirmed after {attempts} attempts: {why}")
    return next_step(ledger_id, delay, may_run_early=may_run_early, token=token)


def reconcile_step(ledger_id: int, token: str | None = None) -> str:
    """Settle UNKNOWN ledger row ``ledger_id`` from Voucherify's redemption list."""
    from .reconcile import reconcile  # the services schedule through this module: imported at call time

    if not holds(ledger_id, token):
        return "superseded"
    try:
        row = reconcile(ledger_id, roll_back=False)  # the rollback is this chain's next step
    except CheckoutRedemption.DoesNotExist:
        return "missing"
    except VoucherifyError:  # Voucherify still unreachable: read again later (a retry: may come early)
        return _read_again(ledger_id, token, may_run_early=True)
    except Exception as exc:
        return _step_failed(RECONCILE_TASK, ledger_id, token, exc)
    if row.state not in (LedgerState.UNKNOWN, LedgerState.PENDING):
        return next_step(ledger_id, token=token)
    if row.state == LedgerState.PENDING:  # its caller may still be waiting: not ours yet
        release(ledger_id, keep_due=True, token=token)
        return str(row.state)
    # Within the grace period: a wait for time, never early.
    return _read_again(ledger_id, token, may_run_early=False)


def _read_again(ledger_id: int, token: str | None, *, may_run_early: bool, why: str = "") -> str:
    """The next read of an unsettled row after the backoff of its reads so far; past
    ``CHECKOUT_RECONCILE_MAX_ATTEMPTS`` the row is flagged and read at the slow rate."""
    conf = voucherify_settings()
    attempts = CheckoutRedemption.objects.get(pk=ledger_id).reconcile_attempts
    if attempts >= conf.checkout_reconcile_max_attempts:
        reason = why or f"outcome still unknown after {attempts} reads of Voucherify's redemptions"
        flag(ledger_id, reason)
        release(ledger_id, next_attempt_in=conf.checkout_attention_interval, token=token)
        logger.error(
            "Voucherify checkout: ledger row %s still unknown after %s attempts; flagged "
            "for staff, re-read every %ss.",
            ledger_id,
            attempts,
            conf.checkout_attention_interval,
        )
        return "needs attention"
    return next_step(ledger_id, reconcile_delay(attempts), may_run_early=may_run_early, token=token)


def late_check_step(ledger_id: int, token: str | None = None) -> str:
    """Look once more at FAILED (``not_redeemed``) row ``ledger_id``; roll back what landed late."""
    from .reconcile import late_check  # the services schedule through this module: imported at call time

    if not holds(ledger_id, token):
        return "superseded"
    try:
        row = late_check(ledger_id, roll_back=False)  # the rollback is this chain's next step
    except CheckoutRedemption.DoesNotExist:
        return "missing"
    except VoucherifyError:  # Voucherify unreachable: the late check stays due; read again later
        row = CheckoutRedemption.objects.get(pk=ledger_id)
        release(ledger_id, next_attempt_in=reconcile_delay(row.reconcile_attempts), token=token)
        return "retrying later"
    except Exception as exc:
        return _step_failed(LATE_CHECK_TASK, ledger_id, token, exc)
    return next_step(row.pk, token=token)


# A step's unexpected error -------------------------------------------------------------------

#: The attempt counter of each step (the late check counts as a reconcile read), and its name.
_COUNTERS = {
    ROLLBACK_TASK: "rollback_attempts",
    RECONCILE_TASK: "reconcile_attempts",
    LATE_CHECK_TASK: "reconcile_attempts",
}
_STEP_NAMES = {ROLLBACK_TASK: "rollback", RECONCILE_TASK: "reconcile", LATE_CHECK_TASK: "late check"}


def _attempts(ledger_id: int, counter: str) -> int | None:
    return CheckoutRedemption.objects.filter(pk=ledger_id).values_list(counter, flat=True).first()


def _step_failed(
    task: str, ledger_id: int, token: str | None, exc: Exception, counted: int | None = None
) -> str:
    """A step raised what is not a Voucherify answer (a bug on an odd 2xx payload, a database
    error, a ``requests`` error the transport did not map): handled like the step's own
    failures, never left to the lease (the sweep would re-drive it at lease speed, uncounted).

    Counted as one attempt of the step (a rollback whose attempt was counted before the error,
    ``counted`` being the count the step started from, is not counted twice), logged once
    (:func:`~django_voucherify.background.log_unexpected`: type, text with secrets masked, no
    frame locals), kept on the row (a rollback's ``rollback_error``; an unsettled row's
    ``last_error``; a late check's row keeps its failure, the reason a late landing is judged
    by), retried after the step's backoff (eager mode leaves the wait to the sweep, so a test
    sees the error on the row), flagged for staff past ``CHECKOUT_RECONCILE_MAX_ATTEMPTS``.
    """
    described = background.log_unexpected(
        logger, f"Voucherify checkout: {_STEP_NAMES[task]} of ledger row {ledger_id} failed unexpectedly", exc
    )
    try:
        return _record_step_failure(task, ledger_id, token, exc, described, counted)
    except Exception as again:  # the database is down too: the lease runs out, the sweep retries
        background.log_unexpected(
            logger, f"Voucherify checkout: recording it on row {ledger_id} failed", again
        )
        return "failed"


def _note_failure(
    row: CheckoutRedemption, task: str, exc: Exception, described: str, counted: int | None
) -> None:
    """Count the step's attempt (a rollback's once: see :func:`_step_failed`) and keep the error."""
    counter = _COUNTERS[task]
    if task != ROLLBACK_TASK or counted is None or getattr(row, counter) == counted:
        setattr(row, counter, getattr(row, counter) + 1)
    changed = [counter, "updated_at"]
    if task == ROLLBACK_TASK:
        row.rollback_error = described
        changed.append("rollback_error")
    elif task == RECONCILE_TASK:
        background.put_error(row, background.error_fields(exc, described))
        changed.extend(ERROR_FIELDS)
    row.save(update_fields=changed)


def _record_step_failure(
    task: str, ledger_id: int, token: str | None, exc: Exception, described: str, counted: int | None
) -> str:
    with transaction.atomic():
        row = CheckoutRedemption.objects.select_for_update().filter(pk=ledger_id).first()
        if row is None:
            return "missing"
        if token is not None and row.lease_token != token:
            return "superseded"  # another chain holds the row now: its outcome is not ours
        # Compared with what changed meanwhile, as the success path is: a row settled since (a
        # webhook confirmed the rollback) needs no error, no count and no flag.
        settled = task_for(row) != task
        if not settled:
            _note_failure(row, task, exc, described, counted)
    if settled:
        return next_step(ledger_id, token=token)  # what the row needs now, as after a success
    if task == ROLLBACK_TASK:
        attempts = row.rollback_attempts
        return _rollback_again(
            ledger_id, attempts, described, rollback_delay(attempts), token, may_run_early=False
        )
    return _read_again(ledger_id, token, may_run_early=False, why=f"{_STEP_NAMES[task]} failed: {described}")
