"""Export files expire: the sweep deletes a finished job's stored CSV after
``EXPORT_RETENTION_DAYS`` and the admin then says "expired" instead of a broken download."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from django_voucherify import jobs
from django_voucherify.jobs import runner, uploads
from django_voucherify.models import Job, JobState
from django_voucherify.models.jobs import RESULT_EXPIRED_AT
from django_voucherify.tasks.periodic import sweep

pytestmark = pytest.mark.django_db(transaction=True)


def finished_export(days_ago: float) -> Job:
    job = runner.drive(jobs.export_orders(), timeout=20)
    assert job.state == JobState.DONE and job.result_file.name, job.error
    Job.objects.filter(pk=job.pk).update(finished_at=timezone.now() - timedelta(days=days_ago))
    job.refresh_from_db()
    return job


def test_the_sweep_deletes_export_files_past_retention_and_the_admin_says_expired(
    admin_client, sandbox, tune
):
    tune(EXPORT_RETENTION_DAYS=7)
    old, recent = finished_export(8), finished_export(6)
    old_name, recent_name = old.result_file.name, recent.result_file.name
    storage = old.result_file.storage
    assert storage.exists(old_name) and storage.exists(recent_name)

    assert sweep()["job_files"] == 1  # the beat's periodic task, as in production
    old.refresh_from_db()
    recent.refresh_from_db()
    assert not storage.exists(old_name) and old.result_file.name == "" and old.file_expired
    assert RESULT_EXPIRED_AT in old.result
    assert storage.exists(recent_name) and not recent.file_expired  # still within its 7 days
    assert sweep()["job_files"] == 0  # idempotent

    page = admin_client.get(reverse("admin:django_voucherify_job_change", args=[old.pk])).content.decode()
    assert "expired" in page and "Download the file" not in page and "not ready yet" not in page
    download = admin_client.get(reverse("admin:django_voucherify_job_result_file", args=[old.pk]))
    assert download.status_code == 302 and download["Location"].endswith(f"/{old.pk}/change/")
    assert "file expired" in admin_client.get(download["Location"]).content.decode()


def test_a_storage_error_leaves_the_file_for_the_next_sweep(sandbox, tune, monkeypatch):
    tune(EXPORT_RETENTION_DAYS=1)
    job = finished_export(2)
    storage = type(job.result_file.storage)

    def refuse(self, name):
        raise OSError("storage down")

    with monkeypatch.context() as m:
        m.setattr(storage, "delete", refuse)
        assert uploads.purge_expired_results() == 0
    job.refresh_from_db()
    assert job.result_file.name and not job.file_expired
    assert uploads.purge_expired_results() == 1


def test_files_that_cannot_be_deleted_do_not_block_the_others(sandbox, tune, monkeypatch):
    """Each sweep tries a page of files; one full of files whose deletion keeps failing used to
    be the page every sweep tried again, so the files after it were never deleted."""
    tune(EXPORT_RETENTION_DAYS=1)
    stuck = [finished_export(9), finished_export(8)]
    last = finished_export(7)
    storage = type(last.result_file.storage)
    real_delete = storage.delete
    refused = {job.result_file.name for job in stuck}

    def delete(self, name):
        if name in refused:
            raise OSError("permission denied")
        return real_delete(self, name)

    monkeypatch.setattr(storage, "delete", delete)
    assert uploads.purge_expired_results(limit=2) == 0  # the two oldest, both refused
    assert uploads.purge_expired_results(limit=2) == 1  # the next one's turn
    last.refresh_from_db()
    assert last.file_expired
    assert uploads.purge_expired_results(limit=2) == 0  # the stuck ones again, nothing lost
    for job in stuck:
        job.refresh_from_db()
        assert job.result_file.name and not job.file_expired


def test_unfinished_jobs_keep_their_file(sandbox, tune):
    tune(EXPORT_RETENTION_DAYS=1)
    job = finished_export(5)
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING)
    assert uploads.purge_expired_results() == 0


@pytest.mark.parametrize(
    ("value", "ok"), [(1, True), (30, True), (0, False), (-3, False), ("7d", False), (1.5, False)]
)
def test_the_retention_setting_is_checked(settings, value, ok):
    settings.VOUCHERIFY = {**settings.VOUCHERIFY, "EXPORT_RETENTION_DAYS": value}
    from django_voucherify.checks import check_voucherify_settings

    ids = [p.id for p in check_voucherify_settings()]
    assert ("voucherify.E049" not in ids) is ok
