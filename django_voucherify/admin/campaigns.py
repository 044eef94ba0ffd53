"""Campaign admin: the mirror listed and shown read-only, enable/disable behind the admin's
confirmation page, "Refresh from Voucherify" and "Generate codes" (a bulk job).

Decision (docs/admin.md): campaigns are a mirror refreshed from Voucherify, like vouchers, not a
changelist reading the API: the list, its search and filters are one indexed query at 100,000
campaigns, while ``list-campaigns`` has no name search and pages through 10,000 at most.
Changes go to Voucherify first and the mirror is re-read from it.

Permissions: ``view_campaign`` (list and detail), ``change_campaign`` (the refresh button: it
rewrites every mirror row), ``change_campaign_state`` (enable, disable) and
``generate_campaign_codes`` ("Generate codes"). Django's add, change and delete pages are off:
a campaign is created and edited in Voucherify.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from ..api.errors import APIError, VoucherifyError
from ..models import Campaign, Job, RefreshSubject, ValidationRule
from ..validation import storable_json
from . import confirmation, refresh_status, remote_actions, submit_once
from .mixins import VoucherifyModelAdmin, start_refresh
from .promotion_tiers import PromotionTierInline

if TYPE_CHECKING:
    from ..api.client import VoucherifyClient

TEMPLATES = "admin/django_voucherify/campaign/"
#: Enable/disable run in the request, one call per campaign: a larger selection is refused
#: (campaigns are few; a shop disabling hundreds at once is better served by Voucherify).
ACTION_LIMIT = 100


def describe_error(exc: VoucherifyError) -> str:
    """Voucherify's refusal (or unreachability) as one line for an admin message: the voucher
    admin's wording (:func:`.voucher_forms.remote_error`, with the request id), except that a
    404 names a campaign, not a voucher."""
    from .voucher_forms import remote_error

    if isinstance(exc, APIError) and exc.status == 404:
        text = _("Voucherify has no such campaign (deleted meanwhile?).")
        if exc.request_id:
            text += " " + _("(request id %(request_id)s)") % {"request_id": exc.request_id}
        return text
    return remote_error(exc)


class GenerateCodesForm(forms.Form):
    count = forms.IntegerField(label=gettext_lazy("Number of codes"))
    submission = submit_once.token_field()

    def clean_count(self) -> int:
        from ..jobs.campaign_codes import count_problem

        count: int = self.cleaned_data["count"]
        problem = count_problem(count)
        if problem:
            raise forms.ValidationError(problem)
        return count


def _pretty(value: Any) -> SafeString:
    return format_html(
        "<pre class='voucherify-json'>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False)
    )


@admin.register(Campaign)
class CampaignAdmin(VoucherifyModelAdmin):
    change_list_template = TEMPLATES + "change_list.html"
    change_form_template = TEMPLATES + "change_form.html"
    list_display = (
        "name",
        "campaign_type",
        "active",
        "vouchers_count",
        "start_date",
        "expiration_date",
        "generation_status",
        "last_error_key",
    )
    list_filter = ("campaign_type", "active", "type", "generation_status")
    search_fields = ("name", "voucherify_id", "category")
    actions = ("enable_selected", "disable_selected")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "name",
                    "voucherify_id",
                    "campaign_type",
                    "type",
                    "active",
                    "category",
                    "description",
                )
            },
        ),
        (gettext_lazy("Codes"), {"fields": ("vouchers_count", "generation_status", "code_config_display")}),
        (gettext_lazy("Validity"), {"fields": ("start_date", "expiration_date", "validity_display")}),
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
        "campaign_type",
        "type",
        "active",
        "category",
        "description",
        "vouchers_count",
        "generation_status",
        "code_config_display",
        "start_date",
        "expiration_date",
        "validity_display",
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
    def get_inlines(self, request: HttpRequest, obj: Campaign | None) -> list[type[Any]]:
        # A promotion's tiers, from their mirrors (shown to those with view_promotiontier).
        return [PromotionTierInline] if obj is not None and obj.campaign_type == "PROMOTION" else []

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        return False  # the detail page is read-only: campaigns are edited in Voucherify

    def has_delete_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        return False  # deleting only the mirror would be undone by the next refresh

    def has_refresh_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("django_voucherify.change_campaign"))

    def has_change_campaign_state_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("django_voucherify.change_campaign_state"))

    def has_generate_codes_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("django_voucherify.generate_campaign_codes"))

    @admin.display(description=gettext_lazy("code configuration"))
    def code_config_display(self, obj: Campaign) -> SafeString | str:
        return _pretty(obj.code_config) if obj.code_config else "-"

    @admin.display(description=gettext_lazy("validity windows"))
    def validity_display(self, obj: Campaign) -> SafeString | str:
        payload = obj.remote_payload or {}
        windows = {
            k: payload[k]
            for k in ("validity_timeframe", "validity_day_of_week", "validity_hours")
            if payload.get(k) is not None
        }
        return _pretty(windows) if windows else "-"

    @admin.display(description=gettext_lazy("Voucherify payload"))
    def payload_display(self, obj: Campaign) -> SafeString:
        return _pretty(obj.remote_payload)

    # -- pages --------------------------------------------------------------------------------
    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        info = self.opts.app_label, self.opts.model_name
        return [
            path("refresh/", wrap(require_POST(self.refresh_view)), name="{}_{}_refresh".format(*info)),
            *refresh_status.status_urls(self, RefreshSubject.CAMPAIGNS),
            path("<path:object_id>/generate/", wrap(self.generate_view), name="{}_{}_generate".format(*info)),
            *super().get_urls(),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {
            **refresh_status.context(self, RefreshSubject.CAMPAIGNS),
            "can_refresh": self.has_refresh_permission(request),
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
        obj = self.get_object(request, unquote(object_id))
        context = dict(extra_context or {})
        # Voucherify is asked only for someone allowed to see the page (Django checks later).
        if obj is not None and request.method == "GET" and self.has_view_permission(request, obj):
            context["rules"], context["rules_error"] = self._assigned_rules(obj)
            context["can_generate"] = obj.generates_codes and self.has_generate_codes_permission(request)
        return super().change_view(request, object_id, form_url, context)

    def _assigned_rules(self, campaign: Campaign) -> tuple[list[dict[str, Any]], str]:
        """The validation rules assigned to ``campaign``, asked of Voucherify (the assignments
        are its own); names and messages from the rule mirrors. An error is shown, not raised."""
        from ..checkout.cart import checkout_client

        try:
            # A person waits: checkout's short timeout, not the 20 s meant for workers (a hung
            # Voucherify held this page 20 s; the voucher page's look-ups do the same).
            page = checkout_client().validation_rules.list_all_assignments(
                related_object_id=campaign.voucherify_id, limit=100
            )
            listed = page.get("data") if isinstance(page, dict) else None
            if not isinstance(listed, list):
                # A 2xx in another shape: said on the page, not a 500 nor "no rules" (review 18).
                raise VoucherifyError("list-assignments answered in an unexpected shape")
        except VoucherifyError as exc:
            return [], describe_error(exc)
        # A NUL or a lone surrogate in an answer's text broke the mirrors' query (PostgreSQL
        # refuses a NUL even as a parameter) or the page's encoding: a 500 (review 3). Shown
        # replaced (U+FFFD), matched to no mirror.
        assignments = [storable_json(a) for a in listed if isinstance(a, dict)]
        known = {
            r.voucherify_id: r
            for r in ValidationRule.objects.filter(voucherify_id__in=[a.get("rule_id") for a in assignments])
        }
        rules = []
        for assignment in assignments:
            rule = known.get(str(assignment.get("rule_id")))
            rules.append({"assignment": assignment, "rule": rule})
        return rules, ""

    def refresh_view(self, request: HttpRequest) -> HttpResponse:
        """Queue a refresh of every campaign and validation rule (one at a time), as the voucher
        changelist's button does; the changelist shows its progress."""
        if not self.has_refresh_permission(request):
            raise PermissionDenied
        from ..tasks.vouchers import refresh_campaigns

        changelist = reverse("admin:django_voucherify_campaign_changelist")
        return start_refresh(self, request, RefreshSubject.CAMPAIGNS, refresh_campaigns, Campaign, changelist)

    def generate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The "Generate codes" form: starts a bulk job and opens its page (progress)."""
        campaign = self.get_object(request, unquote(object_id))
        if campaign is None:
            raise Http404(_("No campaign with this id."))
        if not (self.has_view_permission(request, campaign) and self.has_generate_codes_permission(request)):
            raise PermissionDenied
        if not campaign.generates_codes:
            self.message_user(request, _("This campaign has no codes to generate."), messages.ERROR)
            return HttpResponseRedirect(
                reverse("admin:django_voucherify_campaign_change", args=[campaign.pk])
            )
        form = GenerateCodesForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            from .. import jobs

            token = form.cleaned_data["submission"]
            claimed = submit_once.claim_for(self, request, token)  # UNGUARDED: the form again
            if claimed is submit_once.Claim.AGAIN:
                self.message_user(request, submit_once.ALREADY_SENT_MESSAGE, messages.WARNING)
                return self._after_generate(request, campaign, None)
            if claimed is submit_once.Claim.FIRST:
                with submit_once.released_on_error(token):
                    job = jobs.generate_campaign_codes(
                        campaign.voucherify_id,
                        form.cleaned_data["count"],
                        campaign_name=campaign.name,
                        started_by=request.user,
                    )
                self.message_user(
                    request, _("Code generation started as %(job)s.") % {"job": job}, messages.SUCCESS
                )
                return self._after_generate(request, campaign, job)
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "opts": self.opts,
            "original": campaign,
            "title": _("Generate codes in %(campaign)s") % {"campaign": campaign},
        }
        return TemplateResponse(request, TEMPLATES + "generate.html", context)

    def _after_generate(self, request: HttpRequest, campaign: Campaign, job: Job | None) -> HttpResponse:
        """Where a sent "Generate codes" form lands: the job's page (its progress), or the job list
        when the form was sent before (which job is not known); the campaign's page for staff who
        may not see jobs (the job pages would refuse them: a double click showed them a 403)."""
        if not request.user.has_perm("django_voucherify.view_job"):
            return HttpResponseRedirect(
                reverse("admin:django_voucherify_campaign_change", args=[campaign.pk])
            )
        if job is None:
            return HttpResponseRedirect(reverse("admin:django_voucherify_job_changelist"))
        return HttpResponseRedirect(reverse("admin:django_voucherify_job_change", args=[job.pk]))

    # -- actions ------------------------------------------------------------------------------
    @admin.action(
        description=gettext_lazy("Enable selected campaigns"), permissions=["change_campaign_state"]
    )
    def enable_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> HttpResponse | None:
        return self._set_active(request, queryset, True)

    @admin.action(
        description=gettext_lazy("Disable selected campaigns"), permissions=["change_campaign_state"]
    )
    def disable_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> HttpResponse | None:
        return self._set_active(request, queryset, False)

    def _set_active(
        self, request: HttpRequest, queryset: QuerySet[Campaign], active: bool
    ) -> HttpResponse | None:
        label = _("Enable") if active else _("Disable")
        if request.POST.get("post") != "yes":
            return confirmation.confirmation_page(
                self,
                request,
                queryset,
                action_label=label,
                order_by="name",
                headers=(_("Campaign"), _("Type"), _("Change")),
                row=lambda c: (c.name, c.campaign_type, _change(c, active)),
                intro=lambda count: (
                    ngettext(
                        "%(action)s: this campaign will change in Voucherify:",
                        "%(action)s: these %(counter)s campaigns will change in Voucherify:",
                        count,
                    )
                    % {"action": label, "counter": count}
                ),
                not_listed=lambda n: (
                    ngettext(
                        "…and %(counter)s more campaign matching the same filters.",
                        "…and %(counter)s more campaigns matching the same filters.",
                        n,
                    )
                    % {"counter": n}
                ),
                table_id="campaign-changes",
            )
        count = queryset.count()
        changed = _(
            "The selection changed since the confirmation page (%(shown)s campaigns then, %(now)s now); "
            "nothing was done. Please choose the action again."
        )
        if confirmation.selection_changed(
            self, request, count, lambda shown, now: changed % {"shown": shown, "now": now}, queryset
        ):
            return None
        if count > ACTION_LIMIT:
            self.message_user(
                request,
                _("Select at most %(limit)d campaigns at a time; nothing was done.")
                % {"limit": ACTION_LIMIT},
                messages.WARNING,
            )
            return None
        self._run(request, list(queryset.order_by("name")), active, label)
        return None

    def _run(self, request: HttpRequest, campaigns: list[Campaign], active: bool, label: str) -> None:
        from ..background import error_fields
        from ..vouchers import campaigns as campaign_mirrors

        def switch(campaign: Campaign, client: VoucherifyClient) -> None:
            call = client.campaigns.enable if active else client.campaigns.disable
            try:
                call(campaign.voucherify_id)
            except VoucherifyError as exc:
                Campaign.objects.filter(pk=campaign.pk).update(**error_fields(exc))
                raise

        def reread(campaign: Campaign, _answer: None, client: VoucherifyClient) -> None:
            try:  # the answer is an empty object: the mirror is re-read from Voucherify
                campaign_mirrors.refresh_one(campaign, client=client)
            except VoucherifyError as exc:
                # Voucherify made the change: the mirror takes it, and says why it was not re-read.
                done = "enabled" if active else "disabled"
                note = f"{done} in Voucherify; re-reading the campaign failed: {exc}"
                Campaign.objects.filter(pk=campaign.pk).update(active=active, **error_fields(exc, note))

        remote_actions.run_each(
            self,
            request,
            campaigns,
            call=switch,
            then=reread,
            describe_error=describe_error,
            failed=lambda name, message: (
                _("%(action)s failed for %(campaign)s: %(message)s")
                % {"action": label, "campaign": name, "message": message}
            ),
            not_sent=lambda names: (
                _(
                    "Voucherify cannot be reached now; nothing was sent for %(campaigns)s. "
                    "Please try again later."
                )
                % {"campaigns": names}
            ),
            done=lambda names: (
                _("%(action)s: done for %(campaigns)s.") % {"action": label, "campaigns": names}
            ),
        )


def _change(campaign: Campaign, active: bool) -> str:
    if active:
        return _("already active, stays active") if campaign.active else _("inactive → active")
    return _("active → inactive") if campaign.active else _("already inactive, stays inactive")
