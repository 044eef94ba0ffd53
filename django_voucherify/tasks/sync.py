"""Sync tasks: thin shells over :mod:`django_voucherify.sync`.

Periodic re-drive (celery beat)::

    CELERY_BEAT_SCHEDULE = {
        "voucherify-redrive": {"task": "django_voucherify.redrive_outbox", "schedule": 300.0},
    }
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from ..sync import delivery, outbox

logger = logging.getLogger("django_voucherify.sync")


@shared_task(
    bind=True,
    name="django_voucherify.deliver_outbox_entry",
    max_retries=None,
    acks_late=True,
    ignore_result=True,
)
def deliver_outbox_entry(self: Any, entry_id: int, retry: bool = False) -> str:
    """Send outbox entry ``entry_id``; re-schedules itself (countdown) on a retryable failure.

    ``retry`` is True for the scheduled retry and for re-drives: the entry's ``next_attempt_at``
    is then not waited for again.
    """
    outcome = delivery.deliver(entry_id, ignore_schedule=retry)
    if outcome.retry_in is not None:
        try:
            raise self.retry(args=(entry_id,), kwargs={"retry": True}, countdown=outcome.retry_in)
        except Exception as exc:
            from celery.exceptions import Retry

            if isinstance(exc, Retry):
                raise
            # The broker refused the retry: the entry stays pending for the periodic re-drive.
            logger.warning("Voucherify sync: could not schedule retry of %s", entry_id, exc_info=True)
    return outcome.status


@shared_task(name="django_voucherify.redrive_outbox", ignore_result=True)
def redrive_outbox(include_failed: bool = False) -> dict[str, int]:
    """Re-enqueue every due pending and stale in-progress entry, and the failed ones whose last
    error was temporary (no response, 429, 5xx). Entries Voucherify rejected (400...) are left for
    an explicit re-sync unless ``include_failed``."""
    return outbox.redrive(failed=outbox.FAILED_ALL if include_failed else outbox.FAILED_RETRYABLE)
