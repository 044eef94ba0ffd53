"""Customer mirror admin."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from ..models import Customer
from .mixins import SyncedMirrorAdmin


@admin.register(Customer)
class CustomerAdmin(SyncedMirrorAdmin):
    list_display = (
        "source_id",
        "name",
        "email",
        "sync_state",
        "synced_at",
        "last_error_key",
        "last_request_id",
    )
    search_fields = ("source_id", "name", "email", "voucherify_id")
    raw_id_fields = ("user",)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "source_id",
                    "name",
                    "email",
                    "phone",
                    "birthdate",
                    "description",
                    "user",
                    "metadata",
                )
            },
        ),
        (_("Address"), {"fields": ("line_1", "line_2", "city", "state", "postal_code", "country")}),
        SyncedMirrorAdmin.sync_fieldset,
    )
