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
from ..vouchers import refresh_runs

logger = logging.getLogger("django_voucherify.vouchers")


@shared_task(bind=True, name="django_voucherify.refresh_vouchers", max_retries=5, ignore_result=True)
def refresh_vouchers(self: Any, run_id: int | None = None) -> dict[str, Any]:
    """Mirror every voucher from Voucherify (the admin button and the periodic refresh),
    recorded on the :class:`~django_voucherify.models.VoucherRefreshRun` ``run_id`` (a new one
    when None), so the voucher changelist shows its progress and outcome."""
    try:
        # An incomplete walk is logged there, removes nothing and ends the run INCOMPLETE.
        stats = refresh_runs.run(run_id)
    except RateLimitedError as exc:
        # The client already waited out short delays; a long one is waited out by the broker.
        if self.request.retries < self.max_retries:
            raise self.retry(countdown=exc.retry_after or 60) from exc
        raise
    logger.info("Voucherify vouchers refreshed: %s", stats)
    return stats
