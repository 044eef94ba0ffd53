"""Promotion tier admin: the tier mirrors (refreshed with the campaigns) listed and shown
read-only, on their own changelist and on their campaign's page; enable and disable behind the
admin's confirmation page, from the changelist (actions) or the tier's page (buttons).

Decision (docs/admin.md): tiers are a mirror like campaigns, not a table reading
``list-promotion-tiers-from-campaign`` on every page view: the changelist lists, searches and
filters every campaign's tiers in one query, and the campaign page lists its tiers without a
call to Voucherify. Changes go to Voucherify first and the mirror takes its answer.

Permissions: ``view_promotiontier`` (list, detail, the campaign page's tier table),
``enable_promotiontier`` and ``disable_promotiontier`` (each action its own: disabling stops a
discount, enabling starts giving one away). Posting an action without its permission is a 403.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from ..api.errors import APIError, VoucherifyError
from ..models import PromotionTier, RefreshSubject, ValidationRule
from . import confirmation, refresh_status, remote_actions
from .discounts import discount_summary
from .mixins import VoucherifyModelAdmin

TEMPLATES = "admin/django_voucherify/promotiontier/"
#: Enable/disable run in the request, one call per tier: a larger selection is refused.
ACTION_LIMIT = 100
#: The changelist actions and the permission each needs (a POST without it is a 403).
ACTION_PERMISSIONS = {
    "enable_selected": "django_voucherify.enable_promotiontier",
    "disable_selected": "django_voucherify.disable_promotiontier",
}


def describe_error(exc: VoucherifyError) -> str:
    """Voucherify's refusal as one line for an admin message (the voucher admin's wording, with
    the request id), except that a 404 names a promotion tier."""
    from .voucher_forms import remote_error

    if isinstance(exc, APIError) and exc.status == 404:
        text = _("Voucherify has no such promotion tier (deleted meanwhile?).")
        if exc.request_id:
            text += " " + _("(request id %(request_id)s)") % {"request_id": exc.request_id}
        return text
    return remote_error(exc)


def _pretty(value: Any) -> SafeString:
    return format_html(
        "<pre class='voucherify-json'>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False)
    )


def _change(tier: PromotionTier, active: bool) -> str:
    if active:
        return _("already active, stays active") if tier.active else _("inactive → active")
    return _("active → inactive") if tier.active else _("already inactive, stays inactive")


class TierColumns:
    """The columns the changelist and the campaign page's tier table share."""

    @admin.display(description=gettext_lazy("discount"))
    def discount_display(self, obj: PromotionTier) -> str:
        return discount_summary(obj.discount)

    @admin.display(description=gettext_lazy("valid"), ordering="start_date")
    def dates_display(self, obj: PromotionTier) -> str:
        """Start and expiry in one short column (the changelist fits at 1280 px)."""
        start, end = (
            date_format(localtime(d), "SHORT_DATE_FORMAT") if d else ""
            for d in (obj.start_date, obj.expiration_date)
        )
        if start and end:
            return f"{start} \u2013 {end}"  # an en dash
        if start:
            return _("from %(date)s") % {"date": start}
        if end:
            return _("until %(date)s") % {"date": end}
        return _("always")

    @admin.display(description=gettext_lazy("redeemed"), ordering="redemptions_count")
    def redeemed(self, obj: PromotionTier) -> str:
        return "-" if obj.redemptions_count is None else str(obj.redemptions_count)

    # Not a sortable header: the list is ordered by campaign, then hierarchy already, and a
    # sorted header's arrows would push the column past 1280 px.
    @admin.display(description=gettext_lazy("hierarchy"))
    def level(self, obj: PromotionTier) -> str:
        return "-" if obj.hierarchy is None else str(obj.hierarchy)

    @admin.display(description=gettext_lazy("banner"))
    def banner_display(self, obj: PromotionTier) -> SafeString | str:
        if not obj.banner:
            return "-"
        cut = "<span class='voucherify-cut is-banner' title='{}'>{}</span>"
        return format_html(cut, obj.banner, obj.banner)


class PromotionTierInline(TierColumns, admin.TabularInline):  # type: ignore[type-arg]
    """A promotion campaign's tiers on its page, by hierarchy, each linking to its own page."""

    model = PromotionTier
    fk_name = "campaign"
    verbose_name_plural = gettext_lazy("promotion tiers")
    # The name heads each row already, as the link to the tier's page (show_change_link).
    fields = readonly_fields = (
        "banner_display",
        "active",
        "dates_display",
        "discount_display",
        "redemptions_count",
        "hierarchy",
    )
    ordering = ("hierarchy", "name")
    show_change_link = True
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PromotionTier)
class PromotionTierAdmin(TierColumns, VoucherifyModelAdmin):
    change_list_template = TEMPLATES + "change_list.html"
    change_form_template = TEMPLATES + "change_form.html"
    list_display = (
        "name",
        "campaign_display",
        # No banner column: it is often the name again, and with it the list was 30 px wider
        # than a 1280 px window beside the admin's sidebar (the banner is on the tier's page and
        # searchable).
        "active",
        "dates_display",
        "discount_display",
        "redeemed",
        "level",
    )
    list_select_related = ("campaign",)
    list_filter = ("active", ("campaign", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "banner", "voucherify_id", "campaign__name")
    actions = ("enable_selected", "disable_selected")
    fieldsets = (
        (None, {"fields": ("name", "voucherify_id", "campaign_display", "banner", "active", "hierarchy")}),
        (
            gettext_lazy("Discount"),
            {"fields": ("discount_display", "discount_json", "redemptions_count")},
        ),
        (gettext_lazy("Validity"), {"fields": ("start_date", "expiration_date", "validity_display")}),
        (gettext_lazy("Validation rules"), {"fields": ("rules_display",)}),
        (
            gettext_lazy("In Voucherify"),
            {
                "fields": (
                    "refreshed_at",
                    "last_error",
                    "last_error_key",
                    "last_request_id",
                    "payload_display",
                ),
                "classes": ("collapse",),
            },
        ),
    )
    readonly_fields = (
        "name",
        "voucherify_id",
        "campaign_display",
        "banner",
        "active",
        "hierarchy",
        "discount_display",
        "discount_json",
        "redemptions_count",
        "start_date",
        "expiration_date",
        "validity_display",
        "rules_display",
        "refreshed_at",
        "last_error",
        "last_error_key",
        "last_request_id",
        "payload_display",
    )

    class Media:
        css = {"all": ("django_voucherify/voucherify_admin.css",)}
        js = ("django_voucherify/live_status.js", "django_voucherify/refresh_progress.js")

    # -- read-only mirror --------------------------------------------------------------------
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: PromotionTier | None = None) -> bool:
        return False  # tiers are edited in Voucherify

    def has_delete_permission(self, request: HttpRequest, obj: PromotionTier | None = None) -> bool:
        return False  # deleting only the mirror would be undone by the next refresh

    def has_enable_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(ACTION_PERMISSIONS["enable_selected"]))

    def has_disable_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(ACTION_PERMISSIONS["disable_selected"]))

    # -- columns and fields --------------------------------------------------------------------
    @admin.display(description=gettext_lazy("campaign"), ordering="campaign__name")
    def campaign_display(self, obj: PromotionTier) -> SafeString | str:
        if obj.campaign is None:
            return obj.campaign_voucherify_id or "-"
        url = reverse("admin:django_voucherify_campaign_change", args=[obj.campaign.pk])
        return format_html("<a href='{}'>{}</a>", url, obj.campaign.name)

    @admin.display(description=gettext_lazy("discount as Voucherify keeps it"))
    def discount_json(self, obj: PromotionTier) -> SafeString | str:
        return _pretty(obj.discount) if obj.discount else "-"

    @admin.display(description=gettext_lazy("validity windows"))
    def validity_display(self, obj: PromotionTier) -> SafeString | str:
        payload = obj.remote_payload or {}
        windows = {
            k: payload[k]
            for k in ("validity_timeframe", "validity_day_of_week", "validity_hours")
            if payload.get(k) is not None
        }
        return _pretty(windows) if windows else "-"

    @admin.display(description=gettext_lazy("validation rules"))
    def rules_display(self, obj: PromotionTier) -> SafeString | str:
        """The rules assigned to the tier (its payload's assignments), named and explained from
        the rule mirrors (one query)."""
        rule_ids = obj.rule_ids
        if not rule_ids:
            return _("No validation rule is assigned to this promotion tier.")
        known = {r.voucherify_id: r for r in ValidationRule.objects.filter(voucherify_id__in=rule_ids)}
        rows = []
        for rule_id in rule_ids:
            rule = known.get(rule_id)
            if rule is None:
                rows.append((rule_id, "", ""))
            else:
                url = reverse("admin:django_voucherify_validationrule_change", args=[rule.pk])
                rows.append((format_html("<a href='{}'>{}</a>", url, rule.name), rule.error_message, rule_id))
        body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
        return format_html(
            "<table id='tier-rules'><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            _("Rule"),
            _("Error message"),
            _("Voucherify id"),
            body,
        )

    @admin.display(description=gettext_lazy("Voucherify payload"))
    def payload_display(self, obj: PromotionTier) -> SafeString:
        return _pretty(obj.remote_payload)

    # -- pages --------------------------------------------------------------------------------
    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/enable/",
                wrap(require_POST(self.enable_view)),
                name="{}_{}_enable".format(*info),
            ),
            path(
                "<path:object_id>/disable/",
                wrap(require_POST(self.disable_view)),
                name="{}_{}_disable".format(*info),
            ),
            *refresh_status.status_urls(self, RefreshSubject.CAMPAIGNS),
            *super().get_urls(),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # Django answers an action the user may not run with "No action selected"; an action
        # that writes to Voucherify answers 403, as its button on the tier page does.
        needed = ACTION_PERMISSIONS.get(request.POST.get("action", "")) if request.method == "POST" else None
        if needed and not request.user.has_perm(needed):
            raise PermissionDenied
        context = {
            **refresh_status.context(self, RefreshSubject.CAMPAIGNS),
            "can_refresh": request.user.has_perm("django_voucherify.change_campaign"),
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = {
            "can_enable": self.has_enable_permission(request),
            "can_disable": self.has_disable_permission(request),
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, context)

    def enable_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._object_action(request, object_id, True)

    def disable_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._object_action(request, object_id, False)

    def _object_action(self, request: HttpRequest, object_id: str, active: bool) -> HttpResponse:
        """The tier page's Enable/Disable button: the confirmation page, then the change."""
        allowed = self.has_enable_permission(request) if active else self.has_disable_permission(request)
        # And the view permission, as Django asks of the changelist's actions: without it the
        # confirmation page would show a tier this user may not see (review 20).
        if not (allowed and self.has_view_permission(request)):
            raise PermissionDenied
        tier = self.get_object(request, unquote(object_id))
        if tier is None:
            raise Http404(_("No promotion tier with this id."))
        queryset = self.get_queryset(request).filter(pk=tier.pk)
        response = self._set_active(request, queryset, active)
        if response is not None:
            return response
        if PromotionTier.objects.filter(pk=tier.pk).exists():
            page = reverse("admin:django_voucherify_promotiontier_change", args=[tier.pk])
        else:  # Voucherify no longer has it: the mirror went
            page = reverse("admin:django_voucherify_promotiontier_changelist")
        return HttpResponseRedirect(page)

    # -- actions ------------------------------------------------------------------------------
    @admin.action(description=gettext_lazy("Enable selected promotion tiers"), permissions=["enable"])
    def enable_selected(self, request: HttpRequest, queryset: QuerySet[PromotionTier]) -> HttpResponse | None:
        return self._set_active(request, queryset, True)

    @admin.action(description=gettext_lazy("Disable selected promotion tiers"), permissions=["disable"])
    def disable_selected(
        self, request: HttpRequest, queryset: QuerySet[PromotionTier]
    ) -> HttpResponse | None:
        return self._set_active(request, queryset, False)

    def _set_active(
        self, request: HttpRequest, queryset: QuerySet[PromotionTier], active: bool
    ) -> HttpResponse | None:
        label = _("Enable") if active else _("Disable")
        queryset = queryset.select_related("campaign")
        if request.POST.get("post") != "yes":
            return confirmation.confirmation_page(
                self,
                request,
                queryset,
                action_label=label,
                order_by="name",
                headers=(_("Promotion tier"), _("Campaign"), _("Change")),
                row=lambda t: (t.name, t.campaign or t.campaign_voucherify_id, _change(t, active)),
                intro=lambda count: (
                    ngettext(
                        "%(action)s: this promotion tier will change in Voucherify:",
                        "%(action)s: these %(counter)s promotion tiers will change in Voucherify:",
                        count,
                    )
                    % {"action": label, "counter": count}
                ),
                not_listed=lambda n: (
                    ngettext(
                        "…and %(counter)s more promotion tier matching the same filters.",
                        "…and %(counter)s more promotion tiers matching the same filters.",
                        n,
                    )
                    % {"counter": n}
                ),
                table_id="tier-changes",
                warning=self._over_limit(queryset),
            )
        count = queryset.count()
        changed = _(
            "The selection changed since the confirmation page (%(shown)s promotion tiers then, "
            "%(now)s now); nothing was done. Please choose the action again."
        )
        if confirmation.selection_changed(
            self, request, count, lambda shown, now: changed % {"shown": shown, "now": now}, queryset
        ):
            return None
        if count > ACTION_LIMIT:
            self.message_user(
                request,
                _("Select at most %(limit)d promotion tiers at a time; nothing was done.")
                % {"limit": ACTION_LIMIT},
                messages.WARNING,
            )
            return None
        self._run(request, list(queryset.order_by("name")), active, label)
        return None

    def _over_limit(self, queryset: QuerySet[PromotionTier]) -> str:
        """The confirmation page's warning when the selection is larger than
        :data:`ACTION_LIMIT` ("" when it is not): said before confirming, not only after."""
        if queryset.count() <= ACTION_LIMIT:
            return ""
        return _(
            "Select at most %(limit)d promotion tiers at a time: confirming this selection would do nothing."
        ) % {"limit": ACTION_LIMIT}

    def _run(self, request: HttpRequest, tiers: list[PromotionTier], active: bool, label: str) -> None:
        from ..vouchers import promotion_tiers

        def warn_unexpected(tier: PromotionTier, outcome: promotion_tiers.Outcome, _client: Any) -> None:
            if outcome.unexpected:
                self.message_user(request, _unexpected(label, tier, outcome.tier), messages.WARNING)

        remote_actions.run_each(
            self,
            request,
            tiers,
            # set_active writes a refusal on the mirror, and the mirror from Voucherify's answer.
            call=lambda tier, client: promotion_tiers.set_active(tier, active, client=client),
            then=warn_unexpected,
            describe_error=describe_error,
            failed=lambda name, message: (
                _("%(action)s failed for %(tier)s: %(message)s")
                % {"action": label, "tier": name, "message": message}
            ),
            not_sent=lambda names: (
                _("Voucherify cannot be reached now; nothing was sent for %(tiers)s. Please try again later.")
                % {"tiers": names}
            ),
            done=lambda names: _("%(action)s: done for %(tiers)s.") % {"action": label, "tiers": names},
        )


def _unexpected(label: str, tier: PromotionTier, stored: PromotionTier | None) -> str:
    """Why a tier Voucherify accepted to change is shown as it is, after an answer that was
    not the tier (a 2xx in another shape)."""
    values = {"action": label, "tier": tier.name}
    if stored is None:
        return (
            _(
                "%(action)s of %(tier)s: Voucherify accepted it but answered in an unexpected shape, "
                "and no longer has the tier; it was removed from the list."
            )
            % values
        )
    if stored.last_error:
        return (
            _(
                "%(action)s of %(tier)s: Voucherify accepted it but answered in an unexpected shape, "
                "and re-reading the tier failed; the list shows the change until the next refresh."
            )
            % values
        )
    return (
        _(
            "%(action)s of %(tier)s: Voucherify accepted it but answered in an unexpected shape; "
            "the tier was re-read from Voucherify."
        )
        % values
    )
