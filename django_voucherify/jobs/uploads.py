"""Uploaded sources hold customer data: stored under unguessable names, deleted when done.

A job's ``source_file`` (the CSV staff uploaded) is deleted from storage when the job ends,
successfully or not, unless ``VOUCHERIFY["JOB_UPLOAD_RETENTION"]`` (seconds, default 0) keeps
it longer; :func:`purge_expired` (the ``purge_job_uploads`` task, also run by ``resume_jobs``)
deletes those whose time is up, and any a crashed worker left behind. The split part files are
deleted as each part finishes (``runner._finish_part``), or at once when preparing fails. A job
(or part) row deleted by any means takes its files with it (:func:`delete_files_of`, connected
to ``post_delete``).

An export's ``result_file`` is kept ``VOUCHERIFY["EXPORT_RETENTION_DAYS"]`` days (default 30)
after its job ends: :func:`purge_expired_results` (run by the periodic sweep) then deletes it,
clears the field and notes when in ``job.result[RESULT_EXPIRED_AT]`` (``Job.file_expired``), so the admin says
"expired" instead of offering a download that would fail. Failed rows are database rows (their
CSV is made on download), removed with their job.

The storage must not be public: see docs/jobs.md ("Uploaded files").
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .. import conf
from ..models import Job
from ..models.jobs import FINAL_JOB_STATES, RESULT_EXPIRED_AT

logger = logging.getLogger("django_voucherify.jobs")


def retention() -> float:
    """Seconds a finished job's upload is kept (0: deleted when the job ends). A bad value
    (reported by check voucherify.E044) counts as 0: customer data is never kept by mistake."""
    try:
        return conf.settings().job_upload_retention
    except ImproperlyConfigured:
        return 0.0


def delete_source(job: Job) -> bool:
    """Delete the job's uploaded source from storage and clear the field; True if one was deleted.

    A storage error is logged and left for :func:`purge_expired` to try again."""
    name = job.source_file.name
    if not name:
        return False
    try:
        job.source_file.storage.delete(name)
    except Exception:  # the next purge retries; the job's outcome does not depend on it
        logger.warning("Voucherify job %s: could not delete upload %s", job.pk, name, exc_info=True)
        return False
    Job.objects.filter(pk=job.pk, source_file=name).update(source_file="")
    job.source_file.name = ""
    return True


#: Files expired per sweep at most (the next sweep takes the rest).
RESULT_PURGE_LIMIT = 500

#: Cache key of the last job a full sweep tried: the next sweep starts after it, so files whose
#: deletion keeps failing take their turn instead of filling every sweep's page. Losing it (a
#: cache cleared, a process of its own) only starts the walk from the oldest again.
PURGE_CURSOR_KEY = "django_voucherify:export-purge-after"


def export_retention_days() -> int:
    """Days a finished job's stored file is kept. A bad value (check voucherify.E049) counts as
    the default: files are neither kept forever nor deleted early by a typo."""
    try:
        return conf.settings().export_retention_days
    except ImproperlyConfigured:
        return int(conf.DEFAULTS["EXPORT_RETENTION_DAYS"])


def purge_expired_results(now: datetime | None = None, *, limit: int = RESULT_PURGE_LIMIT) -> int:
    """Delete the stored files (export CSVs) of jobs that ended more than
    ``EXPORT_RETENTION_DAYS`` ago, mark each job's file expired; returns how many. A storage
    error is logged and the job left for a later sweep; each sweep tries at most ``limit``
    files, oldest first after where the previous full sweep stopped (then from the oldest)."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=export_retention_days())
    due = Job.objects.filter(state__in=FINAL_JOB_STATES, finished_at__lte=cutoff).exclude(result_file="")
    after = cache.get(PURGE_CURSOR_KEY)
    batch = list(_oldest(due, after, limit))
    if len(batch) < limit and after is not None:  # the end reached: wrap around to the oldest
        tried = {job.pk for job in batch}
        batch += [job for job in _oldest(due, None, limit - len(batch)) if job.pk not in tried]
    if len(batch) >= limit:
        cache.set(PURGE_CURSOR_KEY, (batch[-1].finished_at, batch[-1].pk), None)
    else:
        cache.delete(PURGE_CURSOR_KEY)
    return sum(_expire(job, now) for job in batch)


def _oldest(due: Any, after: tuple[datetime, int] | None, limit: int) -> Any:
    """Up to ``limit`` of ``due``, by (finished_at, pk), strictly after ``after``."""
    if after is not None:
        finished_at, pk = after
        due = due.filter(Q(finished_at__gt=finished_at) | Q(finished_at=finished_at, pk__gt=pk))
    return due.order_by("finished_at", "pk")[:limit]


def _expire(job: Job, now: datetime) -> bool:
    name = job.result_file.name or ""
    try:
        job.result_file.storage.delete(name)
    except Exception:  # a later sweep retries; nothing else depends on it
        logger.warning("Voucherify job %s: could not delete file %s", job.pk, name, exc_info=True)
        return False
    result = dict(job.result) if isinstance(job.result, dict) else {}
    result[RESULT_EXPIRED_AT] = now.isoformat()
    # Only if the file is still this one (a concurrent sweep already did it otherwise).
    return bool(Job.objects.filter(pk=job.pk, result_file=name).update(result_file="", result=result))


def after_finish(job: Job) -> None:
    """Called once when a job ends: delete its upload now unless a retention is configured."""
    if retention() <= 0:
        delete_source(job)


def purge_expired() -> int:
    """Delete the uploads of jobs that ended more than ``JOB_UPLOAD_RETENTION`` seconds ago."""
    cutoff = timezone.now() - timedelta(seconds=retention())
    due = Job.objects.filter(state__in=FINAL_JOB_STATES, finished_at__lte=cutoff).exclude(source_file="")
    return sum(delete_source(job) for job in due.iterator())


def delete_files_of(instance: Any) -> None:
    """After the deletion of a job or part row commits, delete its stored files (source,
    export result, split part): nothing refers to them any more. A storage error is logged."""
    pk = instance.pk  # None once the deletion is done
    files = [
        (f.storage, f.name)
        for f in (getattr(instance, n, None) for n in ("source_file", "result_file", "file"))
        if f and f.name
    ]

    def delete() -> None:
        for storage, name in files:
            try:
                storage.delete(name)
            except Exception:
                logger.warning("Voucherify job file %s of %s: could not delete it", name, pk, exc_info=True)

    if files:
        transaction.on_commit(delete)
