"""Mirror of Voucherify vouchers, managed from the Django admin.

Unlike customers and orders, Voucherify is the source of truth for vouchers: a row is written
only from a Voucherify response (a create, an update, a state change or a refresh), never
pushed from a local save. ``remote_payload`` keeps the voucher exactly as Voucherify last sent it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import models
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from .background import LastVoucherifyError


class VoucherType(models.TextChoices):
    DISCOUNT = "DISCOUNT_VOUCHER", _("Discount voucher")
    GIFT = "GIFT_VOUCHER", _("Gift card")
    LOYALTY = "LOYALTY_CARD", _("Loyalty card")


class DiscountType(models.TextChoices):
    AMOUNT = "AMOUNT", _("Amount off")
    PERCENT = "PERCENT", _("Percent off")
    FIXED = "FIXED", _("Fixed price")
    UNIT = "UNIT", _("Free units")


#: Discount kinds whose every value the mirror (and the admin form) holds.
EDITABLE_DISCOUNTS = (DiscountType.AMOUNT, DiscountType.PERCENT, DiscountType.FIXED)
#: Discount keys the mirror owns: taken from its fields, never copied from the last payload.
MANAGED_DISCOUNT_KEYS = frozenset(
    {
        "type",
        "amount_off",
        "percent_off",
        "amount_limit",
        "fixed_amount",
        "amount_off_formula",
        "percent_off_formula",
        "fixed_amount_formula",
    }
)


def _datetime(value: Any) -> datetime | None:
    return parse_datetime(value) if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


class Voucher(LastVoucherifyError):
    # last_error*: the last failure of a background action on this voucher (the admin shows it).
    """A Voucherify voucher as last seen; money in integer minor units (cents)."""

    code = models.CharField(_("code"), max_length=255, unique=True)
    voucherify_id = models.CharField(_("Voucherify id"), max_length=100, blank=True, db_index=True)
    type = models.CharField(
        _("type"), max_length=20, choices=VoucherType.choices, default=VoucherType.DISCOUNT
    )
    active = models.BooleanField(_("active"), default=True)
    category = models.CharField(_("category"), max_length=200, blank=True, db_index=True)
    campaign = models.CharField(_("campaign"), max_length=200, blank=True, db_index=True)
    discount_type = models.CharField(
        _("discount type"), max_length=10, choices=DiscountType.choices, blank=True
    )
    amount_off = models.PositiveIntegerField(_("amount off (minor units)"), null=True, blank=True)
    percent_off = models.DecimalField(_("percent off"), max_digits=5, decimal_places=2, null=True, blank=True)
    amount_limit = models.PositiveIntegerField(
        _("percent discount limit (minor units)"), null=True, blank=True
    )
    fixed_amount = models.PositiveIntegerField(_("fixed price (minor units)"), null=True, blank=True)
    unit_off = models.PositiveIntegerField(_("free units"), null=True, blank=True)
    gift_amount = models.PositiveIntegerField(_("gift amount (minor units)"), null=True, blank=True)
    gift_balance = models.IntegerField(_("gift balance (minor units)"), null=True, blank=True)
    loyalty_points = models.PositiveIntegerField(_("loyalty points"), null=True, blank=True)
    loyalty_balance = models.IntegerField(_("loyalty points balance"), null=True, blank=True)
    redemption_quantity = models.PositiveIntegerField(
        _("redemption limit"), null=True, blank=True, help_text=_("Empty means unlimited.")
    )
    redeemed_quantity = models.PositiveIntegerField(_("redeemed"), default=0)
    start_date = models.DateTimeField(_("start date"), null=True, blank=True)
    expiration_date = models.DateTimeField(_("expiration date"), null=True, blank=True)
    additional_info = models.TextField(_("additional info"), blank=True)
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)
    remote_payload = models.JSONField(_("Voucherify payload"), default=dict, blank=True)
    refreshed_at = models.DateTimeField(_("refreshed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("voucher")
        verbose_name_plural = _("vouchers")
        ordering = ("code",)
        permissions = (
            ("change_voucher_state", _("Can enable and disable vouchers in Voucherify")),
            ("delete_voucher_remote", _("Can delete vouchers in Voucherify")),
            ("adjust_voucher_balance", _("Can add to or remove from gift-card and loyalty balances")),
        )

    def __str__(self) -> str:
        return self.code

    @property
    def balance(self) -> int | None:
        """Gift credits or loyalty points left; None for discount vouchers."""
        return self.gift_balance if self.type == VoucherType.GIFT else self.loyalty_balance

    def to_voucherify(self, *, include_active: bool = True) -> dict[str, Any]:
        """The ``POST /v1/vouchers/{code}`` body (the code goes in the path); without
        ``include_active`` Voucherify's default (active) applies."""
        body = self.to_voucherify_update(include_active=include_active)
        body["type"] = self.type
        if self.type == VoucherType.GIFT:
            body["gift"] = {"amount": self.gift_amount or 0}
        elif self.type == VoucherType.LOYALTY:
            body["loyalty_card"] = {"points": self.loyalty_points or 0}
        body["redemption"] = {"quantity": self.redemption_quantity}
        if self.campaign:  # required for a loyalty card (create-voucher's description)
            body["campaign"] = self.campaign
        return body

    def to_voucherify_update(self, *, include_active: bool = True) -> dict[str, Any]:
        """The ``PUT /v1/vouchers/{code}`` body: only what the spec lets an update change
        (gift amount, points and the redemption limit are fixed once created).

        ``active`` is left out unless ``include_active`` (enabling and disabling is a separate
        permission), and so is the discount of a kind the mirror does not hold in full (UNIT:
        its unit type and effect live only in ``remote_payload``), so an edit never rewrites it.
        """
        body: dict[str, Any] = {
            "category": self.category or None,
            "start_date": _iso(self.start_date),
            "expiration_date": _iso(self.expiration_date),
            "additional_info": self.additional_info or None,
            "metadata": dict(self.metadata or {}),
        }
        if include_active:
            body["active"] = self.active
        kind = self.discount_type or DiscountType.AMOUNT
        if self.type == VoucherType.DISCOUNT and kind in EDITABLE_DISCOUNTS:
            body["discount"] = self._discount()
        return body

    def _discount(self) -> dict[str, Any]:
        kind = self.discount_type or DiscountType.AMOUNT
        remote = (self.remote_payload or {}).get("discount") or {}
        # Keep what the mirror has no field for (e.g. ``effect``) when the kind stays the same.
        discount: dict[str, Any] = {"type": kind}
        if remote.get("type") == kind:
            discount = {key: value for key, value in remote.items() if key not in MANAGED_DISCOUNT_KEYS}
            discount["type"] = kind
        if kind == DiscountType.AMOUNT:
            discount["amount_off"] = self.amount_off or 0
        elif kind == DiscountType.PERCENT:
            percent = self.percent_off or Decimal(0)
            discount["percent_off"] = int(percent) if percent == int(percent) else float(percent)
            if self.amount_limit is not None:
                discount["amount_limit"] = self.amount_limit
        elif kind == DiscountType.FIXED:
            discount["fixed_amount"] = self.fixed_amount or 0
        return discount

    def apply_voucherify(self, data: dict[str, Any]) -> None:
        """Copy a Voucherify voucher object onto this mirror (no save)."""
        self.code = str(data.get("code") or self.code)
        self.voucherify_id = str(data.get("id") or self.voucherify_id)
        self.type = str(data.get("type") or self.type)
        self.active = bool(data.get("active", True))
        self.category = str(data.get("category") or "")
        self.campaign = str(data.get("campaign") or data.get("campaign_id") or "")
        discount = data.get("discount") or {}
        self.discount_type = str(discount.get("type") or "")
        self.amount_off = _int(discount.get("amount_off"))
        percent = discount.get("percent_off")
        self.percent_off = Decimal(str(percent)) if _int(percent) is not None else None
        self.amount_limit = _int(discount.get("amount_limit"))
        self.fixed_amount = _int(discount.get("fixed_amount"))
        self.unit_off = _int(discount.get("unit_off"))
        gift = data.get("gift") or {}
        self.gift_amount, self.gift_balance = _int(gift.get("amount")), _int(gift.get("balance"))
        loyalty = data.get("loyalty_card") or {}
        self.loyalty_points = _int(loyalty.get("points"))
        self.loyalty_balance = _int(loyalty.get("balance"))
        redemption = data.get("redemption") or {}
        self.redemption_quantity = _int(redemption.get("quantity"))
        self.redeemed_quantity = _int(redemption.get("redeemed_quantity")) or 0
        self.start_date = _datetime(data.get("start_date"))
        self.expiration_date = _datetime(data.get("expiration_date"))
        self.additional_info = str(data.get("additional_info") or "")
        self.metadata = data.get("metadata") or {}
        self.remote_payload = data
        self.last_error = self.last_error_key = self.last_request_id = ""
