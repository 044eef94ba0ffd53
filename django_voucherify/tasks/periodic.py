"""The one periodic entry point: every feature's due work, in one beat task::

    CELERY_BEAT_SCHEDULE = {
        "voucherify-sweep": {"task": "django_voucherify.sweep", "schedule": 60.0},
    }

Each feature's part is idempotent and cheap when there is nothing to do (an indexed query), so
running it every minute costs little; one part failing does not stop the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import shared_task

from ..checkout import schedule as checkout_schedule
from ..jobs import dispatch as job_dispatch
from ..jobs import uploads as job_uploads
from ..sync import outbox
from ..webhooks import events as webhook_events

logger = logging.getLogger("django_voucherify.background")

#: Each feature's due-work function, by the name its counts are reported under.
PARTS: dict[str, Callable[[], Any]] = {
    "outbox": outbox.redrive,
    "checkout": checkout_schedule.sweep,
    "jobs": job_dispatch.resume,
    "job_uploads": job_uploads.purge_expired,
    "job_files": job_uploads.purge_expired_results,
    "webhooks": webhook_events.sweep,
}


@shared_task(name="django_voucherify.sweep", ignore_result=True)
def sweep() -> dict[str, Any]:
    """Run every feature's due work (outbox re-drive, checkout chains, jobs, expired and orphaned uploads
    and export files, webhook events due and past retention);
    returns each part's counts (None for a part that failed, logged)."""
    results: dict[str, Any] = {}
    for name, run in PARTS.items():
        try:
            results[name] = run()
        except Exception:  # one feature's failure (a database hiccup) must not starve the others
            logger.exception("Voucherify sweep: %s failed", name)
            results[name] = None
    return results
