"""Voucher tasks: thin shells over :mod:`django_voucherify.vouchers`.

Periodic refresh of the voucher mirrors (celery beat)::

    CELERY_BEAT_SCHEDULE = {
        "voucherify-refresh-vouchers": {"task": "django_voucherify.refresh_vouchers",
                                        "schedule": 3600.0},
    }

The admin's actions on many vouchers run in the admin's own task
(``django_voucherify.admin.voucher_tasks``): a "select all" selection is the admin changelist's
queryset, and tasks never import the admin.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from ..api.errors import RateLimitedError
from ..models import RefreshSubject
from ..vouchers import campaigns, refresh_runs

logger = logging.getLogger("django_voucherify.vouchers")


@shared_task(bind=True, name="django_voucherify.refresh_vouchers", max_retries=5, ignore_result=True)
def refresh_vouchers(self: Any, run_id: int | None = None) -> dict[str, Any]:
    """Mirror every voucher from Voucherify (the admin button and the periodic refresh),
    recorded on the :class:`~django_voucherify.models.VoucherRefreshRun` ``run_id`` (a new one
    when None), so the voucher changelist shows its progress and outcome."""
    return _refresh(self, run_id, RefreshSubject.VOUCHERS)


@shared_task(bind=True, name="django_voucherify.refresh_campaigns", max_retries=5, ignore_result=True)
def refresh_campaigns(self: Any, run_id: int | None = None) -> dict[str, Any]:
    """Mirror every campaign and validation rule (the campaign changelist's button and the
    periodic refresh), recorded on a run of subject ``campaigns`` like :func:`refresh_vouchers`."""
    return _refresh(self, run_id, RefreshSubject.CAMPAIGNS)


@shared_task(name="django_voucherify.mirror_campaign_vouchers", max_retries=5, ignore_result=True)
def mirror_campaign_vouchers(campaign_id: str) -> dict[str, Any]:
    """Mirror one campaign's vouchers (queued when a "generate codes" job ends)."""
    stats = campaigns.mirror_vouchers_of(campaign_id)
    logger.info("Vouchers of campaign %s mirrored: %s", campaign_id, stats)
    return {k: v for k, v in stats.items() if k != "skipped_objects"}


def _refresh(task: Any, run_id: int | None, subject: str) -> dict[str, Any]:
    try:
        run_id = refresh_runs.claim(run_id, subject)
    except refresh_runs.RefreshAlreadyRunning as exc:
        # Beat's hourly tick while a clicked (or slow) refresh is under way: one walk at a time.
        logger.info("%s refresh skipped: %s", subject, exc)
        return {"skipped": str(exc)}
    except refresh_runs.RefreshAbandoned as exc:
        # A second delivery of the same task, or a run judged lost and marked failed.
        logger.warning("%s refresh not started: %s", subject, exc)
        return {"skipped": str(exc)}
    try:
        # An incomplete walk is logged there, removes nothing and ends the run INCOMPLETE.
        stats = refresh_runs.walk(run_id, requeue_on=(RateLimitedError,))
    except refresh_runs.RefreshAbandoned as exc:
        logger.warning("%s refresh stopped: %s", subject, exc)
        return {"skipped": str(exc)}
    except RateLimitedError as exc:
        # The client already waited out short delays; a long one is waited out by the broker.
        # The run went back to QUEUED so the retry (which names it) can claim it again.
        if task.request.retries < task.max_retries:
            raise task.retry(args=(run_id,), countdown=exc.retry_after or 60) from exc
        refresh_runs.mark_failed(run_id, exc)
        raise
    logger.info("Voucherify %s refreshed: %s", subject, stats)
    return stats
