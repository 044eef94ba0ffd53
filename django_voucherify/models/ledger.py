"""The checkout redemption ledger: one row per attempt to redeem codes for an order.

The row is written (``PENDING``) and committed *before* the redeem request leaves, so whatever
happens to the request or the process, there is a local trace to reconcile from. A partial
unique constraint allows at most one *live* attempt (PENDING, SUCCEEDED or UNKNOWN) per order:
a double click, a retried request or a second worker gets an ``IntegrityError`` instead of a
second redemption. A FAILED or ROLLED_BACK attempt frees the order for a new one (the customer
tries another code, or pays again after a failed payment).

Rows are written by :mod:`django_voucherify.checkout` only; this module never calls HTTP.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .background import BackgroundWork
from .orders import Order


class LedgerState(models.TextChoices):
    PENDING = "PENDING", _("pending (request about to be sent)")
    SUCCEEDED = "SUCCEEDED", _("succeeded")
    FAILED = "FAILED", _("failed")
    ROLLED_BACK = "ROLLED_BACK", _("rolled back")
    UNKNOWN = "UNKNOWN", _("unknown (to reconcile)")
    # Redeemed although the attempt had been given up (FAILED): a redeem answer that arrived
    # after reconciliation concluded "not redeemed". Not live (the order may have a new attempt
    # by then), but it holds a redemption: rolled back like a SUCCEEDED row, and flagged.
    ORPHANED = "ORPHANED", _("redeemed after being given up (to roll back)")


#: States in which an order holds (or may hold) a redemption: at most one such row per order.
LIVE_STATES = (LedgerState.PENDING, LedgerState.SUCCEEDED, LedgerState.UNKNOWN)

#: States in which a row holds a redemption that a requested rollback must undo.
ROLLBACK_STATES = (LedgerState.SUCCEEDED, LedgerState.ORPHANED)

#: The redemption ``metadata`` key carrying :attr:`CheckoutRedemption.reference`: reconciliation
#: finds the redemptions of an attempt by it, never by redeeming again.
REFERENCE_METADATA_KEY = "django_voucherify_ledger"


class CheckoutRedemptionQuerySet(models.QuerySet["CheckoutRedemption"]):
    def live(self) -> CheckoutRedemptionQuerySet:
        return self.filter(state__in=LIVE_STATES)

    def rollback_due(self) -> CheckoutRedemptionQuerySet:
        """Attempts holding a redemption whose rollback was asked for and is not done yet."""
        return self.filter(state__in=ROLLBACK_STATES, rollback_requested_at__isnull=False)

    def needing_work(self, stale_before: datetime, now: datetime | None = None) -> CheckoutRedemptionQuerySet:
        """Rows a background task has to drive: UNKNOWN ones, PENDING ones created before
        ``stale_before`` (their caller is gone), ones holding a redemption with a rollback
        to send and (given ``now``) FAILED ones whose late check is due."""
        work = (
            Q(state=LedgerState.UNKNOWN)
            | Q(state=LedgerState.PENDING, created_at__lt=stale_before)
            | Q(state__in=ROLLBACK_STATES, rollback_requested_at__isnull=False)
        )
        if now is not None:
            work |= Q(state=LedgerState.FAILED, late_check_at__lte=now)
        return self.filter(work)


CheckoutRedemptionManager = models.Manager.from_queryset(CheckoutRedemptionQuerySet)


class CheckoutRedemption(BackgroundWork):
    """One checkout attempt: codes and promotion tiers redeemed (or not) for an order. Money in
    minor units."""

    reference = models.UUIDField(_("reference"), default=uuid.uuid4, unique=True, editable=False)
    order_source_id = models.CharField(_("order source id"), max_length=200, db_index=True)
    order = models.ForeignKey(
        Order,
        verbose_name=_("order mirror"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="checkout_redemptions",
    )
    customer_source_id = models.CharField(_("customer source id"), max_length=200, blank=True)
    codes = models.JSONField(_("codes"), default=list)
    # Promotion tiers redeemed with the codes (their ``promo_`` ids), in request order.
    tiers = models.JSONField(_("promotion tiers"), default=list, blank=True)
    state = models.CharField(
        _("state"), max_length=16, choices=LedgerState.choices, default=LedgerState.PENDING
    )
    # Voucherify ids: the parent of a stacked redemption (None for a single code) and every
    # per-code redemption id, in request order.
    parent_redemption_id = models.CharField(_("parent redemption id"), max_length=64, blank=True)
    redemption_ids = models.JSONField(_("redemption ids"), default=list, blank=True)
    rollback_ids = models.JSONField(_("rollback ids"), default=list, blank=True)
    amount = models.BigIntegerField(_("order amount (minor units)"), null=True, blank=True)
    discount_amount = models.BigIntegerField(_("total discount (minor units)"), default=0)
    total_amount = models.BigIntegerField(_("amount to pay (minor units)"), null=True, blank=True)
    # last_error* (BackgroundWork): why the redeem failed (Voucherify's refusal, or what
    # reconciliation concluded, e.g. ``not_redeemed``); a rollback's error is rollback_error.
    # Rollback bookkeeping: asked for (by the payment flow, a cancellation or staff), attempts
    # made, the last error. A rollback asked for while the outcome is UNKNOWN is carried out
    # by reconciliation once the redemption is found.
    rollback_reason = models.CharField(_("rollback reason"), max_length=200, blank=True)
    rollback_requested_at = models.DateTimeField(_("rollback requested at"), null=True, blank=True)
    rollback_attempts = models.PositiveIntegerField(_("rollback attempts"), default=0)
    rollback_error = models.TextField(_("last rollback error"), blank=True)
    reconcile_attempts = models.PositiveIntegerField(_("reconcile attempts"), default=0)
    # A FAILED row concluded "not redeemed" by reconciliation (nothing listed past the grace
    # period) is looked at once more at this time: a request Voucherify processed later still
    # becomes ORPHANED and is rolled back. Cleared once the late check is done.
    late_check_at = models.DateTimeField(_("late check at"), null=True, blank=True, db_index=True)
    # due_at / lease_until / lease_token (BackgroundWork): one task chain per row, however
    # often the sweep runs: when the next reconcile/rollback attempt is due, and until when a
    # scheduled or running task owns the row. The sweep only picks rows due and not leased.
    # Set when background work keeps failing (or an anomaly was found): a person should look.
    # Flagged rows are still swept, at the slow CHECKOUT_ATTENTION_INTERVAL rate.
    needs_attention = models.BooleanField(_("needs attention"), default=False, db_index=True)
    attention_reason = models.CharField(_("why it needs attention"), max_length=200, blank=True)
    response = models.JSONField(_("last Voucherify response"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    redeemed_at = models.DateTimeField(_("redeemed at"), null=True, blank=True)
    rolled_back_at = models.DateTimeField(_("rolled back at"), null=True, blank=True)

    objects = CheckoutRedemptionManager()

    class Meta:
        verbose_name = _("checkout redemption")
        verbose_name_plural = _("checkout redemptions")
        ordering = ("-pk",)
        constraints = [
            models.UniqueConstraint(
                fields=["order_source_id"],
                condition=Q(state__in=LIVE_STATES),
                name="voucherify_one_live_redemption_per_order",
                violation_error_message=_("This order already has a redemption."),
            ),
        ]
        # The admin overview's chart reads the succeeded redemptions of its last days: without
        # this it read every live row (0.35 s with 300k redemptions in the history).
        indexes = [
            models.Index(
                fields=["redeemed_at"],
                condition=Q(state="SUCCEEDED"),
                name="voucherify_ledger_succeeded_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_source_id} {', '.join([*self.codes, *self.tiers])} [{self.state}]"

    @property
    def rollback_pending(self) -> bool:
        return self.state in ROLLBACK_STATES and self.rollback_requested_at is not None

    def metadata_marker(self) -> dict[str, Any]:
        """The ``metadata`` sent with the redeem request so reconciliation can find it."""
        return {REFERENCE_METADATA_KEY: str(self.reference)}
