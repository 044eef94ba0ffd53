"""Files no row names (a process killed between storing a file and committing the row that
names it) are deleted by the periodic sweep once a day old; named files, young files (an upload
in progress) and files of another shape under the folder are never touched."""

from __future__ import annotations

import io
import os
import time
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_voucherify.jobs import uploads
from django_voucherify.models import Job, JobKind, JobPart, JobState
from django_voucherify.tasks.periodic import sweep
from tests.support.outbox import plan_nodes

pytestmark = pytest.mark.django_db

TWO_DAYS = 2 * 86400


def stored(age: float = TWO_DAYS) -> str:
    """A file stored exactly as an upload is (``job_upload_to``), no row naming it: what a
    process killed before ``job.save()`` committed leaves behind; ``age`` seconds old."""
    field = Job(kind=JobKind.IMPORT_VOUCHERS_CSV).source_file
    field.save("codes.csv", ContentFile(b"Code\nA\n"), save=False)
    aged(field.storage, field.name, age)
    return str(field.name)


def aged(storage: Any, name: str, age: float) -> None:
    then = time.time() - age
    os.utime(storage.path(name), (then, then))


@pytest.fixture(params=["scandir", "listdir"])
def storage(request: Any, media: Any, monkeypatch: Any) -> Any:
    """The job storage, walked lazily (local: ``os.scandir``) or through ``Storage.listdir``
    (what a remote storage, which has no ``path``, offers)."""
    storage = Job._meta.get_field("source_file").storage
    if request.param == "listdir":
        monkeypatch.setattr(uploads, "_listing", listing_without_path())
    cache.delete(uploads.ORPHAN_SCAN_KEY)
    monkeypatch.setattr(uploads, "_held_off_until", 0.0)  # no walk of an earlier test holds off
    return storage


def listing_without_path() -> Any:
    walk = uploads._listing

    def listing(storage: Any, path: str, *, dirs: bool) -> Any:
        class Remote:  # the storage as a remote one: listdir and no path()
            def path(self, name: str) -> str:
                raise NotImplementedError

            def listdir(self, name: str) -> Any:
                return storage.listdir(name)

        return walk(Remote(), path, dirs=dirs)

    return listing


def test_the_sweep_deletes_day_old_files_no_row_names_and_nothing_else(storage, media):
    orphan = stored()
    young = stored(age=3600)  # an upload being stored right now has no row yet either
    source = stored()
    job = Job.objects.create(kind=JobKind.IMPORT_VOUCHERS_CSV, state=JobState.PREPARING, source_file=source)
    result = stored()
    Job.objects.create(kind=JobKind.EXPORT_ORDERS, state=JobState.DONE, result_file=result)
    part = stored()
    JobPart.objects.create(job=job, index=1, file=part)
    folder = os.path.dirname(orphan)
    foreign = storage.save(f"{folder}/notes.txt", io.BytesIO(b"not ours"))
    aged(storage, foreign, TWO_DAYS)

    assert sweep()["job_uploads"] == 1
    assert not storage.exists(orphan)
    assert all(storage.exists(name) for name in (young, source, result, part, foreign))


def test_the_walk_runs_at_most_once_an_interval(storage, media):
    first = stored()
    assert uploads.purge_expired() == 1 and not storage.exists(first)
    second = stored()
    assert uploads.purge_expired() == 0 and storage.exists(second)  # the next walk, in an hour
    cache.delete(uploads.ORPHAN_SCAN_KEY)  # the hour is over
    assert uploads.purge_expired() == 1 and not storage.exists(second)


def test_a_walk_deletes_at_most_its_limit_and_looks_names_up_in_batches(storage, media, monkeypatch):
    monkeypatch.setattr(uploads, "ORPHAN_BATCH", 2)
    names = [stored() for _ in range(5)]
    assert uploads.purge_orphans(limit=3) == 3
    assert uploads.purge_orphans(limit=3) == 2
    assert not any(storage.exists(name) for name in names)


def test_an_empty_or_missing_folder_is_nothing_to_do(storage, media):
    assert uploads.purge_orphans() == 0


@pytest.mark.parametrize("folder", ["voucherify//jobs", "./voucherify/jobs", "voucherify/./jobs/"])
def test_a_folder_setting_the_storage_normalizes_never_makes_named_files_look_orphaned(
    storage, media, settings, folder
):
    """The storage stores ``voucherify/jobs/...`` for such a setting (``generate_filename``
    normalizes the path); the walk used the setting as written, so no row matched and every
    day-old file was deleted: running jobs' sources and export results kept for 30 days."""
    settings.VOUCHERIFY = {**settings.VOUCHERIFY, "JOB_UPLOAD_TO": folder}
    source = stored()
    Job.objects.create(kind=JobKind.IMPORT_VOUCHERS_CSV, state=JobState.PREPARING, source_file=source)
    orphan = stored()

    assert uploads.purge_orphans() == 1
    assert storage.exists(source) and not storage.exists(orphan)


def test_a_cache_that_keeps_nothing_still_holds_the_walk_off_for_the_interval(storage, media, settings):
    """``DummyCache.add`` always answers True: the walk (a listing of every stored file, requests
    on a remote storage) ran at every sweep, once a minute, instead of once an hour."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    first = stored()
    assert uploads.purge_expired() == 1 and not storage.exists(first)
    second = stored()
    assert uploads.purge_expired() == 0 and storage.exists(second)  # the next walk, in an hour


def test_the_walk_looks_names_up_on_indexes_never_scanning_the_job_history(storage, media):
    # Each batch of 500 names was looked up on unindexed columns: a scan of every job, then of
    # every part joined to its job (a part's default order), 17 + 15 ms per batch at 100k jobs
    # (PostgreSQL 15), every hour, growing with the history (migration 0029).
    names = [stored() for _ in range(3)]
    Job.objects.bulk_create(
        Job(kind=JobKind.IMPORT_VOUCHERS_CSV, state=JobState.DONE, result_file=f"old/{i}.csv")
        for i in range(2000)
    )
    job = Job.objects.create(kind=JobKind.IMPORT_VOUCHERS_CSV, source_file=names[0])
    JobPart.objects.create(job=job, index=0, file=names[1])
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Job._meta.db_table}")
        cursor.execute(f"ANALYZE {JobPart._meta.db_table}")

    with CaptureQueriesContext(connection) as queries:
        assert uploads.purge_orphans() == 1  # names[2]: the others are named
    lookups = [q["sql"] for q in queries.captured_queries if " IN (" in q["sql"]]

    assert len(lookups) == 2, lookups
    tables = {Job._meta.db_table, JobPart._meta.db_table}
    scanned: set[str] = set()
    for sql in lookups:
        nodes = plan_nodes(sql, None)  # sequential scans disabled: one still shown means no index
        assert not [n for n in nodes if n["Node Type"] == "Seq Scan" and n["Relation Name"] in tables], nodes
        assert not [n for n in nodes if "Join" in n["Node Type"]], nodes  # parts: no job table
        scanned |= {n["Index Name"] for n in nodes if "Index Name" in n}
    assert scanned == {"dv_job_source_file", "dv_job_result_file", "dv_jobpart_file"}
