"""The durable record of each full refresh (:class:`~django_voucherify.models.VoucherRefreshRun`).

Two subjects share it (``RefreshSubject``): the voucher mirrors (:mod:`.refresh`) and the campaign
and validation-rule mirrors (:mod:`.campaigns`); every rule below holds per subject (one run at
a time of each, the campaigns' walk never blocked by the vouchers').

The admin button creates a QUEUED run before it queues the task, so the changelist shows the
request at once; the task (or the periodic refresh, which has no run yet) marks it RUNNING,
writes the progress after each batch and ends it SUCCEEDED, INCOMPLETE (the walk stopped short,
nothing removed) or FAILED with the error. Writes are single-row UPDATEs outside any
transaction of the refresh, so the progress is visible while the refresh runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Q
from django.utils import timezone

from ..errors import DjangoVoucherifyError
from ..models import RefreshState, RefreshSubject, VoucherRefreshRun
from ..models.admin_pages import UNFINISHED_REFRESH_STATES
from . import campaigns, refresh

#: Longest error text kept on a run (an exception's message can be long).
MAX_ERROR_LENGTH = 1000

#: A QUEUED run whose task has not started after this long no longer stops a new one: its
#: message was most likely lost (broker purged, worker gone); it is marked FAILED.
QUEUED_STALE_AFTER = timedelta(hours=2)

#: A RUNNING run writes a heartbeat with each batch it stores (every few seconds); one silent
#: this long lost its worker (killed, restarted) and no longer stops a new one. Judged on the
#: heartbeat, never on when the run was requested: a walk of a big account may take hours.
RUNNING_STALE_AFTER = timedelta(minutes=15)


#: The PostgreSQL advisory lock taken while deciding whether a refresh may start ("vrfr"); each
#: subject adds its position in ``RefreshSubject`` (the vouchers keep the key they always had).
ADVISORY_LOCK_KEY = 0x76726672

#: The walk of each subject: ``walk(progress=..., client=...)`` returning its stats (looked up
#: at call time, so a test may replace ``refresh.refresh_all``).
WALKS: dict[str, Callable[..., dict[str, Any]]] = {
    RefreshSubject.VOUCHERS: lambda **kw: refresh.refresh_all(**kw),
    RefreshSubject.CAMPAIGNS: lambda **kw: campaigns.refresh_all(**kw),
}


def _lock_key(subject: str) -> int:
    return ADVISORY_LOCK_KEY + list(RefreshSubject.values).index(subject)


class RefreshAlreadyRunning(DjangoVoucherifyError):
    """A refresh that did not name its run found another one unfinished: it walks nothing."""

    def __init__(self, run: VoucherRefreshRun) -> None:
        super().__init__(f"refresh #{run.pk} is {run.state}")
        self.run = run


class RefreshAbandoned(DjangoVoucherifyError):
    """The run was marked FAILED (stale) while this walk went on: it stops at its next batch
    rather than walk beside the run that replaced it."""


def queue(subject: str = RefreshSubject.VOUCHERS) -> VoucherRefreshRun:
    """A new QUEUED run, to pass to the refresh task."""
    return VoucherRefreshRun.objects.create(subject=subject)


def queue_unless_running(subject: str = RefreshSubject.VOUCHERS) -> tuple[VoucherRefreshRun, bool]:
    """The unfinished run if there is one (``created`` False), else a new QUEUED run.

    One refresh at a time: each walks every voucher, and two at once only compete for the same
    rows (on SQLite one of them fails on the database lock). The newest run's row is locked
    first, so two callers at the same moment see each other's run (READ COMMITTED: the second
    query after the lock sees what the first committed); on PostgreSQL an advisory lock also
    covers the very first run, with no row to lock (elsewhere that first moment is not
    protected). Runs with no sign of life (see QUEUED_STALE_AFTER and
    RUNNING_STALE_AFTER) are marked FAILED and do not count."""
    using = router.db_for_write(VoucherRefreshRun)
    with transaction.atomic(using=using):
        connection = connections[using]
        if connection.vendor == "postgresql":
            # Also the very first run, with no row to lock: one caller at a time.
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_key(subject)])
        runs = VoucherRefreshRun.objects.filter(subject=subject)
        list(runs.select_for_update().order_by("-pk")[:1])
        now = timezone.now()
        unfinished = runs.filter(state__in=UNFINISHED_REFRESH_STATES)
        queued_since = now - QUEUED_STALE_AFTER
        stale = unfinished.filter(
            # A queued run's last sign of life is its request, or its requeue for a retry
            # (heartbeat_at, set to when the retry is due): a long walk that was rate limited
            # is not judged lost for having been requested long ago.
            Q(state=RefreshState.QUEUED, requested_at__lt=queued_since)
            & (Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=queued_since))
            | Q(state=RefreshState.RUNNING, heartbeat_at__lt=now - RUNNING_STALE_AFTER)
            | Q(
                state=RefreshState.RUNNING,
                heartbeat_at__isnull=True,
                requested_at__lt=now - RUNNING_STALE_AFTER,
            )
        )
        for run in stale:
            silent = QUEUED_STALE_AFTER if run.state == RefreshState.QUEUED else RUNNING_STALE_AFTER
            mark_failed(run.pk, f"no sign of life for {silent}: the worker was probably lost")
        running = unfinished.order_by("-pk").first()
        if running is not None:
            return running, False
        return queue(subject), True


def last(subject: str = RefreshSubject.VOUCHERS) -> VoucherRefreshRun | None:
    return VoucherRefreshRun.objects.filter(subject=subject).order_by("-pk").first()


def mark_failed(run_id: int, error: BaseException | str) -> None:
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    VoucherRefreshRun.objects.filter(pk=run_id, state__in=UNFINISHED_REFRESH_STATES).update(
        state=RefreshState.FAILED, error=text[:MAX_ERROR_LENGTH], finished_at=timezone.now()
    )


def requeue(run_id: int, error: BaseException) -> None:
    """Put a RUNNING run back to QUEUED while its task waits to be retried (rate limited); its
    heartbeat is set to when the retry is due (``retry_after``, else a minute), so the wait does
    not count as silence."""
    wait = getattr(error, "retry_after", None) or 60
    VoucherRefreshRun.objects.filter(pk=run_id, state=RefreshState.RUNNING).update(
        state=RefreshState.QUEUED,
        heartbeat_at=timezone.now() + timedelta(seconds=float(wait)),
        error=f"waiting to retry: {type(error).__name__}: {error}"[:MAX_ERROR_LENGTH],
    )


def claim(run_id: int | None, subject: str = RefreshSubject.VOUCHERS) -> int:
    """The id of the run this walk owns, now RUNNING.

    ``run_id`` None (the periodic refresh, the pull command) or a run that is gone: a new run,
    unless one is unfinished (:class:`RefreshAlreadyRunning`). A named run is claimed only from
    QUEUED, with one conditional UPDATE: a second delivery of the same task, or a task for a
    run already marked FAILED as stale, walks nothing (:class:`RefreshAbandoned`)."""
    if run_id is None or not VoucherRefreshRun.objects.filter(pk=run_id, subject=subject).exists():
        run, created = queue_unless_running(subject)
        if not created:
            raise RefreshAlreadyRunning(run)
        run_id = run.pk
    now = timezone.now()
    claimed = VoucherRefreshRun.objects.filter(pk=run_id, state=RefreshState.QUEUED).update(
        state=RefreshState.RUNNING, started_at=now, heartbeat_at=now, error="", done=0
    )
    if not claimed:
        raise RefreshAbandoned(f"refresh #{run_id} is no longer queued")
    return run_id


def run(
    run_id: int | None = None,
    *,
    client: Any = None,
    progress: Any = None,
    subject: str = RefreshSubject.VOUCHERS,
) -> dict[str, Any]:
    """Refresh every voucher, recording it on run ``run_id`` (see :func:`claim`);
    ``progress(done, total, requests)`` is also told (``voucherify_pull``'s progress bar).

    Raises :class:`RefreshAlreadyRunning` or :class:`RefreshAbandoned` without walking when the
    run cannot be claimed. Other exceptions propagate after the run is marked FAILED (the task
    decides about retrying, see :func:`requeue`)."""
    run_id = claim(run_id, subject)
    return walk(run_id, client=client, progress=progress)


def walk(
    run_id: int,
    *,
    client: Any = None,
    progress: Any = None,
    requeue_on: tuple[type[BaseException], ...] = (),
) -> dict[str, Any]:
    """The walk of a claimed (RUNNING) run. An exception of ``requeue_on`` (the task's retryable
    ones) puts the run back to QUEUED for the retry to claim; any other marks it FAILED."""
    rows = VoucherRefreshRun.objects.filter(pk=run_id, state=RefreshState.RUNNING)
    subject = VoucherRefreshRun.objects.filter(pk=run_id).values_list("subject", flat=True).first()

    def record(done: int, total: int, requests: int) -> None:
        # Progress and heartbeat in one write; a run marked FAILED meanwhile (judged lost) is
        # no longer RUNNING: this walk stops rather than go on beside its replacement.
        if not rows.update(done=done, total=total, heartbeat_at=timezone.now()):
            raise RefreshAbandoned(f"refresh #{run_id} was marked failed while it ran")
        if progress is not None:
            progress(done, total, requests)

    try:
        stats = WALKS[subject or RefreshSubject.VOUCHERS](progress=record, client=client)
    except RefreshAbandoned:
        raise
    except requeue_on as exc:
        requeue(run_id, exc)
        raise
    except BaseException as exc:
        # BaseException: a Ctrl-C of voucherify_pull (or of the demo's first start) left the run
        # RUNNING, refusing every refresh until its heartbeat went stale (review 20).
        mark_failed(run_id, exc)
        raise
    state = RefreshState.INCOMPLETE if stats.get("error") else RefreshState.SUCCEEDED
    rows.update(
        state=state,
        done=stats.get("seen", 0),
        total=stats.get("total"),
        stats={k: v for k, v in stats.items() if k != "skipped_objects"},
        error=str(stats.get("error") or "")[:MAX_ERROR_LENGTH],
        finished_at=timezone.now(),
    )
    return stats
