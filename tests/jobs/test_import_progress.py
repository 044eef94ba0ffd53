"""A CSV import's progress moves part by part: a 20,000-row file is several parts (it was one,
so its progress jumped from 0 to 100 %), while a big file is not cut into many tiny parts."""

from __future__ import annotations

import io

import pytest
from django.db.models.signals import post_save
from hypothesis import given
from hypothesis import strategies as st

from django_voucherify import jobs
from django_voucherify.jobs import runner, service
from django_voucherify.models import Job, JobState
from tests.support.jobs import voucher_csv


@pytest.mark.django_db(transaction=True)
def test_a_20000_row_import_reports_progress_between_0_and_100(sandbox):
    seen: list[tuple[str, int]] = []

    def record(sender, instance, **kwargs):
        seen.append((instance.state, instance.progress))

    post_save.connect(record, sender=Job, weak=False)
    try:
        job = runner.drive(
            jobs.import_vouchers_csv(io.BytesIO(voucher_csv(20_000)), name="20k.csv"), timeout=120
        )
    finally:
        post_save.disconnect(record, sender=Job)
    assert job.state == JobState.DONE and job.done_count == 20_000 and job.failed_count == 0, job.error
    parts = list(job.parts.order_by("index"))
    assert len(parts) >= 5 and sum(p.row_count for p in parts) == 20_000
    between = sorted({progress for state, progress in seen if 0 < progress < 100})
    assert len(between) >= 3, seen  # the job page's bar moves several times before the end
    progresses = [progress for _state, progress in seen]
    assert progresses == sorted(progresses)  # never goes backwards
    assert job.progress == 100


def test_part_sizes_for_progress_stay_within_the_request_limit(settings):
    limit = service.max_bytes()
    assert service.csv_part_bytes(1_000_000) == 100_000  # ~20,000 rows: 10 parts
    assert service.csv_part_bytes(20_000_000) == 2_000_000  # ~1,000,000 rows: 10 parts of 2 MB
    assert service.csv_part_bytes(500_000_000) == limit  # a huge file: parts as big as allowed
    assert service.csv_part_bytes(10_000) == service.MIN_PROGRESS_PART_BYTES  # one small part
    assert service.csv_part_bytes(None) == limit


@given(st.integers(min_value=1, max_value=10**11))
def test_the_part_count_is_bounded_and_parts_never_exceed_the_limit(size):
    part = service.csv_part_bytes(size)
    limit = service.max_bytes()
    assert service.MIN_PROGRESS_PART_BYTES <= part <= limit or part == limit
    parts = -(-size // part)
    assert parts <= max(service.PROGRESS_PARTS, -(-size // limit))


@pytest.mark.django_db(transaction=True)
def test_a_row_the_request_allows_is_not_refused_for_the_progress_part_size(sandbox):
    """A part closes at a tenth of the file for progress, but only the request's limit refuses a
    row: a 100 KB customer row in a 300 KB file was refused ("over the request size limit")."""
    big = "x" * 100_000
    lines = ["source_id,note", *[f"c{i},short" for i in range(5000)], f"big,{big}", "last,short"]
    data = ("\n".join(lines) + "\n").encode()
    assert service.csv_part_bytes(len(data)) < 100_000 < service.max_bytes()
    job = runner.drive(jobs.import_customers_csv(io.BytesIO(data), name="big-row.csv"), timeout=120)
    assert job.failed_count == 0 and job.done_count == 5002, (
        job.error,
        list(job.failed_row_set.values("row", "reason")),
    )
    parts = list(job.parts.order_by("index"))
    assert len(parts) >= 3  # still several parts for the progress
    assert max(p.row_count for p in parts if p.first_row <= 5001 <= p.first_row + p.row_count - 1) == 1
