"""Counts taken from the fields the spec defines per async action type (D9), metadata counted
in the body budget (D12), jobs never stuck before or after submission (D11)."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from django_voucherify import jobs
from django_voucherify.jobs import dispatch, results, runner
from django_voucherify.models import Job, JobPart, JobState, PartState

pytestmark = pytest.mark.django_db(transaction=True)


def finished_part(job: Job, result: dict, status: str = "DONE") -> Job:
    part = job.parts.get()
    runner._finish_part(part, PartState.DONE if status == "DONE" else PartState.FAILED, result=result)
    job.refresh_from_db()
    return job


@pytest.mark.parametrize("start", [jobs.update_vouchers_metadata, jobs.update_customers_metadata])
def test_metadata_update_results_without_counts_follow_the_spec(sandbox, monkeypatch, start):
    monkeypatch.setattr(dispatch, "after_commit_start", lambda job: None)
    job = start(["A", "B", "C"], {"k": 1})
    # The spec's VOUCHERS/CUSTOMERS.METADATA_UPDATE result: only ``errors`` (message, details, key).
    job = finished_part(
        job, {"errors": [{"message": "Not found", "details": "Cannot find B", "key": "not_found"}]}
    )
    assert (job.state, job.done_count, job.failed_count) == (JobState.DONE, 2, 1)
    assert job.failed_rows == [{"key": "not_found", "reason": "Cannot find B", "part": 1}]
    assert job.done_count + job.failed_count == job.total_rows


def test_counts_are_read_when_the_type_defines_them(sandbox, monkeypatch):
    monkeypatch.setattr(dispatch, "after_commit_start", lambda job: None)
    job = jobs.bulk_update_vouchers([{"code": "A"}, {"code": "B"}])
    job = finished_part(
        job,
        {
            "done_count": 1,
            "failed_count": 1,
            "errors": [{"message": "m", "details": "d", "key": "not_found", "code": "B"}],
        },
    )
    assert (job.done_count, job.failed_count) == (1, 1) and job.failed_rows[0]["code"] == "B"
    # VOUCHERS.IMPORT's ``failed`` is one object in the spec, a list elsewhere: both are read.
    job = jobs.import_vouchers([{"code": "A"}, {"code": "B"}])
    job = finished_part(job, {"failed": {"code": "B", "reason": "duplicate"}})
    assert (job.done_count, job.failed_count) == (1, 1) and job.failed_rows[0]["reason"] == "duplicate"


@pytest.mark.parametrize(
    ("result", "counts", "rows"),
    [
        ({"done_count": -1, "failed_count": 0}, (2, 0), []),
        ({"done_count": 2**40, "failed_count": 2**40}, (2, 0), []),
        ({"done_count": 1, "failed_count": 1, "failed": [{"row": 2**40, "code": "B"}]}, (1, 1), [None]),
        ({"done_count": 1, "failed_count": 1, "failed": [{"row": -3, "code": "B"}]}, (1, 1), [None]),
        ({"done_count": 1, "failed_count": 1, "failed": [{"row": 2, "code": "B"}]}, (1, 1), [2]),
    ],
)
def test_counts_and_rows_out_of_range_do_not_stop_the_part_finishing(
    sandbox, monkeypatch, result, counts, rows
):
    """A count or row number in the result that no column can hold (negative, over 2**31, more
    than the part's rows) raised DataError / IntegrityError in the part's final write: the part
    was never finished, polled again and again until JOB_MAX_AGE (7 days), a traceback each
    time. Such a count is not taken (the rows are counted as the type without counts are); such
    a row is listed without its number."""
    monkeypatch.setattr(dispatch, "after_commit_start", lambda job: None)
    job = finished_part(jobs.import_vouchers([{"code": "A"}, {"code": "B"}]), result)
    assert job.state == JobState.DONE and (job.done_count, job.failed_count) == counts
    assert [r.get("row") for r in job.failed_rows] == rows


@pytest.mark.parametrize(
    ("progress", "status"),
    [
        ("55%", "IN_PROGRESS"),
        (-5, "IN_PROGRESS"),
        (10**6, "IN_PROGRESS"),
        ([50], "IN_PROGRESS"),
        (5, "X" * 40),
    ],
)
def test_a_progress_that_is_not_a_percentage_is_not_an_error(sandbox, monkeypatch, progress, status):
    """An IN_PROGRESS answer whose ``progress`` is no percentage ("55%", -5, a million) or whose
    status is longer than its column raised out of the poll (ValueError, DataError,
    IntegrityError): the poll chain went through the task's error retries, a traceback every
    30 s, until the action ended."""
    api = runner._client().async_actions
    real_get = api.get
    seen = []

    def odd_progress(action_id):
        action = dict(real_get(action_id))
        if not seen:  # the first poll sees it still running
            seen.append(action_id)
            action.update(status=status, progress=progress, result=None)
        return action

    monkeypatch.setattr(api, "get", odd_progress)
    voucher = {"code": "A", "type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1}}
    job = runner.drive(jobs.import_vouchers([voucher]), timeout=20)
    assert seen and job.state == JobState.DONE and job.done_count == 1


def test_metadata_counts_in_the_body_budget(sandbox, tune):
    tune(BULK_CHUNK_BYTES=20_000)
    bodies = []

    def listen(exchange):
        if exchange.request.path.endswith("/metadata/async"):
            bodies.append(len(exchange.request.body))

    sandbox.response_listeners.append(listen)
    metadata = {"blob": "x" * 15_000, "name": "caf\u00e9"}
    job = runner.drive(jobs.update_vouchers_metadata([f"C{i}" for i in range(2000)], metadata), timeout=30)
    parts = list(job.parts.all())
    assert len(parts) > 4 and len(bodies) == len(parts)
    assert max(bodies) < 20_000 and sorted(bodies) == sorted(p.size_bytes for p in parts)
    for part in parts:
        assert part.size_bytes == len(json.dumps({"codes": part.payload, "metadata": metadata}))
    with pytest.raises(ValueError, match="metadata alone"):
        jobs.update_customers_metadata(["c"], {"blob": "x" * 20_000})


def test_a_missing_source_file_fails_the_job_with_the_reason(sandbox, monkeypatch):
    monkeypatch.setattr(dispatch, "after_commit_prepare", lambda job: None)
    job = jobs.import_vouchers_csv(io.BytesIO(b"Code\nA\n"), name="gone.csv")
    job.source_file.storage.delete(job.source_file.name)
    from django_voucherify.tasks.jobs import prepare_job

    prepare_job.apply(args=(job.pk,))
    job.refresh_from_db()
    assert job.state == JobState.FAILED and "cannot be read" in job.error and "gone" in job.error


def test_prepare_fails_the_job_after_its_last_retry(sandbox, monkeypatch):
    monkeypatch.setattr(dispatch, "after_commit_prepare", lambda job: None)
    job = jobs.import_vouchers_csv(io.BytesIO(b"Code\nA\n"), name="x.csv")

    def broken(job_id):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(jobs.service, "prepare", broken)
    from django_voucherify.tasks.jobs import PREPARE_MAX_RETRIES, prepare_job

    prepare_job.apply(args=(job.pk,), retries=PREPARE_MAX_RETRIES)
    job.refresh_from_db()
    assert job.state == JobState.FAILED and "database hiccup" in job.error


def test_a_job_older_than_job_max_age_fails_with_its_last_known_status(sandbox, tune, monkeypatch):
    tune(JOB_MAX_AGE=3600)
    monkeypatch.setattr(dispatch, "schedule", lambda steps: None)
    sandbox.state.job_delay = 600.0
    job = jobs.import_vouchers(
        [{"code": "A", "type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1}}]
    )
    part = job.parts.get()
    [poll] = runner.submit_part(part.pk)
    assert runner.poll_part(part.pk, poll.token)  # young: polls on
    status = JobPart.objects.get(pk=part.pk).remote_status
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(hours=2))
    token = JobPart.objects.get(pk=part.pk).lease_token
    assert runner.poll_part(part.pk, token) == []
    job.refresh_from_db()
    assert job.state == JobState.FAILED and "JOB_MAX_AGE" in job.error
    assert f"Last known status: {status}" in job.error and part.async_action_id in job.error
    # A job stuck preparing (no message left) is failed by resume_jobs.
    monkeypatch.setattr(dispatch, "after_commit_prepare", lambda job: None)
    stuck = jobs.import_vouchers_csv(io.BytesIO(b"Code\nA\n"), name="s.csv")
    Job.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - timedelta(hours=2))
    dispatch.resume()
    assert Job.objects.get(pk=stuck.pk).state == JobState.FAILED


def test_source_row_translation():
    part = JobPart(first_row=10, skipped_rows=[11, 12, 15])
    assert [results.source_row(part, r) for r in (1, 2, 3, 4, 5)] == [10, 13, 14, 16, 17]
