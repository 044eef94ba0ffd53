"""Queueing job work on Celery (the only module of the jobs service that knows about tasks).

When the broker is down nothing is lost: the job's rows say what is left to do, and
``resume_jobs`` (periodic task, or ``manage.py voucherify_job resume``) queues it again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.db import transaction

from ..models import Job, JobPart
from .runner import Step, pending_steps

logger = logging.getLogger("django_voucherify.jobs")


def _tasks() -> Any:
    from ..tasks import jobs as job_tasks

    return job_tasks


def schedule(steps: Iterable[Step], *, from_eager_task: bool = False) -> None:
    """Queue each step with its delay as ``countdown``.

    Under ``CELERY_TASK_ALWAYS_EAGER`` a countdown cannot be honoured (the task would run at
    once, recursively): follow-up steps are then left to :func:`~.runner.drive`, the admin's
    "check now" action or ``resume_jobs``.
    """
    if from_eager_task:
        return
    tasks = _tasks()
    for step in steps:
        task = tasks.submit_job_part if step.action == "submit" else tasks.poll_job_part
        try:
            task.apply_async(args=(step.part_id,), countdown=step.delay or None)
        except Exception:  # broker down: resume_jobs picks the job up again
            logger.warning("Voucherify jobs: could not queue %s of part %s", step.action, step.part_id,
                           exc_info=True)  # fmt: skip


def after_commit_start(job: Job) -> None:
    transaction.on_commit(lambda: schedule(pending_steps(Job.objects.get(pk=job.pk))))


def after_commit_prepare(job: Job) -> None:
    def queue() -> None:
        try:
            _tasks().prepare_job.apply_async(args=(job.pk,))
        except Exception:
            logger.warning("Voucherify jobs: could not queue job %s", job.pk, exc_info=True)

    transaction.on_commit(queue)


def poll_later(part: JobPart) -> None:
    from .runner import poll_delay

    transaction.on_commit(lambda: schedule([Step("poll", part.pk, poll_delay(1))]))


def resume(job: Job | None = None) -> int:
    """Queue again whatever unfinished jobs still need (after a broker outage or lost message)."""
    from ..models.jobs import FINAL_JOB_STATES, JobState

    jobs = [job] if job else Job.objects.exclude(state__in=FINAL_JOB_STATES)
    count = 0
    for item in jobs:
        if item.state == JobState.PREPARING and item.source_file:
            _tasks().prepare_job.apply_async(args=(item.pk,))
            count += 1
            continue
        steps = pending_steps(item)
        schedule(steps)
        count += len(steps)
    return count
