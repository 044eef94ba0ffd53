"""Uploaded sources hold customer data: stored under unguessable names, deleted when done.

A job's ``source_file`` (the CSV staff uploaded) is deleted from storage when the job ends,
successfully or not, unless ``VOUCHERIFY["JOB_UPLOAD_RETENTION"]`` (seconds, default 0) keeps
it longer; :func:`purge_expired` (the ``purge_job_uploads`` task, also run by ``resume_jobs``)
deletes those whose time is up, and any a crashed worker left behind. The split part files are
deleted as each part finishes (``runner._finish_part``), or at once when preparing fails. A job
(or part) row deleted by any means takes its files with it (:func:`delete_files_of`, connected
to ``post_delete``).

The storage must not be public: see docs/jobs.md ("Uploaded files").
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from .. import conf
from ..models import Job
from ..models.jobs import FINAL_JOB_STATES

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
