"""Review of issue 10 (defect 10): a CSV whose lines end with CR only is refused with a clear
error at every door (it used to escape as a raw ``csv.Error``: a 500 in the admin upload, a
traceback from the command); the failed-rows download neutralises formulas also after leading
white space and in full-width/small forms; deleting a job (admin, cascade, code) deletes its
files (upload, split parts, export), which used to stay in storage for good."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from django_voucherify import jobs
from django_voucherify.jobs import csvfiles, dispatch, runner
from django_voucherify.models import Job, JobFailedRow, JobPart
from tests.support.jobs import voucher_csv

pytestmark = pytest.mark.django_db(transaction=True)

CR_ONLY = b"Code,Value\rA-1,1\rA-2,2\r"


def test_a_cr_only_csv_is_refused_clearly_by_the_api_the_admin_and_the_command(
    admin_client, sandbox, tmp_path
):
    with pytest.raises(jobs.CsvError, match="CR only"):
        jobs.import_vouchers_csv(io.BytesIO(CR_ONLY), name="mac.csv")
    upload = SimpleUploadedFile("mac.csv", CR_ONLY, content_type="text/csv")
    response = admin_client.post(
        reverse("admin:django_voucherify_job_upload"), {"what": "vouchers", "file": upload}
    )
    assert response.status_code == 200 and "CR only" in response.content.decode()
    path = tmp_path / "mac.csv"
    path.write_bytes(CR_ONLY)
    with pytest.raises(CommandError, match="CR only"):
        call_command("voucherify_job", "import-vouchers", str(path), "--no-progress")
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    "cell",
    [
        " =1+1",
        "  +1",
        "\n=1",
        "\u3000=1",
        "\uff1dHYPERLINK(1)",
        "\uff0b1",
        "\uff0d1",
        "\uff20x",
        "\ufe66x",
        " \uff1d1",
    ],
)
def test_formulas_after_white_space_or_in_full_width_are_neutralised(cell):
    assert csvfiles.spreadsheet_safe(cell) == "'" + cell


def test_the_download_neutralises_them_too(admin_client, sandbox):
    job = runner.drive(jobs.import_vouchers_csv(io.BytesIO(b"Code,Value\nOK,1\n"), name="x.csv"))
    JobFailedRow.objects.create(job=job, row=9, code="\uff1dcmd", reason=" =HYPERLINK(1)")
    response = admin_client.get(reverse("admin:django_voucherify_job_failed_rows", args=[job.pk]))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[1][1] == "'\uff1dcmd" and rows[1][5] == "' =HYPERLINK(1)"


def test_deleting_a_job_in_the_admin_deletes_its_files(admin_client, sandbox, tune, monkeypatch, media):
    tune(BULK_CHUNK_BYTES=2000)
    monkeypatch.setattr(dispatch, "after_commit_start", lambda job: None)  # parts stay pending
    job = jobs.import_vouchers_csv(io.BytesIO(voucher_csv(100)), name="big.csv")
    job.refresh_from_db()
    assert JobPart.objects.filter(job=job).count() > 1
    job.result_file.save("export.csv", ContentFile(b"id\n1\n"))
    assert len([p for p in media.rglob("*") if p.is_file()]) > 3
    response = admin_client.post(
        reverse("admin:django_voucherify_job_delete", args=[job.pk]), {"post": "yes"}
    )
    assert response.status_code == 302 and not Job.objects.exists()
    assert [p for p in media.rglob("*") if p.is_file()] == []
