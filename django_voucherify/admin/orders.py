"""Order mirror admin (items inline)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from ..models import Order, OrderItem
from .mixins import SyncedMirrorAdmin
from .money import format_amount


class OrderItemInline(admin.TabularInline):  # type: ignore[type-arg]
    model = OrderItem
    extra = 0


@admin.register(Order)
class OrderAdmin(SyncedMirrorAdmin):
    list_display = (
        "source_id",
        "status",
        "total",
        "customer",
        "sync_state",
        "synced_at",
        "last_error_key",
        "last_request_id",
    )
    list_filter = ("sync_state", "status")  # type: ignore[assignment]
    search_fields = ("source_id", "voucherify_id", "customer__source_id")
    raw_id_fields = ("customer",)
    inlines = (OrderItemInline,)

    @admin.display(description=_("amount"), ordering="amount")
    def total(self, obj: Order) -> str:
        # Money in the order's own currency (else the shop's CURRENCY; minor units without both).
        return format_amount(obj.amount, obj.currency or None)

    fieldsets = (
        (None, {"fields": ("source_id", "status", "amount", "currency", "customer", "metadata")}),
        SyncedMirrorAdmin.sync_fieldset,
    )
