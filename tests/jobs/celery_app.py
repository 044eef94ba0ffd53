"""Celery app of the job tests' worker processes: the sync tests' app plus a ``job_finished``
receiver that appends ``<job id> <state>`` to ``$JOB_SIGNAL_LOG`` (to count signals)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.jobs.worker_settings")

from celery.signals import worker_ready

from tests.sync.celery_app import app  # noqa: F401


def _log_finished(sender, job, **kwargs):
    with open(os.environ["JOB_SIGNAL_LOG"], "a") as log:
        log.write(f"{job.pk} {job.state}\n")


@worker_ready.connect
def _connect(**kwargs):
    from django_voucherify.jobs.signals import job_finished  # apps are loaded by now

    if os.environ.get("JOB_SIGNAL_LOG"):
        job_finished.connect(_log_finished, weak=False)
