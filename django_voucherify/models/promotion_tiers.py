"""Mirrors of Voucherify promotion tiers (the automatic discounts of ``PROMOTION`` campaigns),
for the Django admin.

Like campaigns (:mod:`.campaigns`), Voucherify is the source of truth: a row is written only from
a Voucherify answer (the campaign refresh, an enable/disable), never pushed from a local save.
The columns are what the changelist lists and filters on; ``remote_payload`` keeps the tier as
Voucherify last sent it (its discount, validity windows and rule assignments are read from it).
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from .background import LastVoucherifyError
from .campaigns import Campaign, _count, _datetime, _text


def _hierarchy(value: Any) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and -(2**31) <= value < 2**31
    return value if ok else None


class PromotionTier(LastVoucherifyError):
    """A Voucherify promotion tier as last seen (``voucherify_id`` is its ``promo_...`` id).

    ``campaign_voucherify_id`` is the campaign Voucherify names; ``campaign`` links its mirror
    when there is one (a tier read before its campaign's mirror exists keeps the id only)."""

    voucherify_id = models.CharField(_("Voucherify id"), max_length=100, unique=True)
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        on_delete=models.CASCADE,  # a campaign gone from Voucherify takes its tiers with it
        null=True,
        blank=True,
        related_name="promotion_tiers",
    )
    campaign_voucherify_id = models.CharField(_("campaign id"), max_length=100, blank=True, db_index=True)
    name = models.CharField(_("name"), max_length=255, db_index=True)
    banner = models.TextField(_("banner"), blank=True)
    active = models.BooleanField(_("active"), default=True)
    hierarchy = models.IntegerField(_("hierarchy"), null=True, blank=True)
    start_date = models.DateTimeField(_("start date"), null=True, blank=True)
    expiration_date = models.DateTimeField(_("expiration date"), null=True, blank=True)
    redemptions_count = models.PositiveIntegerField(_("redemptions"), null=True, blank=True)
    remote_created_at = models.DateTimeField(_("created in Voucherify"), null=True, blank=True)
    remote_payload = models.JSONField(_("Voucherify payload"), default=dict, blank=True)
    refreshed_at = models.DateTimeField(_("refreshed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("promotion tier")
        verbose_name_plural = _("promotion tiers")
        # A campaign's tiers in the order Voucherify applies them (hierarchy), then by name.
        ordering = ("campaign_voucherify_id", "hierarchy", "name")
        # Read-only mirror: viewing, and enabling and disabling in Voucherify, each its own
        # permission (disabling stops a discount, enabling starts giving one away).
        default_permissions = ("view",)
        permissions = (
            ("enable_promotiontier", _("Can enable promotion tiers in Voucherify")),
            ("disable_promotiontier", _("Can disable promotion tiers in Voucherify")),
        )

    def __str__(self) -> str:
        return self.name or self.voucherify_id

    def apply_voucherify(self, data: dict[str, Any]) -> None:
        """Copy a Voucherify promotion tier object onto this mirror (no save; ``campaign`` is
        the caller's to link)."""
        self.voucherify_id = str(data.get("id") or self.voucherify_id)
        self.name = _text(data.get("name"), 255) or self.voucherify_id
        self.banner = _text(data.get("banner"), 10_000)
        self.active = data.get("active") is not False
        # The list names the campaign in campaign_id / promotion_id; enable, disable and update
        # answer with those null and campaign.id only (openapi.json's examples). None of them:
        # the known one stays (a tier never moves to another campaign).
        campaign = data.get("campaign")
        nested = campaign.get("id") if isinstance(campaign, dict) else None
        campaign_id = data.get("campaign_id") or data.get("promotion_id") or nested
        self.campaign_voucherify_id = _text(campaign_id, 100) or self.campaign_voucherify_id
        self.hierarchy = _hierarchy(data.get("hierarchy"))
        self.start_date = _datetime(data.get("start_date"))
        self.expiration_date = _datetime(data.get("expiration_date"))
        summary = data.get("summary")
        redemptions = summary.get("redemptions") if isinstance(summary, dict) else None
        total = redemptions.get("total_redeemed") if isinstance(redemptions, dict) else None
        self.redemptions_count = _count(total)
        self.remote_created_at = _datetime(data.get("created_at"))
        self.remote_payload = data
        self.last_error = self.last_error_key = self.last_request_id = ""

    @property
    def discount(self) -> dict[str, Any]:
        """The tier's ``action.discount`` as Voucherify sent it ({} when it has none)."""
        action = (self.remote_payload or {}).get("action")
        discount = action.get("discount") if isinstance(action, dict) else None
        return discount if isinstance(discount, dict) else {}

    @property
    def rule_ids(self) -> list[str]:
        """The ids of the validation rules assigned to the tier, as its payload lists them."""
        assignments = (self.remote_payload or {}).get("validation_rule_assignments")
        data = assignments.get("data") if isinstance(assignments, dict) else None
        found = [a.get("rule_id") for a in data or [] if isinstance(a, dict)]
        return [r for r in found if isinstance(r, str) and r]
