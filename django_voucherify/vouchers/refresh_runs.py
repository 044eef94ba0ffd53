"""The durable record of each full voucher refresh (:class:`~django_voucherify.models.VoucherRefreshRun`).

The admin button creates a QUEUED run before it queues the task, so the changelist shows the
request at once; the task (or the periodic refresh, which has no run yet) marks it RUNNING,
writes the progress after each batch and ends it SUCCEEDED, INCOMPLETE (the walk stopped short,
nothing removed) or FAILED with the error. Writes are single-row UPDATEs outside any
transaction of the refresh, so the progress is visible while the refresh runs.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..models import RefreshState, VoucherRefreshRun
from ..models.admin_pages import UNFINISHED_REFRESH_STATES
from . import refresh

#: Longest error text kept on a run (an exception's message can be long).
MAX_ERROR_LENGTH = 1000

#: An unfinished run requested longer ago than this no longer stops a new one: its worker was
#: most likely lost (killed, restarted); it is marked FAILED so the changelist stops showing it
#: as running. A run that is in fact still going records its own outcome when it ends.
STALE_AFTER = timedelta(hours=2)


def queue() -> VoucherRefreshRun:
    """A new QUEUED run, to pass to the refresh task."""
    return VoucherRefreshRun.objects.create()


def queue_unless_running() -> tuple[VoucherRefreshRun, bool]:
    """The unfinished run if there is one (``created`` False), else a new QUEUED run.

    One refresh at a time: each walks every voucher, and two at once only compete for the same
    rows (on SQLite one of them fails on the database lock). The newest run's row is locked
    first, so two clicks at the same moment see each other's run (READ COMMITTED: the second
    query after the lock sees what the first committed); only the very first run, with no row
    to lock, is not protected this way."""
    with transaction.atomic():
        list(VoucherRefreshRun.objects.select_for_update().order_by("-pk")[:1])
        cutoff = timezone.now() - STALE_AFTER
        unfinished = VoucherRefreshRun.objects.filter(state__in=UNFINISHED_REFRESH_STATES)
        for stale in unfinished.filter(requested_at__lt=cutoff):
            mark_failed(stale.pk, f"no outcome after {STALE_AFTER}: the worker was probably lost")
        running = unfinished.filter(requested_at__gte=cutoff).order_by("-pk").first()
        if running is not None:
            return running, False
        return queue(), True


def last() -> VoucherRefreshRun | None:
    return VoucherRefreshRun.objects.order_by("-pk").first()


def mark_failed(run_id: int, error: BaseException | str) -> None:
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    VoucherRefreshRun.objects.filter(pk=run_id).update(
        state=RefreshState.FAILED, error=text[:MAX_ERROR_LENGTH], finished_at=timezone.now()
    )


def run(run_id: int | None = None, *, client: Any = None, progress: Any = None) -> dict[str, Any]:
    """Refresh every voucher, recording it on run ``run_id`` (a new run if None or gone);
    ``progress(done, total, requests)`` is also told (``voucherify_pull``'s progress bar).

    Exceptions propagate after the run is marked FAILED (the task decides about retrying)."""
    if run_id is None or not VoucherRefreshRun.objects.filter(pk=run_id).exists():
        run_id = queue().pk
    rows = VoucherRefreshRun.objects.filter(pk=run_id)
    rows.update(state=RefreshState.RUNNING, started_at=timezone.now(), error="", done=0)

    def record(done: int, total: int, requests: int) -> None:
        rows.update(done=done, total=total)
        if progress is not None:
            progress(done, total, requests)

    try:
        stats = refresh.refresh_all(progress=record, client=client)
    except Exception as exc:
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
