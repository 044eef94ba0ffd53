"""Queueing job work on Celery (the only module of the jobs service that knows about tasks).

When the broker is down nothing is lost: the job's rows say what is left to do, and
``resume_jobs`` (periodic task, or ``manage.py voucherify_job resume``) queues it again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import transaction

from ..models import Job, JobPart
from .runner import Step, give_up_if_too_old, next_poll, pending_steps

logger = logging.getLogger("django_voucherify.jobs")

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


def _tasks() -> Any:
    from ..tasks import jobs as job_tasks

    return job_tasks


def schedule(steps: Iterable[Step], *, from_eager_task: bool = False) -> None:
    """Queue each step with its delay as ``countdown``.

    Under ``CELERY_TASK_ALWAYS_EAGER`` a countdown cannot be honoured (the task would run at
    once, recursively): follow-up steps are then left to :func:`~.runner.drive`, the admin's
    "check now" action or ``resume_jobs``.
    """
    if from_eager_task or _paused.get():
        return
    tasks = _tasks()
    for step in steps:
        args: tuple[Any, ...]
        if step.action == "submit":
            task, args = tasks.submit_job_part, (step.part_id,)
        else:
            task, args = tasks.poll_job_part, (step.part_id, step.seq)
        try:
            task.apply_async(args=args, countdown=step.delay or None)
        except Exception:  # broker down: resume_jobs picks the job up again
            logger.warning(
                "Voucherify jobs: could not queue %s of part %s", step.action, step.part_id, exc_info=True
            )


def after_commit_start(job: Job) -> None:
    if _paused.get():
        return
    transaction.on_commit(lambda: schedule(pending_steps(Job.objects.get(pk=job.pk))))


def after_commit_prepare(job: Job) -> None:
    if _paused.get():
        return

    def queue() -> None:
        try:
            _tasks().prepare_job.apply_async(args=(job.pk,))
        except Exception:
            logger.warning("Voucherify jobs: could not queue job %s", job.pk, exc_info=True)

    transaction.on_commit(queue)


def poll_later(part: JobPart) -> None:
    from .runner import poll_delay

    transaction.on_commit(lambda: schedule(next_poll(part, None, poll_delay(1))))


def resume(job: Job | None = None) -> int:
    """Queue again whatever unfinished jobs still need (after a broker outage or lost message).

    Idempotent: a submitted part gets a poll only when its scheduled one is overdue (and that
    poll takes the chain over), so running this often never multiplies poll traffic. Jobs older
    than ``JOB_MAX_AGE`` are failed instead.
    """
    from ..models.jobs import FINAL_JOB_STATES, JobState

    jobs = [job] if job else Job.objects.exclude(state__in=FINAL_JOB_STATES)
    count = 0
    for item in jobs:
        if give_up_if_too_old(item):
            continue
        if item.state == JobState.PREPARING and item.source_file:
            _tasks().prepare_job.apply_async(args=(item.pk,))
            count += 1
            continue
        steps = pending_steps(item, overdue_only=True)
        schedule(steps)
        count += len(steps)
    return count
