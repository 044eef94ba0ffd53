"""A job part's step that reads an answer it cannot use, or raises an unexpected error, ends in
a bounded number of steps.

- An async action answered with a 2xx ``{}`` (or any status the spec does not list: its
  statuses are ENQUEUED and IN_PROGRESS, not finished, and DONE and FAILED) says nothing: it
  was taken for "not finished yet" and polled until JOB_MAX_AGE (7 days). Exports likewise
  (SCHEDULED, IN_PROGRESS, DONE, ERROR), and a page of the async action list without its list
  when an unknown submit is reconciled (looked up every 5 s for 7 days).
- An unexpected error in a step (a bug on an odd answer, a database error) was retried by
  Celery every 30 s, uncounted and unrecorded, then re-driven at lease speed for 7 days.

Both now count on the part (``step_errors``), are noted in ``last_error``, are asked again after
a backoff and fail the part with the reason after ``runner.MAX_STEP_ERRORS``.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from django_voucherify import jobs
from django_voucherify.jobs import runner
from django_voucherify.models import JobPart, JobState, PartState
from django_voucherify.tasks.jobs import poll_job_part
from tests.support import adversary

pytestmark = pytest.mark.django_db(transaction=True)

VOUCHER = {"code": "U1", "type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1}}


@pytest.fixture
def quick(tune: Any) -> None:
    """Backoffs of a few milliseconds: ``drive`` sleeps them."""
    tune(JOB_POLL_INTERVAL=0.002, JOB_POLL_INTERVAL_MAX=0.005)


@pytest.mark.parametrize(
    "body",
    [{}, {"status": None}, {"status": "PAUSED"}, {"status": 5}],
    ids=["empty", "null", "unknown", "number"],
)
def test_an_async_action_answer_without_a_listed_status_fails_the_part_after_a_few_polls(
    sandbox, quick, body
):
    gateway = adversary.answer_gets(sandbox, "/v1/async-actions/*", body)

    job = runner.drive(jobs.import_vouchers([VOUCHER]), timeout=5)

    part = job.parts.get()
    assert job.state == JobState.FAILED and part.state == PartState.FAILED
    assert gateway.hits == runner.MAX_STEP_ERRORS == part.step_errors
    assert "could not be used" in part.last_error and part.async_action_id in part.last_error
    assert "outcome of this part is unknown" in job.error


def test_one_unusable_answer_is_asked_again_and_the_part_finishes(sandbox):
    gateway = adversary.answer_gets(sandbox, "/v1/async-actions/*", {})
    job = jobs.import_vouchers([VOUCHER])
    part = job.parts.get()

    assert runner.poll_part(part.pk, part.lease_token)  # asked again after the backoff
    part.refresh_from_db()
    assert part.state == PartState.SUBMITTED and part.step_errors == 1
    assert part.last_error.startswith("Voucherify's answer could not be used (the answer has no status)")

    gateway.body = None
    job = runner.drive(job, timeout=5)
    assert job.state == JobState.DONE and job.done_count == 1, job.error


def test_an_export_answer_without_a_listed_status_fails_the_part_after_a_few_polls(sandbox, quick):
    gateway = adversary.answer_gets(sandbox, "/v1/exports/*", {"object": "export"})

    job = runner.drive(jobs.export_orders(), timeout=5)

    assert job.state == JobState.FAILED and gateway.hits == runner.MAX_STEP_ERRORS
    assert "could not be used" in job.parts.get().last_error


def test_an_async_action_list_without_its_list_ends_the_reconcile_and_sends_nothing_twice(
    sandbox, tune, quick
):
    tune(JOB_RESUBMIT_AFTER=0.01)
    sandbox.faults.add(path="/v1/vouchers/import", method="POST", drop=True, after=True, times=1)
    adversary.answer_gets(sandbox, "/v1/async-actions", {})

    job = runner.drive(jobs.import_vouchers([VOUCHER]), timeout=5)

    part = job.parts.get()
    assert job.state == JobState.FAILED and part.step_errors == runner.MAX_STEP_ERRORS
    assert part.submit_attempts == 1 and "not sent again" in part.last_error
    imports = [a for a in sandbox.state.async_actions.values() if a["type"] == "VOUCHERS.IMPORT"]
    assert len(imports) == 1


def failing_polls(monkeypatch: Any) -> None:
    def get(action_id: str) -> Any:
        raise KeyError("progress")  # a bug on an odd 2xx, raised where nothing expects it

    monkeypatch.setattr(runner._client().async_actions, "get", get)


def test_an_unexpected_error_in_a_poll_task_is_counted_noted_and_left_due(sandbox, tune, monkeypatch, caplog):
    tune(JOB_POLL_INTERVAL=600.0, JOB_POLL_INTERVAL_MAX=1200.0)  # the backoff: 600 s
    job = jobs.import_vouchers([VOUCHER])
    part = job.parts.get()
    failing_polls(monkeypatch)
    caplog.set_level(logging.INFO, logger="django_voucherify")

    poll_job_part(part.pk, part.lease_token)  # raises nothing (eager mode leaves the wait to the sweep)

    part.refresh_from_db()
    assert part.state == PartState.SUBMITTED and part.step_errors == 1
    assert part.last_error_key == "KeyError" and part.last_error.startswith("KeyError: 'progress' (at ")
    assert part.due_at is not None and part.due_at > timezone.now() + timedelta(seconds=300)
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(logged) == 1 and logged[0].exc_info is None and "KeyError" in logged[0].getMessage()


def test_unexpected_errors_fail_the_part_after_the_maximum(sandbox, monkeypatch):
    job = jobs.import_vouchers([VOUCHER])
    part = job.parts.get()
    failing_polls(monkeypatch)

    token: str | None = part.lease_token
    for _ in range(runner.MAX_STEP_ERRORS):
        steps = runner.run_guarded("poll", part.pk, token)
        token = steps[0].token if steps else None

    part.refresh_from_db()
    job.refresh_from_db()
    assert token is None and part.state == PartState.FAILED and job.state == JobState.FAILED
    assert "Stopped after 8 unexpected errors or unusable answers (last: KeyError" in part.last_error


def test_a_superseded_steps_error_records_nothing(sandbox, monkeypatch):
    job = jobs.import_vouchers([VOUCHER])
    part = job.parts.get()
    failing_polls(monkeypatch)

    assert runner.run_guarded("poll", part.pk, "an-ended-chain") == []
    assert runner.step_failed("poll", part.pk, "an-ended-chain", KeyError("x")) == []
    part.refresh_from_db()
    assert part.step_errors == 0 and part.last_error == ""


@pytest.mark.parametrize(
    ("start", "path", "running"),
    [
        (lambda: jobs.import_vouchers([VOUCHER]), "/v1/async-actions/*", {"status": "IN_PROGRESS"}),
        (lambda: jobs.export_orders(), "/v1/exports/*", {"object": "export", "status": "SCHEDULED"}),
    ],
    ids=["async-action", "export"],
)
def test_a_usable_answer_starts_the_count_of_unusable_ones_again(sandbox, start, path, running):
    """A long action (hours of polls) met a gateway hiccup now and then: the count never went
    down, so the 8th hiccup of its life failed the part ("outcome unknown") while Voucherify
    was doing the work. Only unusable answers or errors in a row fail it now."""
    gateway = adversary.answer_gets(sandbox, path, running)
    part = start().parts.get()
    JobPart.objects.filter(pk=part.pk).update(step_errors=runner.MAX_STEP_ERRORS - 1)

    (step,) = runner.poll_part(part.pk, part.lease_token)
    part.refresh_from_db()
    assert part.state == PartState.SUBMITTED and part.step_errors == 0

    gateway.body = {}
    assert runner.poll_part(part.pk, step.token)
    part.refresh_from_db()
    assert part.state == PartState.SUBMITTED and part.step_errors == 1


def test_an_async_action_without_a_creation_date_is_unusable_not_the_end_of_the_list(monkeypatch):
    """The list is read newest first up to the submit's start; an item without a readable
    ``created_at`` (the spec does not require it) ended the walk as if all further were older:
    the part's own action after it went unseen, and the part was sent a second time."""
    now = timezone.now()
    listed = [
        {"id": "aa_odd", "type": "VOUCHERS.IMPORT", "created_at": None},
        {"id": "aa_ours", "type": "VOUCHERS.IMPORT", "created_at": now.isoformat()},
    ]
    monkeypatch.setattr(runner._client().async_actions, "iterate", lambda *args, **kwargs: iter(listed))

    with pytest.raises(runner._UnusableAnswer, match="no creation date"):
        runner._find_unclaimed_action("VOUCHERS.IMPORT", now - timedelta(minutes=1))


def test_an_error_after_a_usable_answer_still_adds_up(sandbox, monkeypatch):
    """The count starts again only once the poll went well: a bug raised after the answer was
    read (here: refreshing the job's totals) must not reset it at each poll, or the part would
    be polled with that bug until JOB_MAX_AGE."""
    adversary.answer_gets(sandbox, "/v1/async-actions/*", {"status": "IN_PROGRESS"})
    part = jobs.import_vouchers([VOUCHER]).parts.get()
    JobPart.objects.filter(pk=part.pk).update(step_errors=runner.MAX_STEP_ERRORS - 1)

    def refresh_job(job_id: int) -> None:
        raise KeyError("done_count")

    monkeypatch.setattr(runner.results, "refresh_job", refresh_job)
    assert runner.run_guarded("poll", part.pk, part.lease_token) == []
    part.refresh_from_db()
    assert part.state == PartState.FAILED and part.step_errors == runner.MAX_STEP_ERRORS


@pytest.mark.parametrize("setback", ["unusable-answer", "unexpected-error"])
def test_a_failure_to_end_the_part_at_the_last_error_does_not_count_the_error_twice(
    sandbox, monkeypatch, setback
):
    """The 8th setback was counted, then ending the part raised (a database error): the count
    stayed, and the error recording that failure (an unusable answer's: ``step_failed``), or the
    step run again after the lease (an unexpected error's), counted the same setback again: the
    part failed "after 9". The count and the end are one transaction now."""
    gateway = adversary.answer_gets(sandbox, "/v1/async-actions/*", {})
    part = jobs.import_vouchers([VOUCHER]).parts.get()
    JobPart.objects.filter(pk=part.pk).update(step_errors=runner.MAX_STEP_ERRORS - 1)
    if setback == "unexpected-error":
        gateway.body = {"status": "IN_PROGRESS"}

        def unreadable(value: Any) -> Any:
            raise KeyError("a bug on an odd answer")

        monkeypatch.setattr(runner, "storable_json", unreadable)
    faults = []
    part_counts = runner.results.part_counts

    def fails_once(*args: Any, **kwargs: Any) -> Any:
        if not faults:
            faults.append("raised")
            raise RuntimeError("the database went away while ending the part")
        return part_counts(*args, **kwargs)

    monkeypatch.setattr(runner.results, "part_counts", fails_once)

    for _ in range(2):  # the step, then (unless it is final) the step again, as the sweep runs it
        part.refresh_from_db()
        if part.state == PartState.FAILED:
            break
        runner.run_guarded("poll", part.pk, part.lease_token)

    part.refresh_from_db()
    assert faults == ["raised"]
    assert part.state == PartState.FAILED and part.step_errors == runner.MAX_STEP_ERRORS
    assert f" {runner.MAX_STEP_ERRORS} " in part.last_error
