"""Results of finished parts: failed rows in source terms, job totals, the end of a job.

Voucherify reports failed rows per request (``failed`` for imports, ``errors`` for bulk and
metadata updates), numbered within that request's file. Rows refused locally are not in the
part file, so a part keeps the source rows it left out (``JobPart.skipped_rows``) and
:func:`source_row` maps Voucherify's number back to the row staff see in the file they uploaded.

Failed rows are :class:`~django_voucherify.models.JobFailedRow` rows written in batches; the job
keeps the counts and a bounded sample, so memory does not grow with the number of failures.

Counts follow the spec's result schema of each async action type: imports and bulk updates
define ``done_count``/``failed_count``; metadata updates (``VOUCHERS.METADATA_UPDATE``,
``CUSTOMERS.METADATA_UPDATE``) define only ``errors``, so there done = rows sent - errors.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from ..models import Job, JobFailedRow, JobPart, JobState, PartState
from ..models.jobs import BULKY_PART_FIELDS, FAILED_ROWS_SAMPLE, FINAL_JOB_STATES, FINAL_PART_STATES
from ..validation import visible
from .signals import job_finished

logger = logging.getLogger("django_voucherify.jobs")

#: Async action types whose result schema (openapi.json) defines ``done_count``/``failed_count``.
TYPES_WITH_COUNTS = frozenset(
    {
        "VOUCHERS.IMPORT",
        "VOUCHERS.IMPORT_CSV",
        "CUSTOMERS.IMPORT_CSV",
        "ORDERS.IMPORT",
        "VOUCHERS.BULK_UPDATE",
        "CUSTOMERS.BULK_UPDATE",
        "PRODUCTS.BULK_UPDATE",
        "CAMPAIGN.VOUCHERS_GENERATE",  # done_count only: failed comes from the failed rows (none)
    }
)
WRITE_BATCH = 1000


def source_row(part: JobPart, local: int) -> int:
    """The source row of the ``local``-th row (from 1) of ``part``'s file."""
    skipped = sorted(part.skipped_rows or [])
    row = part.first_row + local - 1
    # Each left-out row at or before the candidate pushes it one further.
    seen = 0
    while True:
        before = bisect.bisect_right(skipped, row)
        if before == seen:
            return row
        row += before - seen
        seen = before


def _stored_row(part: JobPart, local: Any) -> int | None:
    """The source row of Voucherify's row number ``local`` in ``part``, or None when it is not
    one of the part's rows (not a whole number, 0 or less, past the part's end)."""
    if not isinstance(local, int) or isinstance(local, bool) or not 1 <= local <= part.row_count:
        return None
    return source_row(part, local)


def _entries(result: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key in ("failed", "errors"):
        found = result.get(key) or []
        # VOUCHERS.IMPORT and ORDERS.IMPORT describe ``failed`` as one object, the others as a list.
        for raw in [found] if isinstance(found, dict) else found:
            if isinstance(raw, dict):
                yield raw


def failed_rows_of(part: JobPart, result: dict[str, Any]) -> Iterator[JobFailedRow]:
    """The failed rows of a finished async action, numbered as in the job's source."""
    for raw in _entries(result):
        local = raw.get("row")
        yield JobFailedRow(
            job_id=part.job_id,
            part=part,
            row=_stored_row(part, local),
            code=visible(raw.get("code") or "")[:300],
            source_id=visible(raw.get("source_id") or "")[:300],
            key=visible(raw.get("key") or "")[:100],
            reason=visible(raw.get("reason") or raw.get("details") or raw.get("message") or ""),
        )


def save_failed_rows(rows: Iterable[JobFailedRow]) -> int:
    """Write rows in batches (never all in memory); returns how many."""
    count = 0
    iterator = iter(rows)
    while batch := list(islice(iterator, WRITE_BATCH)):
        JobFailedRow.objects.bulk_create(batch)
        count += len(batch)
    return count


def part_counts(
    part: JobPart, async_type: str | None, result: dict[str, Any], failed_rows: int
) -> tuple[int, int]:
    """(done, failed) of a finished part, from the fields its result type defines."""

    def number(key: str) -> int | None:
        value = result.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return None
        # An export counts its file's lines (its part has no rows); anything else counts the
        # part's rows: more than those is no count of them, and no column may hold it.
        return value if async_type is None or value <= part.row_count else None

    counted = async_type in TYPES_WITH_COUNTS
    failed = number("failed_count") if counted else None
    failed = failed_rows if failed is None else failed
    done = number("done_count") if counted or async_type is None else None
    if done is None:  # not defined for this type (or left out): every row sent that did not fail
        done = max(0, part.row_count - failed)
    return done, failed


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
        # Counts and states only: a part's request body and ids (megabytes for a push) stay unread.
        parts = list(job.parts.order_by("index").defer(*BULKY_PART_FIELDS))
        rejected = int(job.result.get("rejected_count") or 0)
        job.done_count = sum(p.done_count for p in parts)
        failed_count = rejected + sum(p.failed_count for p in parts)
        if failed_count != job.failed_count or (not job.failed_rows and failed_count):
            job.failed_rows = failed_rows_sample(job)
        job.failed_count = failed_count
        total = job.total_rows or 1
        weighted = rejected * 100 + sum(
            p.row_count * (100 if p.state in FINAL_PART_STATES else p.progress) for p in parts
        )
        job.progress = (
            min(100, weighted // total)
            if job.total_rows
            else (100 if parts and all(p.state in FINAL_PART_STATES for p in parts) else 0)
        )
        finished = job.state == JobState.RUNNING and all(p.state in FINAL_PART_STATES for p in parts)
        if finished:
            broken = [p for p in parts if p.state == PartState.FAILED]
            job.state = JobState.FAILED if broken else JobState.DONE
            job.error = "\n".join(f"part {p.index}: {p.last_error}" for p in broken)
            job.finished_at = timezone.now()
            job.progress = 100
            if job.is_export:
                # An export reads no rows of ours: its rows are those it exported. Left at 0,
                # the admin said "Rows: 0, Done: 4" for a 4-row export.
                job.total_rows = job.done_count
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
        locked.failed_rows = failed_rows_sample(locked)
        locked.failed_count = int(locked.result.get("rejected_count") or 0)
        locked.save()
        transaction.on_commit(lambda: _send_finished(locked))


def fail_job_by_id(job_id: int, error: str) -> None:
    job = Job.objects.filter(pk=job_id).first()
    if job is not None:
        fail_job(job, error)


def failed_rows_sample(job: Job) -> list[dict[str, Any]]:
    """The first :data:`FAILED_ROWS_SAMPLE` failed rows of the job, by source row."""
    # The part's index only, not the part: joining it whole would read its request body (up to
    # 9 MB for a push) once per failed row.
    rows = (
        JobFailedRow.objects.filter(job_id=job.pk)
        .annotate(part_index=F("part__index"))
        .order_by("row", "pk")[:FAILED_ROWS_SAMPLE]
    )
    return [r.as_dict(r.part_index) for r in rows]


def _send_finished(job: Job) -> None:
    from .campaign_codes import after_finish as mirror_generated_codes
    from .uploads import after_finish

    logger.info(
        "Voucherify job %s finished: %s (%s done, %s failed)",
        job.pk,
        job.state,
        job.done_count,
        job.failed_count,
    )
    try:
        job_finished.send(sender=Job, job=job)
    finally:
        after_finish(job)  # the upload (customer data) is not kept past the job's end
        mirror_generated_codes(job)  # a campaign's new codes reach the voucher mirror
