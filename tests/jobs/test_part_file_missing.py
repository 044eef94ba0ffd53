"""A split part's file gone from storage before its submit (deleted by hand, a storage wiped or
restored, a bucket lifecycle rule). The submit marks the part ``submitting`` and then failed to
open the file: an unexpected error, so the part stayed ``submitting`` ("outcome unknown"), was
reconciled against Voucherify's async actions and opened again, MAX_STEP_ERRORS times over
JOB_RESUBMIT_AFTER each, then failed saying its outcome was unknown. Nothing was ever sent: the
part now fails at once saying so (the jobs review)."""

from __future__ import annotations

import io

import pytest

from django_voucherify import jobs
from django_voucherify.jobs import dispatch, runner
from django_voucherify.models import JobPart, JobState, PartState

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_part_whose_file_is_gone_fails_at_once_saying_nothing_was_sent(sandbox, monkeypatch):
    monkeypatch.setattr(dispatch, "after_commit_prepare", lambda job: None)
    monkeypatch.setattr(dispatch, "after_commit_start", lambda job: None)
    job = jobs.import_vouchers_csv(io.BytesIO(b"Code,Value\nGONE-1,10\nGONE-2,10\n"), name="gone.csv")
    jobs.prepare(job.pk)
    part = JobPart.objects.get(job=job)
    part.file.storage.delete(part.file.name)
    posts = sandbox.calls.count("POST")

    assert runner.run_guarded("submit", part.pk, None) == []  # no step follows: the part is over
    part.refresh_from_db()
    job.refresh_from_db()
    assert sandbox.calls.count("POST") == posts  # nothing sent
    assert part.state == PartState.FAILED and part.step_errors == 0
    assert "no longer in storage" in part.last_error and "nothing was sent" in part.last_error
    assert job.state == JobState.FAILED and job.failed_count == 2
