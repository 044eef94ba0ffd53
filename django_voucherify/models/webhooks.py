"""Webhook events received from Voucherify: stored raw before anything else happens.

One row per event (``event_id`` is unique: a duplicate delivery, even a concurrent one, finds
the row and stores nothing new), processed later by :mod:`django_voucherify.webhooks` in a
Celery task. The row is background work (due, leased, attempted, last error), so the sweep
re-sends what a lost message left due, and a poison event ends ``PARKED`` for staff to look
at and reprocess.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .background import BackgroundWork


class WebhookEventState(models.TextChoices):
    PENDING = "pending", _("pending")
    PROCESSED = "processed", _("processed")
    # Older than what the mirror or ledger already holds: nothing done (signals still sent).
    STALE = "stale", _("stale (older than what is stored)")
    PARKED = "parked", _("parked (processing kept failing)")


class WebhookEvent(BackgroundWork):
    """One event Voucherify announced, as it arrived, and what processing made of it."""

    # Voucherify's event id (``event.id``: one per event, whatever webhook sent it), else the
    # sendout's ``id``.
    event_id = models.CharField(_("event id"), max_length=100, unique=True)
    sendout_id = models.CharField(_("sendout id"), max_length=100, blank=True)
    type = models.CharField(_("type"), max_length=100, db_index=True)
    # What the event is about ("voucher:<code>", "customer:<source id>", "redemption:<id>"...):
    # out-of-order delivery is judged per subject, by ``occurred_at``.
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"), null=True, blank=True)
    payload = models.JSONField(_("payload"))
    received_at = models.DateTimeField(_("received at"), default=timezone.now, db_index=True)
    state = models.CharField(
        _("processing state"),
        max_length=16,
        choices=WebhookEventState.choices,
        default=WebhookEventState.PENDING,
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    # What processing did, for staff ("voucher SUMMER updated", "redemption unknown to the
    # ledger"...); ``needs_attention`` lists the events a person should look at.
    outcome = models.CharField(_("outcome"), max_length=300, blank=True)
    needs_attention = models.BooleanField(_("needs attention"), default=False, db_index=True)
    # Whether processing changed a mirror or the ledger: only such events make older events of
    # their subject stale (an event that did nothing must not hide an older one that matters).
    applied = models.BooleanField(_("applied"), default=False)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ("-received_at",)
        indexes = [
            models.Index(fields=["state", "due_at"], name="voucherify_webhook_due"),
            models.Index(fields=["subject", "occurred_at"], name="voucherify_webhook_subject"),
        ]
        permissions = (("reprocess_webhookevent", _("Can reprocess webhook events")),)

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"
