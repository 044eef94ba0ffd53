"""Results of finished parts: failed rows in source terms, job totals, the end of a job.

Voucherify reports failed rows per request (``failed`` for imports, ``errors`` for bulk
updates), numbered within that request; they are stored with the row number of the *source*
(``part.first_row + row - 1``) so staff can find them in the file they uploaded.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from ..models import Customer, Job, JobKind, JobPart, JobState, Order, PartState, SyncState
from ..models.jobs import FINAL_JOB_STATES, FINAL_PART_STATES
from .signals import job_finished

logger = logging.getLogger("django_voucherify.jobs")


def failed_rows_of(part: JobPart, result: dict[str, Any]) -> list[dict[str, Any]]:
    """The failed rows of a finished async action, numbered as in the job's source."""
    rows: list[dict[str, Any]] = []
    for raw in [*(result.get("failed") or []), *(result.get("errors") or [])]:
        if not isinstance(raw, dict):
            continue
        row: dict[str, Any] = {k: raw[k] for k in ("code", "source_id", "key") if raw.get(k)}
        local = raw.get("row")
        if isinstance(local, int):
            row["row"] = part.first_row + local - 1
        row["reason"] = str(raw.get("reason") or raw.get("details") or raw.get("message") or "")
        row["part"] = part.index
        rows.append(row)
    return rows


def part_progress_counts(job: Job) -> tuple[int, int, int]:
    """(rows sent, rows done, rows failed remotely) across the job's parts."""
    sums = job.parts.aggregate(rows=Sum("row_count"), done=Sum("done_count"), failed=Sum("failed_count"))
    return int(sums["rows"] or 0), int(sums["done"] or 0), int(sums["failed"] or 0)


def refresh_job(job_id: int) -> Job | None:
    """Recompute a job's totals from its parts; finish it when every part is final.

    Runs under a row lock, so exactly one caller finishes the job and ``job_finished`` is sent
    once (after commit). Returns the job when this call finished it.
    """
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        if job.state in FINAL_JOB_STATES:
            return None
        parts = list(job.parts.order_by("index"))
        rejected = list(job.result.get("rejected") or [])
        remote_failed = [row for part in parts for row in (part.result or {}).get("failed_rows", [])]
        job.done_count = sum(p.done_count for p in parts)
        job.failed_rows = [*rejected, *remote_failed]
        job.failed_count = len(rejected) + sum(p.failed_count for p in parts)
        total = job.total_rows or 1
        weighted = len(rejected) * 100 + sum(
            p.row_count * (100 if p.state in FINAL_PART_STATES else p.progress) for p in parts)
        job.progress = min(100, weighted // total) if job.total_rows else (
            100 if parts and all(p.state in FINAL_PART_STATES for p in parts) else 0)
        finished = job.state == JobState.RUNNING and all(p.state in FINAL_PART_STATES for p in parts)
        if finished:
            broken = [p for p in parts if p.state == PartState.FAILED]
            job.state = JobState.FAILED if broken else JobState.DONE
            job.error = "\n".join(f"part {p.index}: {p.error}" for p in broken)
            job.finished_at = timezone.now()
            job.progress = 100
        job.save()
        if finished:
            transaction.on_commit(lambda: _send_finished(job))
            return job
    return None


def fail_job(job: Job, error: str) -> None:
    """Finish a job that never got to send anything (e.g. a CSV that cannot be read)."""
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(pk=job.pk)
        if locked.state in FINAL_JOB_STATES:
            return
        locked.state, locked.error, locked.finished_at = JobState.FAILED, error, timezone.now()
        locked.failed_rows = list(locked.result.get("rejected") or [])
        locked.failed_count = len(locked.failed_rows)
        locked.save()
        transaction.on_commit(lambda: _send_finished(locked))


def _send_finished(job: Job) -> None:
    logger.info("Voucherify job %s finished: %s (%s done, %s failed)", job.pk, job.state,
                job.done_count, job.failed_count)  # fmt: skip
    job_finished.send(sender=Job, job=job)


def mark_pushed_mirrors(part: JobPart) -> int:
    """After a mirror push's async action is DONE: its rows are ``synced``, the failed ones
    ``failed`` with Voucherify's reason. Rows saved after they were read for the push (their
    ``updated_at`` is later) are left pending: their own outbox entry sends them."""
    window = part.payload or {}
    model: Any = Customer if part.job.kind == JobKind.PUSH_CUSTOMERS else Order
    rows = model.objects.filter(pk__gt=window["after_pk"], pk__lte=window["last_pk"],
                                updated_at__lte=window["read_before"])  # fmt: skip
    if window.get("since"):
        rows = rows.filter(updated_at__gte=window["since"])
    now = timezone.now()
    failures = {str(r.get("source_id")): r for r in (part.result or {}).get("failed_rows", [])
                if r.get("source_id")}  # fmt: skip
    for source_id, row in failures.items():
        rows.filter(source_id=source_id).update(
            sync_state=SyncState.FAILED, sync_error=row["reason"][:2000],
            sync_error_key=str(row.get("key") or "")[:100], sync_request_id=part.async_action_id)
    return int(rows.exclude(source_id__in=list(failures)).update(
        sync_state=SyncState.SYNCED, synced_at=now, sync_error="", sync_error_key="", sync_request_id=""))
