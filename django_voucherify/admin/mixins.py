"""What every mirror admin shows and does: sync state, error, request id, "re-sync"."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..sync.outbox import resync

SYNC_FIELDS: tuple[str, ...] = (
    "sync_state",
    "voucherify_id",
    "synced_at",
    "last_error",
    "last_error_key",
    "last_request_id",
    "remote_payload",
    "created_at",
    "updated_at",
)


class SyncedMirrorAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Sync fields read-only (only the sync service writes them) and a "re-sync" action."""

    readonly_fields = SYNC_FIELDS
    list_filter = ("sync_state",)
    actions = ("resync_selected",)
    sync_fieldset: tuple[Any, Any] = (_("Voucherify sync"), {"fields": SYNC_FIELDS, "classes": ("collapse",)})

    # Resending writes to Voucherify: the mirror's change permission, not only the view one.
    @admin.action(description=_("Re-sync selected with Voucherify"), permissions=["change"])
    def resync_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        count = resync(queryset)
        self.message_user(
            request,
            ngettext(
                "%(count)d object queued for Voucherify.", "%(count)d objects queued for Voucherify.", count
            )
            % {"count": count},
            messages.SUCCESS,
        )
