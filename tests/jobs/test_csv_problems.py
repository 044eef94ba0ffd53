"""Broken CSVs: refused before anything is sent, or sent without the bad rows, which are listed
with their reasons. Nothing is silently dropped."""

from __future__ import annotations

import io

import pytest

from django_voucherify import jobs
from django_voucherify.jobs import runner
from django_voucherify.models import Job, JobState
from tests.support.jobs import voucher_csv

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\n\n", "empty"),
        (b"Name,Value\nX,1\n", "no Code column"),
        (b"\xff\xfeC\x00o\x00d\x00e\x00\n\x00", "not UTF-8"),  # UTF-16
        (b"Code,Value,Code\nA,1,B\n", "repeats columns"),
        (b"Code,,Value\nA,,1\n", "empty column name"),
        # A quoted name holding a line break: it was cut there and sent as "Va".
        (b'Code,"Va\nlue"\nA,1\n', "Column 2 of the header \\(Va\\) is quoted and holds a line break"),
        (b'Code,"Va\r\nlue"\r\nA,1\r\n', "holds a line break"),
        # Over 64 KiB: only its start was checked, yet the rows carried every column.
        (b"Code," + b",".join(b"c%05d" % i for i in range(12000)) + b"\nA\n", "longer than 65536 bytes"),
    ],
)
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
    # About a tenth of the file each (progress moves per part), never over the request limit.
    assert 2 <= len(sizes) <= 11 and max(sizes) < 9_000_000
    assert job.done_count == 230_000 and len(sandbox.state.vouchers) == 230_000
    assert sandbox.calls.count("POST", "/v1/vouchers/importCSV") == len(sizes)
    assert not any(p.file for p in job.parts.all())  # split copies removed once done


def test_row_refused_by_voucherify_after_local_rejects_keeps_its_source_number(sandbox):
    data = (
        b"Code,Value,Discount Type\n"
        b"R-1,10,PERCENT\n"
        b"R-2,ten,PERCENT\n"  # refused here (row 2): not in the part file
        b" , \n"  # only spaces and commas: a failed row (3), not skipped
        b"R-4,10,PERCENT\n"
        b"\n"  # truly empty: not a row
        b"R-5,150,PERCENT\n"
    )  # refused by Voucherify: source row 5, the part's row 3
    job = runner.drive(jobs.import_vouchers_csv(io.BytesIO(data), name="m.csv"), timeout=20)
    by_row = {r["row"]: r for r in job.failed_rows}
    assert sorted(by_row) == [2, 3, 5]
    assert by_row[5]["code"] == "R-5" and "percent_off" in by_row[5]["reason"]
    assert "only empty fields" in by_row[3]["reason"]
    assert (job.total_rows, job.done_count, job.failed_count) == (5, 2, 3)
    assert job.done_count + job.failed_count == job.total_rows


def test_source_rows_map_back_across_many_gaps_and_parts(sandbox, tune, monkeypatch):
    from django_voucherify.jobs import csvfiles

    monkeypatch.setattr(csvfiles, "MAX_SKIPPED_PER_PART", 7)  # parts close early on many gaps
    tune(BULK_CHUNK_BYTES=2500)
    lines = ["Code,Value,Discount Type"]
    for i in range(1, 121):
        value = "x" if i % 3 == 0 else "150" if i % 10 == 1 else "10"  # local / remote refusals
        lines.append(f"G-{i},{value},PERCENT")
    job = runner.drive(
        jobs.import_vouchers_csv(io.BytesIO(("\n".join(lines) + "\n").encode()), name="g.csv"), timeout=30
    )
    assert job.parts.count() > 2
    for row in job.failed_rows:
        assert row["code"] == f"G-{row['row']}", row
    assert job.failed_count == 40 + len([i for i in range(1, 121) if i % 10 == 1 and i % 3])
    assert job.done_count + job.failed_count == 120
