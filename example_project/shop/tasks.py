"""The shop's Celery tasks: the periodic sweep (the demo's beat runs it every minute,
settings.CELERY_BEAT_SCHEDULE) and the welcome code of a new shopper (welcome.py)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.contrib.auth import get_user_model

from django_voucherify import checkout

from . import settle, welcome

logger = logging.getLogger(__name__)


@shared_task(name="shop.settle_stranded_orders", ignore_result=True)
def settle_stranded_orders() -> dict[str, int]:
    """Settle orders a fault left NEW (settle.settle_stranded_orders)."""
    return settle.settle_stranded_orders()


@shared_task(
    name="shop.publish_welcome_code",
    ignore_result=True,
    autoretry_for=(checkout.CheckoutUnavailable,),
    retry_backoff=5,
    retry_backoff_max=600,
    max_retries=20,
)
def publish_welcome_code(user_id: int) -> str | None:
    """Hand the shopper one code of the welcome campaign (the same one on a retry). A refusal
    (no code left, no such campaign) is logged and not retried: the shop goes on without it."""
    user = get_user_model().objects.filter(pk=user_id).first()
    body = welcome.customer_body(user) if user is not None else None
    if body is None or not welcome.campaign():
        return None
    try:
        return checkout.publish(welcome.campaign(), body).code
    except (checkout.PublicationRefused, checkout.InvalidCheckoutInput) as refused:
        logger.warning("No welcome code for user %s: %s", user_id, refused.message)
        return None
