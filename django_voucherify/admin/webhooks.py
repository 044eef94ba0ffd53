"""Webhook events, read-only, with a "reprocess" action behind a confirmation page."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from ..models import WebhookEvent, WebhookEventState
from . import confirmation
from .cells import cut as _cut
from .mixins import VoucherifyModelAdmin

CONFIRM_TEMPLATE = "admin/django_voucherify/webhookevent/reprocess_confirmation.html"


@admin.register(WebhookEvent)
class WebhookEventAdmin(VoucherifyModelAdmin):
    # Four columns that fit the room a 1280 px window leaves beside the admin's sidebar and the
    # filters (about 630 px): the event (its type, and its id on a second line), its state (with
    # the attempts and a needs-attention flag), the outcome and when it arrived. Ids (up to 100
    # characters), types and outcomes (up to 300) are cut with an ellipsis and shown whole on
    # hover (title), like long voucher codes; the change page shows every field.
    list_display = ("event_cut", "state_summary", "outcome_cut", "received_at")
    list_filter = ("state", "needs_attention", "type")
    search_fields = ("event_id", "subject", "type", "last_request_id")
    date_hierarchy = "received_at"
    actions = ("reprocess_selected",)

    class Media:
        css = {"all": ("django_voucherify/voucherify_admin.css",)}

    @admin.display(description=_("event"), ordering="type")
    def event_cut(self, obj: WebhookEvent) -> SafeString:
        return format_html("{}<br>{}", _cut(obj.type, "is-type"), _cut(obj.event_id, "is-id"))

    @admin.display(description=_("state"), ordering="state")
    def state_summary(self, obj: WebhookEvent) -> SafeString:
        attempts = ngettext("%(n)d attempt", "%(n)d attempts", obj.attempts) % {"n": obj.attempts}
        flag = (
            format_html(' <strong class="voucherify-attention">{}</strong>', _("needs attention"))
            if obj.needs_attention
            else ""
        )
        return format_html(
            '<span class="voucherify-state">{}{}</span><br><span class="voucherify-quiet">{}</span>',
            obj.get_state_display(),
            flag,
            attempts,
        )

    @admin.display(description=_("outcome"), ordering="outcome")
    def outcome_cut(self, obj: WebhookEvent) -> SafeString:
        return _cut(obj.outcome, "is-text")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in WebhookEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # events come from Voucherify only

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # what arrived is kept as it arrived

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A pending event was answered 202: Voucherify will not send it again, so deleting it
        # would lose it. Processed, stale and parked events may go.
        if obj is not None and obj.state == WebhookEventState.PENDING:
            return False
        return super().has_delete_permission(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        queryset.exclude(state=WebhookEventState.PENDING).delete()

    def has_reprocess_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.reprocess_webhookevent")

    @admin.action(description=_("Reprocess selected events"), permissions=["reprocess"])
    def reprocess_selected(
        self, request: HttpRequest, queryset: QuerySet[WebhookEvent]
    ) -> HttpResponse | None:
        # Only parked events are reprocessed (webhooks.events.reprocess: a pending one may be in
        # a worker's hands). The page listed and counted the whole selection: "these 279 events
        # will be processed again", then "0 events sent for processing".
        eligible = queryset.filter(state=WebhookEventState.PARKED)
        if not eligible.exists():
            self.message_user(
                request,
                _("Only parked events can be reprocessed; none of the selected events is parked."),
                messages.WARNING,
            )
            return None
        if request.POST.get("post") != "yes":
            # The admin's one confirmation page: a sample of a large selection and its count,
            # "select all" posted back as select_across (one hidden input per event made
            # confirming thousands of parked events a 400, past DATA_UPLOAD_MAX_NUMBER_FIELDS).
            return confirmation.confirmation_page(
                self,
                request,
                eligible,
                action_label=gettext("Reprocess"),
                order_by="pk",
                headers=(
                    gettext("Type"),
                    gettext("Event id"),
                    gettext("Processing state"),
                    gettext("Last error"),
                ),
                row=lambda e: (e.type, e.event_id, e.get_state_display(), Truncator(e.last_error).chars(120)),
                intro=lambda count: (
                    ngettext(
                        "This event will be processed again in the background: the mirrors and the "
                        "checkout ledger are updated from it unless a newer event about the same "
                        "object was applied, and the shop's signal receivers run again.",
                        "These %(counter)s events will be processed again in the background: the "
                        "mirrors and the checkout ledger are updated from them unless a newer event "
                        "about the same object was applied, and the shop's signal receivers run "
                        "again.",
                        count,
                    )
                    % {"counter": count}
                ),
                not_listed=lambda n: (
                    ngettext(
                        "…and %(counter)s more event matching the same filters.",
                        "…and %(counter)s more events matching the same filters.",
                        n,
                    )
                    % {"counter": n}
                ),
                table_id="reprocess-rows",
                template=CONFIRM_TEMPLATE,
                warning=confirmation.left_as_they_are(
                    queryset.count(),
                    eligible.count(),
                    lambda left: (
                        ngettext(
                            "%(counter)s selected event is not parked and is left as it is.",
                            "%(counter)s selected events are not parked and are left as they are.",
                            left,
                        )
                        % {"counter": left}
                    ),
                ),
            )
        changed = gettext(
            "The selection changed since the confirmation page (%(shown)s events then, %(now)s now); "
            "nothing was done. Please choose the action again."
        )
        if confirmation.selection_changed(
            self,
            request,
            eligible.count(),
            lambda shown, now: changed % {"shown": shown, "now": now},
            eligible,
        ):
            return None
        # Imported here: the webhooks service pulls in checkout and the voucher services, which
        # a process that merely autodiscovers the admin would pay at start-up.
        from ..webhooks.events import reprocess

        count = reprocess(eligible)
        self.message_user(
            request,
            ngettext("%(count)d event sent for processing.", "%(count)d events sent for processing.", count)
            % {"count": count},
            messages.SUCCESS,
        )
        return None
