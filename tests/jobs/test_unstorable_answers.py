"""Answers a part cannot take as they are never keep it from finishing: one the database cannot
store (a NUL, a lone surrogate), a poll refused (401/403/400), a result that is not an object.

The poll stored the async action's status, result and failure message as they came: a NUL in
any of them (or a lone surrogate in the result) raised ``DataError`` in the part's write, at
every poll, so the part never finished and was polled until JOB_MAX_AGE (7 days), a traceback
each time. A refusal's message with a NUL failed the same way at the submit."""

from __future__ import annotations

import pytest

from django_voucherify import jobs
from django_voucherify.api.errors import BadRequestError
from django_voucherify.jobs import exports, runner
from django_voucherify.models import JobState

pytestmark = pytest.mark.django_db(transaction=True)

VOUCHER = {"code": "R1", "type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1}}


@pytest.mark.parametrize(
    ("status", "result", "state"),
    [
        ("FAILED", {"message": "bad\x00"}, JobState.FAILED),
        ("DONE", {"done_count": 1, "note": "x\x00"}, JobState.DONE),
        ("DONE", {"done_count": 1, "note\x00": "x"}, JobState.DONE),
        ("DONE", {"done_count": 1, "s": "\ud800"}, JobState.DONE),
        ("IN_PROGRESS\x00", None, JobState.DONE),  # the next poll finds it done
    ],
)
def test_an_async_action_with_a_nul_is_stored_and_ends_its_part(sandbox, monkeypatch, status, result, state):
    api = runner._client().async_actions
    real_get = api.get
    answered = []

    def with_nul(action_id):
        action = dict(real_get(action_id))
        if not answered:
            answered.append(action_id)
            action.update(status=status, result=result)
        return action

    monkeypatch.setattr(api, "get", with_nul)
    job = runner.drive(jobs.import_vouchers([VOUCHER]), timeout=20)
    assert answered and job.state == state, job.error
    assert "\x00" not in job.error + job.parts.get().last_error


def test_an_export_status_with_a_nul_is_stored(sandbox, monkeypatch):
    api = exports._client().exports
    real_get = api.get
    answered = []

    def with_nul(export_id):
        export = dict(real_get(export_id))
        if not answered:
            answered.append(export_id)
            export["status"] = "IN_PROGRESS\x00"
        return export

    monkeypatch.setattr(api, "get", with_nul)
    job = runner.drive(jobs.export_orders(), timeout=20)
    assert answered and job.state == JobState.DONE, job.error


def test_a_refusal_with_a_nul_fails_its_part_with_the_reason(sandbox, monkeypatch):
    def refuse(body):
        raise BadRequestError(400, {"key": "invalid\x00", "message": "m\x00", "details": "no\x00pe"})

    monkeypatch.setattr(runner._client().vouchers, "import_json", refuse)
    job = runner.drive(jobs.import_vouchers([VOUCHER]), timeout=20)
    part = job.parts.get()
    assert job.state == JobState.FAILED and "no" in job.error and "pe" in job.error
    assert "\x00" not in job.error + part.last_error + part.last_error_key


@pytest.mark.parametrize("status", [401, 403, 400])
def test_a_poll_refused_is_noted_and_polled_again(sandbox, status):
    """A poll answered 401/403 (keys rotated or revoked while the action runs: "fix the keys",
    never "done") or another 4xx raised out of the poll: the task's error retries, a traceback
    every 30 s, and nothing on the part for staff. The part now notes the error and polls again
    with its backoff, and finishes once Voucherify answers."""
    sandbox.faults.add(path="/v1/async-actions/*", method="GET", status=status, times=2)
    job = runner.drive(jobs.import_vouchers([VOUCHER]), timeout=20)
    assert job.state == JobState.DONE and job.done_count == 1, job.error


def test_a_poll_noting_the_refusal_shows_it_on_the_part(sandbox):
    sandbox.faults.add(path="/v1/async-actions/*", method="GET", status=401, times=1)
    job = jobs.import_vouchers([VOUCHER])
    part = job.parts.get()
    assert runner.poll_part(part.pk, part.lease_token)  # polled again later
    part.refresh_from_db()
    assert part.state == "submitted" and "401" in part.last_error


@pytest.mark.parametrize("result", [["not", "an", "object"], "text", 5])
def test_a_result_that_is_not_an_object_ends_the_part(sandbox, monkeypatch, result):
    api = runner._client().async_actions
    real_get = api.get
    monkeypatch.setattr(
        api, "get", lambda action_id: {**real_get(action_id), "status": "DONE", "result": result}
    )
    job = runner.drive(jobs.import_vouchers([VOUCHER]), timeout=20)
    assert job.state == JobState.DONE, job.error


@pytest.mark.parametrize("result", [["url"], "text"])
def test_an_export_result_that_is_not_an_object_ends_the_part(sandbox, monkeypatch, result):
    api = exports._client().exports
    real_get = api.get
    monkeypatch.setattr(
        api, "get", lambda export_id: {**real_get(export_id), "status": "DONE", "result": result}
    )
    job = runner.drive(jobs.export_orders(), timeout=20)
    assert job.state in (JobState.DONE, JobState.FAILED) and job.is_finished
