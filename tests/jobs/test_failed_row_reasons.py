"""A failed row's reason quotes at most the start of the value it refuses.

Rows refused locally quoted their whole value: a 130,000-character ``Value`` (the csv field
limit) put 130 KB into the reason of each such row, and the job page, its status JSON (polled
every few seconds) and the job row's sample carried 200 of them (26 MB)."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse

from django_voucherify import jobs
from django_voucherify.jobs import csvfiles, runner
from django_voucherify.models import JobFailedRow, JobState

pytestmark = pytest.mark.django_db(transaction=True)

LONG = 130_000


def test_reasons_quote_a_bounded_start_of_the_value(admin_client, sandbox):
    rows = [b"BAD-%d,%s,,\n" % (i, b"x" * LONG) for i in range(20)]
    rows += [b"DATE-1,1,%s,\n" % (b"2" * LONG), b"TYPE-1,1,,%s\n" % (b"T" * LONG), b"OK-1,1,,\n"]
    data = b"Code,Value,Start Date,Voucher Type\n" + b"".join(rows)
    job = runner.drive(jobs.import_vouchers_csv(io.BytesIO(data), name="long.csv"), timeout=20)
    assert job.state == JobState.DONE and job.done_count == 1 and job.failed_count == 22, job.error

    reasons = list(JobFailedRow.objects.filter(job=job).values_list("reason", flat=True))
    assert len(reasons) == 22
    assert all(len(reason) < 300 for reason in reasons), max(map(len, reasons))
    assert reasons[0].startswith("Value is not a number: 'xxxx") and "…'" in reasons[0]  # says what

    page = admin_client.get(reverse("admin:django_voucherify_job_change", args=[job.pk]))
    status = admin_client.get(reverse("admin:django_voucherify_job_status", args=[job.pk]))
    assert len(page.content) < 200_000 and len(status.content) < 50_000, (
        len(page.content),
        len(status.content),
    )


@pytest.mark.parametrize("value", ["2024-13-45", "x" * 50])
def test_a_short_value_is_quoted_whole(value):
    problem = csvfiles.voucher_row_problem({"code": "C", "startdate": value})
    assert problem is not None and repr(value) in problem
