"""Voucher tasks: thin shells over :mod:`django_voucherify.vouchers`.

Periodic refresh of the voucher mirrors (celery beat)::

    CELERY_BEAT_SCHEDULE = {
        "voucherify-refresh-vouchers": {"task": "django_voucherify.refresh_vouchers",
                                        "schedule": 3600.0},
    }
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from ..api.errors import RateLimitedError
from ..vouchers import actions, refresh

logger = logging.getLogger("django_voucherify.vouchers")

#: Vouchers per message of :func:`run_voucher_selection`.
SELECTION_CHUNK = 500


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


@shared_task(bind=True, name="django_voucherify.run_voucher_action", max_retries=20, acks_late=True)
def run_voucher_action(self: Any, action: str, codes: list[str]) -> dict[str, Any]:
    """Run an admin action on many vouchers; on a 429 the task resumes at the voucher it was at.

    Failures stay on each voucher's mirror (``last_error``, shown in the admin) and in the log.
    """
    outcome = actions.run(actions.Action(action), codes, max_wait=0)
    for result in outcome.failed:
        logger.warning(
            "Voucherify %s of %s failed: %s (key=%s request_id=%s)",
            action,
            result.code,
            result.message,
            result.key,
            result.request_id,
        )
    if outcome.remaining:
        if self.request.retries < self.max_retries:
            raise self.retry(args=(action, outcome.remaining), countdown=outcome.retry_after)
        # Rate limited for too long: say so on each voucher left rather than dropping it silently.
        for code in outcome.remaining:
            actions.record_error(actions.rate_limited(code))
    return {
        "succeeded": [r.code for r in outcome.succeeded],
        "failed": {r.code: r.message for r in outcome.failed},
    }


@shared_task(bind=True, name="django_voucherify.run_voucher_selection", max_retries=20, acks_late=True)
def run_voucher_selection(
    self: Any, action: str, selection: dict[str, Any], after_pk: int = 0
) -> dict[str, Any]:
    """Run an admin action on a selection of any size, :data:`SELECTION_CHUNK` vouchers per message.

    ``selection`` (``admin.voucher_selection.describe``) is resolved again here: the broker
    message never lists the codes. Each run takes the next chunk past ``after_pk`` and queues
    the following one; a long 429 retries this chunk from the voucher it stopped at.
    """
    from ..admin.voucher_selection import chunk_after, resolve

    chosen = actions.Action(action)
    chunk = chunk_after(resolve(selection, chosen), after_pk, SELECTION_CHUNK)
    outcome = actions.run(chosen, [code for _, code in chunk], max_wait=0)
    for result in outcome.failed:
        logger.warning(
            "Voucherify %s of %s failed: %s (key=%s request_id=%s)",
            action,
            result.code,
            result.message,
            result.key,
            result.request_id,
        )
    if outcome.remaining:
        stopped = len(chunk) - len(outcome.remaining)  # index of the first voucher not done
        resume_after = chunk[stopped - 1][0] if stopped else after_pk
        if self.request.retries < self.max_retries:
            raise self.retry(args=(action, selection, resume_after), countdown=outcome.retry_after)
        for code in outcome.remaining:  # rate limited for too long: say so on each voucher
            actions.record_error(actions.rate_limited(code))
    if len(chunk) == SELECTION_CHUNK:
        run_voucher_selection.apply_async(args=(action, selection, chunk[-1][0]))
    return {"done": len(outcome.succeeded), "failed": len(outcome.failed), "after_pk": after_pk}
