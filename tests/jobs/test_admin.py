"""Admin: the upload form checks the header before anything is sent and starts a job; the job
page shows progress and failed rows (also as a CSV download)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from django_voucherify import jobs
from django_voucherify.jobs import runner
from django_voucherify.models import Job, JobPart, JobState
from django_voucherify.models.jobs import FAILED_ROWS_SAMPLE
from tests.support.admin import post_action

pytestmark = pytest.mark.django_db(transaction=True)

UPLOAD = "admin:django_voucherify_job_upload"


def test_upload_with_a_wrong_header_shows_the_error_and_sends_nothing(admin_client, sandbox):
    page = admin_client.post(
        reverse(UPLOAD), {"what": "vouchers", "file": SimpleUploadedFile("x.csv", b"Name,Value\nA,1\n")}
    )
    assert page.status_code == 200
    assert "no Code column" in page.content.decode()
    assert Job.objects.count() == 0 and sandbox.calls.calls == []


def test_upload_starts_a_job_and_its_page_shows_progress_and_failed_rows(admin_client, sandbox):
    changelist = admin_client.get(reverse("admin:django_voucherify_job_changelist")).content.decode()
    assert "Import a CSV" in changelist
    data = b"Code,Value,Expiration Date\nGOOD,10,2030-01-01\nBAD,10,tomorrow\n"
    response = admin_client.post(
        reverse(UPLOAD), {"what": "vouchers", "file": SimpleUploadedFile("v.csv", data)}
    )
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{job.pk}/change/")
    job = runner.drive(job, timeout=20)
    assert job.state == JobState.DONE and job.started_by.username == "admin"
    page = admin_client.get(reverse("admin:django_voucherify_job_change", args=[job.pk])).content.decode()
    assert 'progress value="100"' in page and "Expiration Date is not an ISO 8601 date" in page
    assert job.parts.get().async_action_id in page
    download = admin_client.get(reverse("admin:django_voucherify_job_failed_rows", args=[job.pk]))
    csv_text = b"".join(download.streaming_content)
    assert b"2,BAD,,,," in csv_text and b"ISO 8601" in csv_text


def test_check_now_needs_the_check_job_permission(client, sandbox, django_user_model, monkeypatch):
    from django.contrib.auth.models import Permission

    staff = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_job"))
    client.force_login(staff)
    monkeypatch.setattr(jobs.dispatch, "after_commit_start", lambda job: None)
    job = jobs.import_vouchers([{"code": "P1"}])
    queued = []
    monkeypatch.setattr(jobs.dispatch, "schedule", lambda steps: queued.extend(steps))
    changelist = reverse("admin:django_voucherify_job_changelist")
    assert "check_now" not in client.get(changelist).content.decode()
    post_action(client, changelist, "check_now", [job])
    assert queued == [] and JobPart.objects.get(job=job).state == "pending"

    staff.user_permissions.add(Permission.objects.get(codename="check_job"))
    staff = django_user_model.objects.get(pk=staff.pk)  # permission cache
    client.force_login(staff)
    assert "check_now" in client.get(changelist).content.decode()
    post_action(client, changelist, "check_now", [job])
    assert [s.action for s in queued] == ["submit"]


def test_many_failed_rows_keep_a_sample_on_the_job_and_all_in_the_download(admin_client, sandbox):
    rows = 3 * FAILED_ROWS_SAMPLE
    data = b"Code,Value\n" + b"".join(b"C%d,x\n" % i for i in range(rows)) + b"OK,1\n"
    job = runner.drive(jobs.import_vouchers_csv(__import__("io").BytesIO(data), name="many.csv"), timeout=20)
    assert (job.total_rows, job.done_count, job.failed_count) == (rows + 1, 1, rows)
    assert len(job.failed_rows) == FAILED_ROWS_SAMPLE and job.failed_rows[0]["row"] == 1
    page = admin_client.get(reverse("admin:django_voucherify_job_change", args=[job.pk])).content.decode()
    assert f"{rows - FAILED_ROWS_SAMPLE} more rows in the CSV download" in page
    download = admin_client.get(reverse("admin:django_voucherify_job_failed_rows", args=[job.pk]))
    lines = b"".join(download.streaming_content).decode().splitlines()
    assert len(lines) == rows + 1 and lines[-1].startswith(f"{rows},C{rows - 1},")


def test_customers_upload_and_check_now_action(admin_client, sandbox):
    response = admin_client.post(
        reverse(UPLOAD),
        {"what": "customers", "file": SimpleUploadedFile("c.csv", b"Source_id,Name\nc-1,One\n")},
    )
    assert response.status_code == 302
    job = Job.objects.get()
    post_action(admin_client, reverse("admin:django_voucherify_job_changelist"), "check_now", [job])
    assert runner.drive(job, timeout=20).state == JobState.DONE
    assert sandbox.state.find_customer("c-1")["name"] == "One"


def test_the_job_page_names_its_upload_without_a_link_into_the_private_storage(admin_client, sandbox, tune):
    """The FileField's own display linked to the storage URL: without MEDIA_URL a link relative to
    the job's page (a redirect to "doesn't exist"), with one a public URL for customer data."""
    tune(JOB_UPLOAD_RETENTION=3600)  # the upload is kept after the end, so the page shows it
    job = runner.drive(jobs.import_vouchers_csv(__import__("io").BytesIO(b"Code\nKEEP-1\n"), name="k.csv"))
    name = job.source_file.name
    assert job.state == JobState.DONE and name
    page = admin_client.get(reverse("admin:django_voucherify_job_change", args=[job.pk])).content.decode()
    assert name in page
    assert f'href="{job.source_file.url}"' not in page and f"{name}</a>" not in page
