"""Admin: the upload form checks the header before anything is sent and starts a job; the job
page shows progress and failed rows (also as a CSV download)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from django_voucherify.jobs import runner
from django_voucherify.models import Job, JobState

pytestmark = pytest.mark.django_db(transaction=True)

UPLOAD = "admin:django_voucherify_job_upload"


def test_upload_with_a_wrong_header_shows_the_error_and_sends_nothing(admin_client, sandbox):
    page = admin_client.post(reverse(UPLOAD), {
        "what": "vouchers", "file": SimpleUploadedFile("x.csv", b"Name,Value\nA,1\n")})  # fmt: skip
    assert page.status_code == 200
    assert "no Code column" in page.content.decode()
    assert Job.objects.count() == 0 and sandbox.calls.calls == []


def test_upload_starts_a_job_and_its_page_shows_progress_and_failed_rows(admin_client, sandbox):
    changelist = admin_client.get(reverse("admin:django_voucherify_job_changelist")).content.decode()
    assert "Import a CSV" in changelist
    data = b"Code,Value,Expiration Date\nGOOD,10,2030-01-01\nBAD,10,tomorrow\n"
    response = admin_client.post(reverse(UPLOAD), {"what": "vouchers",
                                                   "file": SimpleUploadedFile("v.csv", data)})  # fmt: skip
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{job.pk}/change/")
    job = runner.drive(job, timeout=20)
    assert job.state == JobState.DONE and job.started_by.username == "admin"
    page = admin_client.get(reverse("admin:django_voucherify_job_change", args=[job.pk])).content.decode()
    assert 'progress value="100"' in page and "Expiration Date is not an ISO 8601 date" in page
    assert job.parts.get().async_action_id in page
    csv_text = admin_client.get(reverse("admin:django_voucherify_job_failed_rows", args=[job.pk])).content
    assert b"2,BAD,,," in csv_text and b"ISO 8601" in csv_text


def test_customers_upload_and_check_now_action(admin_client, sandbox):
    response = admin_client.post(reverse(UPLOAD), {"what": "customers", "file": SimpleUploadedFile(
        "c.csv", b"Source_id,Name\nc-1,One\n")})  # fmt: skip
    assert response.status_code == 302
    job = Job.objects.get()
    admin_client.post(reverse("admin:django_voucherify_job_changelist"),
                      {"action": "check_now", "_selected_action": [job.pk]})  # fmt: skip
    assert runner.drive(job, timeout=20).state == JobState.DONE
    assert sandbox.state.find_customer("c-1")["name"] == "One"
