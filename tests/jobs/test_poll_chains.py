"""One live poll chain per part, whatever is re-delivered or resumed (reviewer's D7), and
one part per async type ``submitting`` at a time across the app (D13)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from django_voucherify import jobs
from django_voucherify.jobs import dispatch, runner
from django_voucherify.models import JobPart, PartState

pytestmark = pytest.mark.django_db(transaction=True)

VOUCHER = {"code": "X1", "type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1}}


@pytest.fixture
def queued(monkeypatch):
    """Steps queued on Celery (nothing runs by itself): the test plays the worker."""
    steps: list[runner.Step] = []
    monkeypatch.setattr(dispatch, "schedule", lambda s: steps.extend(s))
    return steps


def live_chains(steps: list[runner.Step]) -> list[runner.Step]:
    """Run every queued poll once (each as a worker would); return the polls they queued."""
    follow = []
    for step in [s for s in steps if s.action == "poll"]:
        follow.extend(runner.poll_part(step.part_id, step.token))
    return follow


def test_redelivered_submits_resumes_and_duplicate_polls_leave_one_chain(sandbox, queued):
    sandbox.state.job_delay = 60.0  # the async action keeps running
    job = jobs.import_vouchers([VOUCHER, {**VOUCHER, "code": "X2"}])
    part = job.parts.get()
    queued.clear()  # the first submit, queued on commit: played below
    first = runner.submit_part(part.pk)
    assert [s.action for s in first] == ["poll"]
    assert runner.submit_part(part.pk) == []  # re-delivered submit of a submitted part
    assert runner.submit_part(part.pk) == []
    for _ in range(5):  # resume_jobs on beat, staff clicking "check now"
        dispatch.resume(job)
        dispatch.resume()
    assert queued == []  # the scheduled poll is not overdue: nothing to add
    # The same poll message delivered twice (acks_late): both read, only one carries on.
    chain = live_chains(first + first)
    assert len(chain) == 1
    for _ in range(3):
        chain = live_chains(chain + chain)
        assert len(chain) == 1
    # A poll queued before leases existed (no token, or an old sequence number) while a live
    # chain holds the part does nothing.
    assert runner.poll_part(part.pk) == []
    assert runner.poll_part(part.pk, 7) == []


def test_resume_takes_over_a_lost_chain_and_the_old_one_dies(sandbox, queued):
    sandbox.state.job_delay = 60.0
    job = jobs.import_vouchers([VOUCHER])
    part = job.parts.get()
    queued.clear()
    lost = runner.submit_part(part.pk)  # its message is lost: the poll is overdue
    overdue = timezone.now() - timedelta(minutes=5)  # its lease ran out with it
    JobPart.objects.filter(pk=part.pk).update(due_at=overdue, lease_until=overdue + runner.POLL_OVERDUE_GRACE)
    for _ in range(3):
        dispatch.resume()
    assert len(queued) == 1 and queued[0].token != lost[0].token  # one take-over, then not overdue
    assert live_chains(lost) == []  # the old chain, if it shows up after all, ends
    assert len(live_chains(queued)) == 1


def test_drive_still_finishes_after_many_resumes(sandbox, queued):
    job = jobs.import_vouchers([VOUCHER])
    for _ in range(3):
        dispatch.resume(job)
    job = runner.drive(job, timeout=20)
    assert job.state == "done" and job.done_count == 1


def test_only_one_part_per_async_type_is_submitting(sandbox, queued):
    one = jobs.import_vouchers([VOUCHER]).parts.get()
    other = jobs.import_vouchers([{**VOUCHER, "code": "X2"}]).parts.get()
    JobPart.objects.filter(pk=one.pk).update(state=PartState.SUBMITTING, submit_started_at=timezone.now())
    [wait] = runner.submit_part(other.pk)
    assert (wait.action, wait.part_id, wait.delay) == ("submit", other.pk, runner.SUBMIT_TURN_WAIT)
    assert JobPart.objects.get(pk=other.pk).state == PartState.PENDING  # waits its turn
    # Another type is not held up.
    customers = jobs.update_customers_metadata(["c-1"], {"a": 1}).parts.get()
    runner.submit_part(customers.pk)
    assert JobPart.objects.get(pk=customers.pk).state == PartState.SUBMITTED
    JobPart.objects.filter(pk=one.pk).update(state=PartState.PENDING)
    runner.submit_part(other.pk)
    assert JobPart.objects.get(pk=other.pk).state == PartState.SUBMITTED


def test_the_sweep_resends_a_submit_only_once_its_lease_ran_out(sandbox, queued):
    job = jobs.import_vouchers([VOUCHER])
    part = job.parts.get()
    assert [s.action for s in queued] == ["submit"]  # queued on commit, under a lease
    queued.clear()
    for _ in range(3):
        dispatch.resume()
    assert queued == []  # its message may still be on the way: not sent again
    overdue = timezone.now() - timedelta(minutes=5)
    JobPart.objects.filter(pk=part.pk).update(due_at=overdue, lease_until=overdue + runner.POLL_OVERDUE_GRACE)
    for _ in range(3):
        dispatch.resume()
    assert [(s.action, s.part_id) for s in queued] == [("submit", part.pk)]  # lost: claimed once
    lost_token = JobPart.objects.get(pk=part.pk).lease_token
    assert queued[0].token == lost_token
    # A superseded submit (the token of a chain the sweep replaced) ends without sending.
    assert runner.submit_part(part.pk, "not-the-token") == []
    assert JobPart.objects.get(pk=part.pk).state == PartState.PENDING
    assert [s.action for s in runner.submit_part(part.pk, lost_token)] == ["poll"]


def test_a_step_the_broker_refused_is_sent_by_the_next_sweep(sandbox, monkeypatch):
    from django_voucherify.tasks import jobs as job_tasks

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(job_tasks.submit_job_part, "apply_async", broker_down)
    job = jobs.import_vouchers([VOUCHER])
    part = JobPart.objects.get(job=job)
    assert part.state == PartState.PENDING and part.lease_until is None  # the lease was given back
    monkeypatch.undo()
    assert dispatch.resume() == 1  # due and free: the sweep sends it at once
    assert JobPart.objects.get(pk=part.pk).state == PartState.SUBMITTED
