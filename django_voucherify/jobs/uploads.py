"""Uploaded sources hold customer data: stored under unguessable names, deleted when done.

A job's ``source_file`` (the CSV staff uploaded) is deleted from storage when the job ends,
successfully or not, unless ``VOUCHERIFY["JOB_UPLOAD_RETENTION"]`` (seconds, default 0) keeps
it longer; :func:`purge_expired` (the ``purge_job_uploads`` task, also run by ``resume_jobs``)
deletes those whose time is up, and any a crashed worker left behind. The split part files are
deleted as each part finishes (``runner._finish_part``), or at once when preparing fails. A job
(or part) row deleted by any means takes its files with it (:func:`delete_files_of`, connected
to ``post_delete``).

A file no row names (a process killed between storing a file and committing the row that names
it: an upload, a split part, an export download) is deleted by :func:`purge_orphans` once it
is older than :data:`ORPHAN_MIN_AGE`; the purge runs it at most every
:data:`ORPHAN_SCAN_INTERVAL`.

An export's ``result_file`` is kept ``VOUCHERIFY["EXPORT_RETENTION_DAYS"]`` days (default 30)
after its job ends: :func:`purge_expired_results` (run by the periodic sweep) then deletes it,
clears the field and notes when in ``job.result[RESULT_EXPIRED_AT]`` (``Job.file_expired``), so the admin says
"expired" instead of offering a download that would fail. Failed rows are database rows (their
CSV is made on download), removed with their job.

The storage must not be public: see docs/jobs.md ("Uploaded files").
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .. import conf
from ..models import Job, JobPart
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
    """Delete the uploads of jobs that ended more than ``JOB_UPLOAD_RETENTION`` seconds ago,
    and, at most every :data:`ORPHAN_SCAN_INTERVAL`, the files no row names
    (:func:`purge_orphans`); returns how many files were deleted."""
    cutoff = timezone.now() - timedelta(seconds=retention())
    due = Job.objects.filter(state__in=FINAL_JOB_STATES, finished_at__lte=cutoff).exclude(source_file="")
    deleted = sum(delete_source(job) for job in due.iterator())
    return deleted + (purge_orphans() if _orphan_scan_due() else 0)


#: A file no row names is deleted only once it is this old: an upload being stored, a CSV
#: being split (its parts are named when the split commits) or an export being downloaded is
#: unnamed for seconds to minutes, never for a day.
ORPHAN_MIN_AGE = timedelta(days=1)
#: The folder walk costs a listing of every stored file (requests on a remote storage), and
#: orphans only come of killed processes: once an hour is plenty (an orphan lives at most
#: ORPHAN_MIN_AGE + ORPHAN_SCAN_INTERVAL).
ORPHAN_SCAN_INTERVAL = timedelta(hours=1)
#: Cache key holding off the next walk until ORPHAN_SCAN_INTERVAL is over (per cache: with a
#: per-process cache each process walks once an hour, harmless).
ORPHAN_SCAN_KEY = "django_voucherify:orphan-scan"
#: Names looked up in the database per query, and files deleted per walk at most (the next
#: walk takes the rest).
ORPHAN_BATCH = 500
ORPHAN_PURGE_LIMIT = 500

#: What job_upload_to makes, and nothing else: ``<year>/<month>/<token_urlsafe(32)>[.ext]``
#: (a storage that refuses to overwrite may add ``_<7 characters>``). A file of another shape
#: under the folder is not ours and is never deleted.
_MONTH_FOLDER = re.compile(r"\d{4}/\d{2}")
_OUR_FILE = re.compile(r"[A-Za-z0-9_-]{43}(?:_[A-Za-z0-9]{7})?(?:\.[a-z0-9]{1,8})?")


#: ``time.monotonic()`` before which this process does not walk: the hold-off when the cache
#: keeps nothing (``DummyCache.add`` always answers True).
_held_off_until = 0.0


def _orphan_scan_due() -> bool:
    global _held_off_until
    try:
        added = bool(cache.add(ORPHAN_SCAN_KEY, True, ORPHAN_SCAN_INTERVAL.total_seconds()))
        kept = added and cache.get(ORPHAN_SCAN_KEY) is not None
    except Exception:  # a cache that does not answer must not fail the expired-upload purge
        logger.warning("Voucherify jobs: cache unavailable, orphan file walk skipped", exc_info=True)
        return False
    if not added or kept:
        return added
    now = time.monotonic()  # a cache that keeps nothing: held off in this process instead
    if now < _held_off_until:
        return False
    _held_off_until = now + ORPHAN_SCAN_INTERVAL.total_seconds()
    return True


def purge_orphans(now: datetime | None = None, *, limit: int = ORPHAN_PURGE_LIMIT) -> int:
    """Delete the files under ``JOB_UPLOAD_TO`` that no job or part row names (source, export
    result, split part) and that are older than :data:`ORPHAN_MIN_AGE`; returns how many (at
    most ``limit``). The folder is walked one month folder at a time and looked up in batches
    of :data:`ORPHAN_BATCH` names, so memory does not grow with the number of files."""
    storage = Job._meta.get_field("source_file").storage
    cutoff = (now or timezone.now()) - ORPHAN_MIN_AGE
    deleted = 0
    names = _stored_files(storage, _folder(storage))
    while deleted < limit and (batch := list(islice(names, ORPHAN_BATCH))):
        for name in _unnamed(batch):
            if deleted < limit and _old(storage, name, cutoff) and _delete_orphan(storage, name):
                deleted += 1
    return deleted


def _folder(storage: Any) -> str:
    """``JOB_UPLOAD_TO`` as the storage writes it in the names rows hold: ``generate_filename``
    normalizes the path (``voucherify//jobs`` and ``./voucherify/jobs`` store
    ``voucherify/jobs/...``), and a name compared in any other spelling matches no row, which
    would make every file look orphaned."""
    probe = storage.generate_filename(f"{conf.settings().job_upload_to.rstrip('/')}/probe")
    return posixpath.dirname(str(probe).replace("\\", "/"))


def _stored_files(storage: Any, folder: str) -> Iterator[str]:
    """The names of our files under ``folder``, one month folder listed at a time."""
    for year in _listing(storage, folder, dirs=True):
        for month in _listing(storage, f"{folder}/{year}", dirs=True):
            if _MONTH_FOLDER.fullmatch(f"{year}/{month}"):
                path = f"{folder}/{year}/{month}"
                files = _listing(storage, path, dirs=False)
                yield from (f"{path}/{name}" for name in files if _OUR_FILE.fullmatch(name))


def _listing(storage: Any, path: str, *, dirs: bool) -> Iterator[str]:
    """The folders (``dirs``) or files in ``path``: read lazily from the file system when the
    storage is local (``os.scandir``); else ``Storage.listdir``, the only listing Django's
    storage API has (a remote storage pages its listing itself, and a month folder is what it
    holds at once)."""
    try:
        local = storage.path(path)
    except NotImplementedError:
        local = None
    if local is None:
        try:
            folders, files = storage.listdir(path)
        except FileNotFoundError:
            return
        yield from folders if dirs else files
        return
    try:
        with os.scandir(local) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False) if dirs else entry.is_file(follow_symlinks=False):
                    yield entry.name
    except FileNotFoundError:
        return


def _unnamed(batch: list[str]) -> list[str]:
    """The names of ``batch`` that no job or part row refers to: one lookup per table, each on
    the indexes of its file columns, unordered (a part's default order joined the job table)."""
    named: set[str] = set()
    jobs = Job.objects.filter(Q(source_file__in=batch) | Q(result_file__in=batch)).order_by()
    for source, result in jobs.values_list("source_file", "result_file"):
        named.update((source, result))
    named.update(JobPart.objects.filter(file__in=batch).order_by().values_list("file", flat=True))
    return [name for name in batch if name not in named]


def _old(storage: Any, name: str, cutoff: datetime) -> bool:
    """Whether the file was last written before ``cutoff``; a storage that cannot tell keeps it."""
    try:
        modified = storage.get_modified_time(name)
    except (OSError, NotImplementedError):
        return False
    if timezone.is_naive(modified) and timezone.is_aware(cutoff):  # a storage without time zones
        modified = timezone.make_aware(modified)
    return bool(modified < cutoff)


def _delete_orphan(storage: Any, name: str) -> bool:
    try:
        storage.delete(name)
    except Exception:  # the next walk retries
        logger.warning("Voucherify jobs: could not delete the orphan file %s", name, exc_info=True)
        return False
    logger.info("Voucherify jobs: deleted %s, a file no job names (a process stopped before naming it)", name)
    return True


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
