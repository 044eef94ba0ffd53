"""Product and SKU mirror admin: list, search, sync state, and "re-sync" (queued on the outbox,
change permission) as for customers (:class:`.mixins.SyncedMirrorAdmin`)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from ..models import Product, Sku
from .mixins import SyncedMirrorAdmin
from .money import format_amount


class SkuInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Sku
    extra = 0
    fields = ("source_id", "sku", "price", "currency", "sync_state", "last_error_key")
    readonly_fields = ("sync_state", "last_error_key")
    show_change_link = True


@admin.register(Product)
class ProductAdmin(SyncedMirrorAdmin):
    list_display = (
        "source_id",
        "name",
        "price_display",
        "sync_state",
        "synced_at",
        "last_error_key",
        "last_request_id",
    )
    search_fields = ("source_id", "name", "voucherify_id")
    inlines = (SkuInline,)
    fieldsets = (
        (None, {"fields": ("source_id", "name", "price", "attributes", "image_url", "metadata")}),
        SyncedMirrorAdmin.sync_fieldset,
    )

    @admin.display(description=_("price"), ordering="price")
    def price_display(self, obj: Product) -> str:
        return "" if obj.price is None else format_amount(obj.price)


@admin.register(Sku)
class SkuAdmin(SyncedMirrorAdmin):
    list_display = (
        "source_id",
        "sku",
        "product",
        "price_display",
        "sync_state",
        "synced_at",
        "last_error_key",
    )
    search_fields = ("source_id", "sku", "voucherify_id", "product__source_id", "product__name")
    list_select_related = ("product",)
    raw_id_fields = ("product",)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "source_id",
                    "product",
                    "sku",
                    "price",
                    "currency",
                    "attributes",
                    "image_url",
                    "metadata",
                )
            },
        ),
        SyncedMirrorAdmin.sync_fieldset,
    )

    @admin.display(description=_("price"), ordering="price")
    def price_display(self, obj: Sku) -> str:
        return "" if obj.price is None else format_amount(obj.price, obj.currency or None)
