"""The shop's periodic task (the demo's beat runs it every minute, settings.CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from . import settle


@shared_task(name="shop.settle_stranded_orders", ignore_result=True)
def settle_stranded_orders() -> dict[str, int]:
    """Settle orders a fault left NEW (settle.settle_stranded_orders)."""
    return settle.settle_stranded_orders()
