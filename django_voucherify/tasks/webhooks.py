"""Webhook tasks: a thin shell over :mod:`django_voucherify.webhooks.events` (its sweep and
retention are part of ``django_voucherify.sweep``)."""

from __future__ import annotations

from celery import shared_task

from ..webhooks import events


@shared_task(name=events.TASK, acks_late=True, ignore_result=True)
def process_webhook_event(event_pk: int, token: str | None = None) -> str:
    """Process stored webhook event ``event_pk`` (``token``: the lease the sweep gave it)."""
    return events.process(event_pk, token)
