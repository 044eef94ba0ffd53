"""Voucher admin: find, create, edit, enable, disable, delete vouchers and adjust card balances.

Every change goes to Voucherify first and the mirror is written from its answer (flow 4 in
docs/architecture.md). Enabling/disabling (the actions and the form's ``active``), deleting and
balance changes need the custom permissions ``change_voucher_state``, ``delete_voucher_remote``
and ``adjust_voucher_balance``; selections larger than ``VOUCHER_ACTION_INLINE_LIMIT`` and full
refreshes run in Celery, never in the request.

Create/edit: the form validates locally; ``save_form`` (reached only with a valid form and the
add/change permission) makes the one Voucherify call. A refusal cannot be turned into a form
error there (Django's view has already decided to save), so ``save_form`` raises
:class:`VoucherifyRefused`, the atomic block of the first pass rolls back, and
``changeform_view`` renders the same POST again with a form class that carries the refusal as
its error: Django's own view then shows the form with the error, and nothing is sent twice.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from ..api.errors import APIError, TransportError, VoucherifyError
from ..errors import DjangoVoucherifyError
from ..models import RefreshSubject, Voucher, VoucherType
from . import refresh_status
from .mixins import VoucherifyModelAdmin, start_refresh
from .money import format_amount
from .voucher_actions import run_action
from .voucher_forms import BalanceForm, RemoteRefusal, VoucherForm, remote_error

if TYPE_CHECKING:
    from ..vouchers.actions import Action

TEMPLATES = "admin/django_voucherify/voucher/"
#: Where ``changeform_view`` leaves a refusal for the second, rendering pass (see module doc).
REFUSAL_ATTR = "_voucherify_refusal"


class VoucherifyRefused(DjangoVoucherifyError):
    """Raised by ``save_form`` when Voucherify refused a valid form; nothing was saved."""

    def __init__(self, refusal: RemoteRefusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


@admin.register(Voucher)
class VoucherAdmin(VoucherifyModelAdmin):
    form = VoucherForm
    change_list_template = TEMPLATES + "change_list.html"
    change_form_template = TEMPLATES + "change_form.html"
    list_display = ("code_cell", "value", "usage", "active", "expires", "category_cell")
    list_display_links = ("code_cell",)

    class Media:
        css = {"all": ("django_voucherify/voucherify_admin.css",)}
        js = ("django_voucherify/live_status.js", "django_voucherify/refresh_progress.js")

    list_filter = ("type", "active", "category", "campaign", ("last_error_key", admin.EmptyFieldListFilter))
    search_fields = ("code", "voucherify_id")
    actions = ("enable_selected", "disable_selected", "delete_selected_remote", "delete_permanently_selected")
    readonly_fields = (
        "voucherify_id",
        "redeemed_quantity",
        "gift_balance",
        "loyalty_balance",
        "refreshed_at",
        "last_error",
        "last_error_key",
        "last_request_id",
        "remote_payload",
    )
    fieldsets = (
        (None, {"fields": ("code", "type", "active", "category", "additional_info", "metadata")}),
        (
            gettext_lazy("Discount"),
            {"fields": ("discount_type", "amount_off", "percent_off", "amount_limit", "fixed_amount")},
        ),
        (gettext_lazy("Gift and loyalty cards"), {"fields": ("gift_amount", "loyalty_points", "campaign")}),
        (
            gettext_lazy("Validity and limits"),
            {"fields": ("start_date", "expiration_date", "redemption_quantity")},
        ),
    )
    status_fieldset = (gettext_lazy("In Voucherify"), {"fields": readonly_fields, "classes": ("collapse",)})

    # -- changelist columns ---------------------------------------------------------------
    # Chosen to fit a 1280 px window with the admin's navigation sidebar and the filters open
    # (tests/admin_vouchers/test_browser.py measures it): the kind of voucher shows in its value
    # ("-5.00 EUR", "20%", "fixed 9.99 EUR", "100 points", a card's balance under it) and stays a
    # filter; a sync error is a mark beside the code (and a filter), not a column mostly "-".
    # Amounts in the shop's currency when VOUCHERIFY['CURRENCY'] is set (admin.money), else
    # in minor units as Voucherify keeps them; loyalty points are points.
    @admin.display(description=gettext_lazy("value"))
    def value(self, obj: Voucher) -> SafeString:
        main, detail = self._value_parts(obj)
        if not detail:
            return format_html("{}", main)
        return format_html('{}<br><span class="voucherify-quiet">{}</span>', main, detail)

    @staticmethod
    def _value_parts(obj: Voucher) -> tuple[str, str]:
        """The value and what qualifies it (a percentage's limit, a card's balance)."""
        if obj.type == VoucherType.GIFT:
            left = card_balance(obj, obj.gift_balance)
            return format_amount(obj.gift_amount or 0), _("balance %(left)s") % {"left": left} if left else ""
        if obj.type == VoucherType.LOYALTY:
            points = _("%(points)s points") % {"points": obj.loyalty_points or 0}
            if obj.loyalty_balance is None:
                return points, ""
            return points, _("balance %(left)s") % {"left": card_balance(obj, obj.loyalty_balance)}
        if obj.discount_type == "PERCENT":
            percent = format(Decimal(obj.percent_off or 0).normalize(), "f")  # 20.00 -> 20, 12.50 -> 12.5
            if not obj.amount_limit:
                return f"{percent}%", ""
            return f"{percent}%", _("max %(limit)s") % {"limit": format_amount(obj.amount_limit)}
        if obj.discount_type == "FIXED":
            return _("fixed %(amount)s") % {"amount": format_amount(obj.fixed_amount)}, ""
        if obj.discount_type == "UNIT":
            return _("%(units)s free unit(s)") % {"units": obj.unit_off}, ""
        return _("-%(amount)s") % {"amount": format_amount(obj.amount_off or 0)}, ""

    # "used", not "used / limit": the header set the column's width, twice its "3 / 100".
    @admin.display(description=gettext_lazy("used"))
    def usage(self, obj: Voucher) -> str:
        limit = "∞" if obj.redemption_quantity is None else str(obj.redemption_quantity)
        return f"{obj.redeemed_quantity} / {limit}"

    @admin.display(description=gettext_lazy("category"), ordering="category")
    def category_cell(self, obj: Voucher) -> SafeString | str:
        if not obj.category:
            return "-"
        cut = '<span class="voucherify-cut is-category" title="{}">{}</span>'
        return format_html(cut, obj.category, obj.category)

    # -- forms and pages -----------------------------------------------------------------
    def get_fieldsets(self, request: HttpRequest, obj: Voucher | None = None) -> Any:
        return (*self.fieldsets, self.status_fieldset) if obj else self.fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Voucher | None = None) -> Any:
        fields = tuple(self.readonly_fields) if obj else ()
        if not self.has_change_voucher_state_permission(request):
            fields = ("active", *fields)  # enabling/disabling is its own permission (not sent)
        return fields

    def get_form(
        self, request: HttpRequest, obj: Voucher | None = None, change: bool = False, **kwargs: Any
    ) -> type[ModelForm]:  # type: ignore[type-arg]
        form = super().get_form(request, obj, change, **kwargs)
        refusal = getattr(request, REFUSAL_ATTR, None)
        if refusal is not None:
            return type(form.__name__, (form,), {"remote_refusal": refusal})
        return form

    def has_delete_permission(self, request: HttpRequest, obj: Voucher | None = None) -> bool:
        # Deleting only the mirror would be undone by the next refresh: deletion goes through
        # the Voucherify actions below instead (this also hides Django's "delete selected").
        return False

    def has_change_voucher_state_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("django_voucherify.change_voucher_state")

    def has_delete_voucher_remote_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("django_voucherify.delete_voucher_remote")

    def has_adjust_balance_permission(self, request: HttpRequest, obj: Voucher) -> bool:
        return (
            obj.type != VoucherType.DISCOUNT
            and self.has_view_or_change_permission(request, obj)
            and request.user.has_perm("django_voucherify.adjust_voucher_balance")
        )

    def save_form(self, request: HttpRequest, form: Any, change: bool) -> Voucher:
        """Send the validated form to Voucherify and save the mirror from its answer."""
        from ..checkout.cart import checkout_client
        from ..vouchers import editing  # the voucher service loads on first use, not at start-up

        voucher: Voucher = form.save(commit=False)
        include_active = self.has_change_voucher_state_permission(request)
        # A person waits: the interactive timeout (CHECKOUT_TIMEOUT), not READ_TIMEOUT and the
        # retries meant for workers. A create (POST) is still never retried once sent; an
        # unknown outcome is said as such on the form (RemoteRefusal.from_error).
        client = checkout_client()
        try:
            if change:
                return editing.update(voucher, include_active=include_active, client=client)
            return editing.create(voucher, include_active=include_active, client=client)
        except VoucherifyError as exc:
            raise VoucherifyRefused(RemoteRefusal.from_error(exc, change=change)) from exc
        except ValueError as exc:  # a code no URL can carry (clean_code refuses those first)
            raise VoucherifyRefused(RemoteRefusal("code", str(exc))) from exc

    def save_model(self, request: HttpRequest, obj: Voucher, form: Any, change: bool) -> None:
        """Nothing left to do: ``save_form`` saved the mirror from Voucherify's answer."""

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except VoucherifyRefused as refused:
            setattr(request, REFUSAL_ATTR, refused.refusal)  # read by get_form: see the module doc
            return super().changeform_view(request, object_id, form_url, extra_context)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        from ..checkout.cart import checkout_client
        from ..vouchers import editing

        obj = self.get_object(request, unquote(object_id))
        context = dict(extra_context or {})
        # Voucherify is asked only for someone allowed to see the page (Django checks later).
        if obj is not None and request.method == "GET" and self.has_view_or_change_permission(request, obj):
            # A person waits: checkout's short timeout, not the 20 s meant for workers (a hung
            # Voucherify held this page 41 s, past a WSGI server's worker timeout).
            context["activity"] = editing.activity(obj, client=checkout_client())
            context["has_balance"] = obj.type != VoucherType.DISCOUNT
            context["can_adjust_balance"] = self.has_adjust_balance_permission(request, obj)
        return super().change_view(request, object_id, form_url, context)

    @admin.display(description=gettext_lazy("expires"), ordering="expiration_date")
    def expires(self, obj: Voucher) -> SafeString | str:
        # The date only (the time is on the voucher's page and in the title): a full
        # "Jan. 1, 2020, midnight" pushed the last columns out of sight.
        if obj.expiration_date is None:
            return "-"
        when = timezone.localtime(obj.expiration_date)
        return format_html(
            '<span title="{}">{}</span>',
            formats.date_format(when, "DATETIME_FORMAT"),
            formats.date_format(when, "SHORT_DATE_FORMAT"),
        )

    @admin.display(description=gettext_lazy("code"), ordering="code")
    def code_cell(self, obj: Voucher) -> SafeString:
        # A long code is cut with an ellipsis (voucherify_admin.css) and shown whole on hover,
        # so it never pushes the other columns off-screen.
        code = format_html('<span class="voucherify-code" title="{}">{}</span>', obj.code, obj.code)
        if not obj.last_error_key:
            return code
        # The last Voucherify error, as a mark (the "last error key" filter finds them all).
        return format_html(
            '{} <span class="voucherify-attention" title="{}">⚠</span>',
            code,
            _("Last Voucherify error: %(key)s") % {"key": obj.last_error_key},
        )

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        info = self.opts.app_label, self.opts.model_name
        return [
            path("refresh/", wrap(require_POST(self.refresh_view)), name="{}_{}_refresh".format(*info)),
            *refresh_status.status_urls(self, RefreshSubject.VOUCHERS),
            path("<path:object_id>/balance/", wrap(self.balance_view), name="{}_{}_balance".format(*info)),
            *super().get_urls(),
        ]

    def refresh_view(self, request: HttpRequest) -> HttpResponse:
        """Record a QUEUED refresh run and start it in Celery once the request's transaction
        commits; the changelist then shows the run's progress and outcome, live (``refresh_status``)."""
        if not self.has_change_permission(request):
            return HttpResponse(status=403)
        from ..tasks.vouchers import refresh_vouchers

        changelist = reverse("admin:django_voucherify_voucher_changelist")
        return start_refresh(self, request, RefreshSubject.VOUCHERS, refresh_vouchers, Voucher, changelist)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {
            **refresh_status.context(self, RefreshSubject.VOUCHERS),
            "can_refresh": self.has_change_permission(request),  # the button's own check
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    def balance_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        voucher = self.get_object(request, unquote(object_id))
        if voucher is None:
            raise Http404(_("No voucher with this id."))
        if not self.has_adjust_balance_permission(request, voucher):
            raise PermissionDenied
        form = BalanceForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            response = self._adjust_balance(request, voucher, form)
            if response is not None:
                return response
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "voucher": voucher,
            "balance": card_balance(voucher, voucher.balance),
            "form": form,
            "title": _("Adjust the balance of %(code)s") % {"code": voucher.code},
        }
        return TemplateResponse(request, TEMPLATES + "balance.html", context)

    def _adjust_balance(
        self, request: HttpRequest, voucher: Voucher, form: BalanceForm
    ) -> HttpResponse | None:
        """Send the change; a redirect once it is done (or was done before), None on a form error."""
        from ..checkout.cart import checkout_client
        from ..vouchers import editing

        done_url = reverse("admin:django_voucherify_voucher_change", args=[voucher.pk])
        try:
            # A person waits: the interactive timeout, as in save_form. The balance POST is
            # never retried once sent; the form's source_id makes a second send safe.
            result = editing.adjust_balance(
                voucher,
                form.signed_amount(),
                reason=form.cleaned_data["reason"],
                source_id=form.cleaned_data["source_id"],
                client=checkout_client(),
            )
        except editing.BalanceAlreadyApplied as applied:
            self.message_user(
                request,
                _("This balance change was already applied (transaction %(id)s); it was not sent again.")
                % {"id": applied.transaction.get("id")},
                messages.WARNING,
            )
            return HttpResponseRedirect(done_url)
        except editing.BalanceGuardUnavailable:
            form.add_error(
                None,
                _(
                    "The shop's cache cannot be reached now, so a second send of this change could "
                    "not be ruled out; nothing was sent. Please try again in a moment."
                ),
            )
            return None
        except editing.BalanceMayBeInFlight:
            form.add_error(
                None,
                _(
                    "An earlier send of this form may still be under way at Voucherify; nothing "
                    "was sent now. Reload the card's page in a few minutes and look at its "
                    "transactions before sending this form again."
                ),
            )
            return None
        except VoucherifyError as exc:
            text = remote_error(exc)
            if isinstance(exc, TransportError) or (isinstance(exc, APIError) and exc.status >= 500):
                text += " " + _(
                    "Sending this form again is safe: a change that went through is not applied twice."
                )
            form.add_error(None, text)
            return None
        except ValueError as exc:  # a code no URL can carry
            form.add_error(None, str(exc))
            return None
        self.message_user(
            request,
            _("Balance of %(code)s is now %(balance)s.")
            % {"code": voucher.code, "balance": card_balance(voucher, result.get("balance"))},
            messages.SUCCESS,
        )
        return HttpResponseRedirect(done_url)

    # -- actions -------------------------------------------------------------------------
    @admin.action(description=gettext_lazy("Enable selected vouchers"), permissions=["change_voucher_state"])
    def enable_selected(self, request: HttpRequest, queryset: QuerySet[Voucher]) -> HttpResponse | None:
        return run_action(self, request, queryset, _action("ENABLE"))

    @admin.action(description=gettext_lazy("Disable selected vouchers"), permissions=["change_voucher_state"])
    def disable_selected(self, request: HttpRequest, queryset: QuerySet[Voucher]) -> HttpResponse | None:
        return run_action(self, request, queryset, _action("DISABLE"))

    @admin.action(
        description=gettext_lazy("Delete selected vouchers (to Voucherify's bin)"),
        permissions=["delete_voucher_remote"],
    )
    def delete_selected_remote(
        self, request: HttpRequest, queryset: QuerySet[Voucher]
    ) -> HttpResponse | None:
        return run_action(self, request, queryset, _action("DELETE"))

    @admin.action(
        description=gettext_lazy("Delete selected vouchers permanently"),
        permissions=["delete_voucher_remote"],
    )
    def delete_permanently_selected(
        self, request: HttpRequest, queryset: QuerySet[Voucher]
    ) -> HttpResponse | None:
        return run_action(self, request, queryset, _action("DELETE_PERMANENTLY"))


def _action(name: str) -> Action:
    """The voucher service's ``Action`` member ``name`` (imported here, on first use)."""
    from ..vouchers.actions import Action

    return Action[name]


def card_balance(voucher: Voucher, balance: object) -> str:
    """A card's ``balance`` as staff read it: a gift card's in the shop's currency (minor units
    without ``CURRENCY``), a loyalty card's in points; ``-`` when it is unknown. The balance page
    and its message showed the bare number (``2500``) where the list said ``25.00 EUR``."""
    if isinstance(balance, bool) or not isinstance(balance, int):
        return "-" if balance is None else str(balance)
    if voucher.type == VoucherType.LOYALTY:
        return _("%(points)s points") % {"points": balance}
    return format_amount(balance)
