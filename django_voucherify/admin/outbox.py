"""The sync outbox, read-only, with a "re-drive" action (operators' view of stuck work)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..models import OutboxEntry, OutboxState
from ..sync.outbox import enqueue
from .mixins import VoucherifyModelAdmin


@admin.register(OutboxEntry)
class OutboxEntryAdmin(VoucherifyModelAdmin):
    list_display = (
        "kind",
        "source_id",
        "action",
        "state",
        "version",
        "delivered_version",
        "attempts",
        "due_at",
        "last_error_key",
        "last_request_id",
        "updated_at",
    )
    list_filter = ("state", "kind", "action")
    search_fields = ("source_id", "remote_id", "last_request_id")
    actions = ("redrive_selected",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in OutboxEntry._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting an entry would silently drop a change Voucherify has not received.
        return False

    @admin.action(description=_("Re-drive selected entries"))
    def redrive_selected(self, request: HttpRequest, queryset: QuerySet[OutboxEntry]) -> None:
        ids = list(queryset.exclude(state=OutboxState.SYNCED).values_list("pk", flat=True))
        OutboxEntry.objects.filter(pk__in=ids, state=OutboxState.FAILED).update(
            state=OutboxState.PENDING, attempts=0, due_at=None, updated_at=timezone.now()
        )
        queued = sum(1 for pk in ids if enqueue(pk, retry=True))
        self.message_user(
            request,
            ngettext("%(count)d entry re-driven.", "%(count)d entries re-driven.", queued)
            % {"count": queued},
            messages.SUCCESS if queued == len(ids) else messages.WARNING,
        )
