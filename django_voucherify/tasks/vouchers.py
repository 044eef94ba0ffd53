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
from ..vouchers import refresh

logger = logging.getLogger("django_voucherify.vouchers")


@shared_task(bind=True, name="django_voucherify.refresh_vouchers", max_retries=5, ignore_result=True)
def refresh_vouchers(self: Any) -> dict[str, Any]:
    """Mirror every voucher from Voucherify (the admin button and the periodic refresh)."""
    try:
        stats = refresh.refresh_all()  # an incomplete walk is logged there and removes nothing
    except RateLimitedError as exc:
        # The client already waited out short delays; a long one is waited out by the broker.
        raise self.retry(countdown=exc.retry_after or 60) from exc
    logger.info("Voucherify vouchers refreshed: %s", stats)
    return stats
