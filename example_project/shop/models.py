"""The demo shop's own order model; django_voucherify mirrors it through the registry (apps.py)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ShopOrder(models.Model):
    class Status(models.TextChoices):
        NEW = "new", _("new")
        PAID = "paid", _("paid")
        CANCELLED = "cancelled", _("cancelled")
        SHIPPED = "shipped", _("shipped")

    number = models.CharField(_("number"), max_length=40, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="shop_orders")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.NEW)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    # [{"sku": "TSHIRT-M", "qty": 2, "unit_price_cents": 1999}, ...]
    lines = models.JSONField(_("lines"), default=list)
    # One-time token of the checkout form that placed the order: a double submit (or a retried
    # request) finds the order instead of creating a second one and redeeming twice.
    checkout_token = models.CharField(
        _("checkout token"), max_length=64, unique=True, null=True, blank=True, editable=False
    )

    # What the shopper was charged (after vouchers), set when the order is paid: the
    # confirmation and "My orders" show it, not the total before the discount.
    paid_cents = models.PositiveIntegerField(_("paid (cents)"), null=True, blank=True, editable=False)
    # The payment provider's reference of the charge, written with status PAID in one
    # transaction: an order left NEW with a reference was paid (the sweep settles it so).
    payment_reference = models.CharField(_("payment reference"), max_length=100, blank=True, editable=False)
    # When the order was created: a NEW order older than the placement grace was stranded by a
    # fault between its creation and its payment record (settle.settle_stranded_orders).
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False, db_index=True)

    class Meta:
        verbose_name = _("shop order")
        verbose_name_plural = _("shop orders")

    def __str__(self) -> str:
        return self.number

    @property
    def total_cents(self) -> int:
        return sum(int(line["qty"]) * int(line["unit_price_cents"]) for line in self.lines)

    @property
    def amount_paid(self) -> int | None:
        """What the shopper paid: only a PAID or SHIPPED order has been paid (None otherwise)."""
        if self.status not in (self.Status.PAID, self.Status.SHIPPED):
            return None
        return self.total_cents if self.paid_cents is None else self.paid_cents


class Product(models.Model):
    """Something to sell; ``price_cents`` in minor units like everything else."""

    sku = models.CharField(_("SKU"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    price_cents = models.PositiveIntegerField(_("price (cents)"))

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class SignUpClaim(models.Model):
    """A case-folded user name (``name:...``) or e-mail (``email:...``) taken by a sign-up.

    Sign-up checks case-insensitively whether an account exists, then creates it; two sign-ups
    of "Alice" and "alice" at the same moment both passed that check. Each sign-up now inserts
    its two claims in the account's transaction: the unique index lets only one of them commit
    (on SQLite as on PostgreSQL, where a check-then-insert cannot be made safe)."""

    key = models.CharField(max_length=320, unique=True)

    class Meta:
        verbose_name = _("sign-up claim")
        verbose_name_plural = _("sign-up claims")

    def __str__(self) -> str:
        return self.key


class FakeCharge(models.Model):
    """A charge made by the demo's fake payment provider (``payment.charge``): its own record,
    kept apart from the shop's order, as a real provider keeps it on its side."""

    order_number = models.CharField(_("order number"), max_length=20, unique=True)
    reference = models.CharField(_("payment reference"), max_length=40)
    amount_cents = models.PositiveIntegerField(_("amount (cents)"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("fake payment")
        verbose_name_plural = _("fake payments")

    def __str__(self) -> str:
        return self.reference
