"""Broken CSVs: refused before anything is sent, or sent without the bad rows, which are listed
with their reasons. Nothing is silently dropped."""

from __future__ import annotations

import io

import pytest

from django_voucherify import jobs
from django_voucherify.jobs import runner
from django_voucherify.models import Job, JobState
from tests.jobs.conftest import voucher_csv

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(("content", "message"), [
    (b"", "empty"),
    (b"\n\n", "empty"),
    (b"Name,Value\nX,1\n", "no Code column"),
    (b"\xff\xfeC\x00o\x00d\x00e\x00\n\x00", "not UTF-8"),  # UTF-16
    (b"Code,Value,Code\nA,1,B\n", "repeats columns"),
    (b"Code,,Value\nA,,1\n", "empty column name"),
])  # fmt: skip
def test_unusable_files_are_refused_before_anything_is_stored_or_sent(sandbox, content, message):
    with pytest.raises(jobs.CsvError, match=message):
        jobs.import_vouchers_csv(io.BytesIO(content), name="bad.csv")
    assert Job.objects.count() == 0 and sandbox.calls.calls == []


def test_customer_csv_needs_a_source_id_column(sandbox):
    with pytest.raises(jobs.CsvError, match="Source_id"):
        jobs.import_customers_csv(io.BytesIO(b"Name,Email\nA,a@example.com\n"))


def test_header_only_file_fails_the_job_without_sending(sandbox):
    job = runner.drive(jobs.import_vouchers_csv(io.BytesIO(b"Code,Value\n"), name="h.csv"))
    assert job.state == JobState.FAILED and "no rows" in job.error
    assert sandbox.calls.count("POST") == 0


def test_bad_rows_are_listed_with_reasons_and_the_rest_is_imported(sandbox):
    data = (
        b"Code,Value,Start Date,Expiration Date,Redemption Limit,Voucher Type\n"
        b"OK-1,10,2024-01-01,2030-12-31T00:00:00Z,5,DISCOUNT_VOUCHER\n"
        b"BAD-DATE,10,31/12/2024,,,\n"
        b"BAD-DAY,10,2024-02-30,,,\n"
        b",10,,,,\n"
        b"BAD-VALUE,ten,,,,\n"
        b"BAD-LIMIT,10,,,2.5,\n"
        b"BAD-TYPE,10,,,,COUPON\n"
        b"OK-\xe9,10,,,,\n"  # latin-1 byte: not UTF-8
        b"\n"
        b"OK-2,10,,,,\n"
        b"TOO,MANY,FIELDS,,,,,\n"
    )
    job = runner.drive(jobs.import_vouchers_csv(io.BytesIO(data), name="mixed.csv"))
    assert job.state == JobState.DONE, job.error
    assert sorted(sandbox.state.vouchers) == ["OK-1", "OK-2"]
    by_row = {r["row"]: r for r in job.failed_rows}
    assert sorted(by_row) == [2, 3, 4, 5, 6, 7, 8, 10]
    assert "Start Date is not an ISO 8601 date" in by_row[2]["reason"] and by_row[2]["code"] == "BAD-DATE"
    assert "Start Date" in by_row[3]["reason"]
    assert "Code is empty" in by_row[4]["reason"]
    assert "Value is not a number" in by_row[5]["reason"]
    assert "Redemption Limit" in by_row[6]["reason"]
    assert "Voucher Type" in by_row[7]["reason"]
    assert "not valid UTF-8" in by_row[8]["reason"]
    assert "fields" in by_row[10]["reason"]
    assert (job.total_rows, job.done_count, job.failed_count) == (10, 2, 8)


def test_rows_refused_by_voucherify_are_reported_with_source_row_numbers(sandbox, tune):
    tune(BULK_CHUNK_BYTES=3000)
    rows = voucher_csv(200).decode().splitlines()
    rows[150] = rows[150].replace(",10,", ",150,")  # passes our checks; Voucherify refuses 150 %
    job = runner.drive(jobs.import_vouchers_csv(io.BytesIO(("\n".join(rows) + "\n").encode()), name="r.csv"))
    assert job.parts.count() > 1 and job.state == JobState.DONE
    [refused] = job.failed_rows
    assert refused["row"] == 150 and refused["code"] == "CODE-0000149" and refused["part"] > 1
    assert "percent_off" in refused["reason"]
    assert (job.done_count, job.failed_count) == (199, 1)


def test_a_file_over_10_mb_is_split_into_parts_under_the_limit(sandbox):
    data = voucher_csv(230_000)  # ~11 MB
    assert len(data) > 10 * 1024 * 1024
    job = runner.drive(jobs.import_vouchers_csv(io.BytesIO(data), name="big.csv"), timeout=120)
    assert job.state == JobState.DONE, job.error
    sizes = [p.size_bytes for p in job.parts.all()]
    assert len(sizes) == 2 and max(sizes) < 9_000_000
    assert job.done_count == 230_000 and len(sandbox.state.vouchers) == 230_000
    assert sandbox.calls.count("POST", "/v1/vouchers/importCSV") == 2
    assert not any(p.file for p in job.parts.all())  # split copies removed once done
