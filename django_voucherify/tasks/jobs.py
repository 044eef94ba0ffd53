"""Bulk job tasks: thin shells over :mod:`django_voucherify.jobs`.

Every task is ``acks_late`` and idempotent: a message re-delivered after a worker crash finds
the job's state in the database and carries on from there (a part is never sent twice, see
:mod:`django_voucherify.jobs.runner`). Polls re-schedule themselves with ``countdown``; no task
sleeps. Work whose message was lost is picked up by the periodic ``django_voucherify.sweep``;
``resume_jobs`` and ``purge_job_uploads`` stay for one release as aliases.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.utils.translation import gettext as _

from ..jobs import dispatch, results, runner, service, uploads

logger = logging.getLogger("django_voucherify.jobs")

COMMON: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    "ignore_result": True,
    "reject_on_worker_lost": True,
    "max_retries": 10,
}
UNEXPECTED_RETRY_DELAY = 30.0


def _run(action: str, part_id: int, token: str | int | None) -> None:
    # An unexpected error (a bug, a database hiccup) is counted and recorded on the part, which
    # is stepped again after a backoff and failed after runner.MAX_STEP_ERRORS: never raised.
    dispatch.schedule(runner.run_guarded(action, part_id, token))


PREPARE_MAX_RETRIES = 5


@shared_task(name="django_voucherify.prepare_job", **{**COMMON, "max_retries": PREPARE_MAX_RETRIES})
def prepare_job(self: Any, job_id: int) -> None:
    """Split a CSV job's stored source into parts, then queue the first submit.

    An unreadable source, a broken CSV or any deterministic error (``service.DETERMINISTIC_ERRORS``:
    the same input fails the same way again) fails the job at once; any other error (database
    or storage hiccup) is retried, and after the last attempt the job is failed with the error,
    never left ``preparing``.
    """
    try:
        service.prepare(job_id)
    except service.DETERMINISTIC_ERRORS as exc:  # the same input fails again: never retried
        logger.exception("Voucherify job %s: preparing failed; failing the job", job_id)
        results.fail_job_by_id(
            job_id, _("Preparing the job failed: %(error)s") % {"error": f"{type(exc).__name__}: {exc}"}
        )
    except Exception as exc:
        if self.request.retries >= PREPARE_MAX_RETRIES:
            logger.exception(
                "Voucherify job %s: preparing failed %d times; failing the job",
                job_id,
                self.request.retries + 1,
            )
            results.fail_job_by_id(
                job_id,
                _("Preparing the job failed %(n)d times: %(error)s")
                % {"n": self.request.retries + 1, "error": f"{type(exc).__name__}: {exc}"},
            )
            return
        logger.warning("Voucherify job %s: preparing failed (%s); retrying", job_id, exc)
        raise self.retry(exc=exc, countdown=UNEXPECTED_RETRY_DELAY) from exc


@shared_task(name="django_voucherify.submit_job_part", **COMMON)
def submit_job_part(self: Any, part_id: int, token: str | None = None) -> None:
    """Submit one part (or reconcile an earlier submit whose outcome is unknown). ``token``:
    the part's lease when this step was scheduled (a superseded step ends; None: any)."""
    _run("submit", part_id, token)


@shared_task(name="django_voucherify.poll_job_part", **COMMON)
def poll_job_part(self: Any, part_id: int, token: str | int | None = None) -> None:
    """Read a part's async action or export once; re-schedules itself until it is final.
    ``token``: the part's lease when this poll was scheduled (a superseded poll ends; a number
    is a message queued before leases, which polls only if no live chain holds the part)."""
    _run("poll", part_id, token)


@shared_task(name="django_voucherify.resume_jobs", ignore_result=True)
def resume_jobs() -> int:
    """Deprecated alias (one release): schedule ``django_voucherify.sweep`` instead.

    Queue again what unfinished jobs still need (idempotent; safe to run often); also deletes
    the uploads whose ``JOB_UPLOAD_RETENTION`` is over."""
    purge_uploads()
    return dispatch.resume()


@shared_task(name="django_voucherify.purge_job_uploads", ignore_result=True)
def purge_job_uploads() -> int:
    """Deprecated alias (one release): schedule ``django_voucherify.sweep`` instead.

    Delete uploaded sources of jobs that ended more than ``JOB_UPLOAD_RETENTION`` s ago."""
    return purge_uploads()


def purge_uploads() -> int:
    try:
        return uploads.purge_expired()
    except Exception:  # never let the purge stop resume_jobs
        logger.warning("Voucherify jobs: purging expired uploads failed", exc_info=True)
        return 0
