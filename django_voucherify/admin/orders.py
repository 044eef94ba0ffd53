"""Order mirror admin (items inline)."""

from __future__ import annotations

from django.contrib import admin

from ..models import Order, OrderItem
from .mixins import SyncedMirrorAdmin


class OrderItemInline(admin.TabularInline):  # type: ignore[type-arg]
    model = OrderItem
    extra = 0


@admin.register(Order)
class OrderAdmin(SyncedMirrorAdmin):
    list_display = (
        "source_id",
        "status",
        "amount",
        "currency",
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
    fieldsets = (
        (None, {"fields": ("source_id", "status", "amount", "currency", "customer", "metadata")}),
        SyncedMirrorAdmin.sync_fieldset,
    )
