"""CSV uploads had no size limit: a file of any size was stored in the job storage, copied
again into parts and sent (the brief's "upload size limits"; REVIEW.md "huge bodies"). A file
over ``JOB_UPLOAD_MAX_BYTES`` is now refused before anything is stored, at every door: the
admin's upload form and the Python API (the jobs review)."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from django_voucherify import jobs
from django_voucherify.models import Job
from tests.support.jobs import voucher_csv

pytestmark = pytest.mark.django_db(transaction=True)


def _stored(media) -> list:
    return [p for p in media.rglob("*") if p.is_file()]


def test_an_upload_over_the_limit_is_refused_before_anything_is_stored(admin_client, sandbox, tune, media):
    tune(JOB_UPLOAD_MAX_BYTES=4096)
    big = voucher_csv(100)  # about 6 KB
    assert len(big) > 4096
    page = admin_client.post(
        reverse("admin:django_voucherify_job_upload"),
        {"what": "vouchers", "file": SimpleUploadedFile("big.csv", big)},
    )
    assert page.status_code == 200 and "JOB_UPLOAD_MAX_BYTES" in page.content.decode()
    assert Job.objects.count() == 0 and sandbox.calls.calls == [] and _stored(media) == []
    with pytest.raises(jobs.CsvError, match="JOB_UPLOAD_MAX_BYTES"):
        jobs.import_vouchers_csv(io.BytesIO(big), name="big.csv")
    assert Job.objects.count() == 0 and _stored(media) == []
    small = voucher_csv(10)
    assert len(small) <= 4096
    job = jobs.import_customers_csv(io.BytesIO(b"Source_id\nC-1\n"), name="ok.csv")
    assert job.pk and jobs.import_vouchers_csv(io.BytesIO(small), name="small.csv").pk
