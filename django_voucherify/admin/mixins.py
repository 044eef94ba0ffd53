"""What every mirror admin shows and does: sync state, error, request id, "re-sync"."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import BadRequest, ValidationError
from django.db import router, transaction
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

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


class VoucherifyModelAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The base of the app's ModelAdmins: what every changelist refuses before it queries."""

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        # A changelist filters on its model's own fields from the URL; PostgreSQL refuses a NUL
        # even as a parameter, so ``?category=%00`` was a 500 page. Refused as Django refuses
        # a filter it does not allow (DisallowedModelAdminLookup: 400).
        if "\x00" in str(value):
            return False
        return bool(super().lookup_allowed(lookup, value, request))

    def response_action(
        self, request: HttpRequest, queryset: QuerySet[Any], *args: Any, **kwargs: Any
    ) -> HttpResponse | None:
        # Django filters the changelist by the posted pks as they come: one that is no pk
        # (``a\x00``, 5000 digits int() refuses) raised ValueError there, a 500 page and an
        # error mail for a tampered form, on every action and confirmation. A 400 instead.
        pk = self.opts.pk
        for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
            try:
                pk.to_python(value)
            except ValidationError:
                raise BadRequest("a selected object is no primary key") from None
        return super().response_action(request, queryset, *args, **kwargs)


class SyncedMirrorAdmin(VoucherifyModelAdmin):
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


def start_refresh(
    model_admin: admin.ModelAdmin,  # type: ignore[type-arg]
    request: HttpRequest,
    subject: str,
    task: Any,
    model: type[Model],
    changelist: str,
) -> HttpResponse:
    """Record a QUEUED refresh run of ``subject`` (unless one is unfinished) and send ``task``
    for it once the request's transaction commits; back to ``changelist``, which shows the
    run's progress. The one door of the voucher and campaign changelists' refresh buttons."""
    from ..vouchers import refresh_runs

    run, created = refresh_runs.queue_unless_running(subject)
    if not created:
        model_admin.message_user(
            request,
            gettext("A refresh from Voucherify is already under way; its progress shows above the list."),
            messages.INFO,
        )
        return HttpResponseRedirect(changelist)

    def start() -> None:
        try:
            task.delay(run.pk)
        except Exception as exc:  # the broker is down: say so (and on the run), not a 500
            failure = gettext("Could not start the refresh: %(error)s") % {"error": exc}
            refresh_runs.mark_failed(run.pk, failure)
            model_admin.message_user(request, failure, messages.ERROR)
        else:
            model_admin.message_user(
                request,
                gettext("Refresh from Voucherify started; its progress shows above the list."),
                messages.SUCCESS,
            )

    transaction.on_commit(start, using=router.db_for_write(model))
    return HttpResponseRedirect(changelist)
