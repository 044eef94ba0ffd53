"""Queueing job work on Celery, by task name (:mod:`django_voucherify.background`).

Each step was leased on its part by the runner (``due_at``, ``lease_token``); here it is sent
with its token once the transaction commits. When the broker is down nothing is lost: the lease
is given back, the part stays due, and the periodic ``django_voucherify.sweep`` (or ``manage.py
voucherify_job resume``) claims it again through :func:`resume`. Eager mode is
:mod:`~django_voucherify.background`'s business: a step that must wait is left to the sweep.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction

from .. import background
from ..models import Job
from ..models.jobs import FINAL_JOB_STATES, JobState
from .runner import Step, claim_lost_steps, give_up_old_jobs, pending_steps

PREPARE_TASK = "django_voucherify.prepare_job"
STEP_TASKS = {"submit": "django_voucherify.submit_job_part", "poll": "django_voucherify.poll_job_part"}

_paused: ContextVar[bool] = ContextVar("voucherify_jobs_queueing_paused", default=False)


@contextmanager
def queueing_paused() -> Iterator[None]:
    """Jobs started inside this block queue nothing on Celery (``voucherify_job --here`` runs
    their steps itself with :func:`~.runner.drive`)."""
    token = _paused.set(True)
    try:
        yield
    finally:
        _paused.reset(token)


def schedule(steps: Iterable[Step]) -> None:
    """Send each step, with its delay as ``countdown``, once the transaction commits.

    None may run early: a submit waiting its turn or a poll waiting for Voucherify gains nothing
    by running before its time, so eager mode leaves delayed steps to the sweep."""
    if _paused.get():
        return
    for step in steps:
        background.enqueue(
            STEP_TASKS[step.action],
            (step.part_id, step.token),
            countdown=step.delay or None,
            lease=step.lease,
        )


def after_commit_start(job: Job) -> None:
    if _paused.get():
        return
    transaction.on_commit(lambda: schedule(pending_steps(Job.objects.get(pk=job.pk))))


def after_commit_prepare(job: Job) -> None:
    if _paused.get():
        return
    background.enqueue(PREPARE_TASK, (job.pk,))


def resume(job: Job | None = None) -> int:
    """Queue again what unfinished jobs (or ``job``) lost: after a broker outage, a lost message.

    Idempotent: a part's step is re-sent only once its lease expired (the step is overdue) and
    the new lease ends the lost chain, so running this often never multiplies traffic. Jobs
    older than ``JOB_MAX_AGE`` are failed instead. Returns the number of tasks queued.
    """
    jobs = Job.objects.exclude(state__in=FINAL_JOB_STATES)
    if job is not None:
        jobs = jobs.filter(pk=job.pk)
    give_up_old_jobs(jobs)
    # prepare_job is idempotent (it locks the job and returns at once when it is prepared).
    preparing = list(
        jobs.filter(state=JobState.PREPARING).exclude(source_file="").values_list("pk", flat=True)
    )
    for job_id in preparing:
        background.send(PREPARE_TASK, (job_id,))
    steps = claim_lost_steps(jobs)
    schedule(steps)
    return len(preparing) + len(steps)
