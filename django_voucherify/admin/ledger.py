"""Checkout ledger admin: every redemption attempt, read-only, with a rollback action."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from ..models.ledger import CheckoutRedemption, LedgerState
from . import confirmation
from .cells import cut
from .ledger_filters import RollbackPendingFilter
from .mixins import VoucherifyModelAdmin
from .money import format_amount

CONFIRM_TEMPLATE = "admin/django_voucherify/checkoutredemption/rollback_confirmation.html"
#: Rows the rollback action rolls back in the request (each one call, at most CHECKOUT_TIMEOUT);
#: the rest of a selection is asked for and sent from Celery.
ROLLBACK_INLINE_LIMIT = 10


@admin.register(CheckoutRedemption)
class CheckoutRedemptionAdmin(VoucherifyModelAdmin):
    # Five columns that fit the room a 1280 px window leaves beside the admin's sidebar and the
    # filters (about 630 px), as the webhook events' do: ten pushed "total discount" and the rest
    # off the right edge. The order (its codes and tiers on a second line), the state (with the
    # rollback-pending and needs-attention flags), the amounts (discount, then the amount to
    # pay), the last error (its request id on a second line) and when. Long values are cut with
    # an ellipsis and shown whole on hover (title); the change page shows every field.
    list_display = ("order_cell", "state_summary", "amounts", "error_cell", "created_at")
    list_filter = ("state", "needs_attention", RollbackPendingFilter, "created_at")
    search_fields = (
        "order_source_id",
        "customer_source_id",
        "parent_redemption_id",
        "last_request_id",
        "reference",
    )
    date_hierarchy = "created_at"
    actions = ("rollback_selected",)

    class Media:
        css = {"all": ("django_voucherify/voucherify_admin.css",)}

    readonly_fields = [f.name for f in CheckoutRedemption._meta.get_fields() if getattr(f, "concrete", False)]
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "reference",
                    "order_source_id",
                    "order",
                    "customer_source_id",
                    "codes",
                    "tiers",
                    "state",
                    "created_at",
                    "updated_at",
                    "redeemed_at",
                )
            },
        ),
        (
            _("Voucherify"),
            {
                "fields": (
                    "parent_redemption_id",
                    "redemption_ids",
                    "amount",
                    "discount_amount",
                    "total_amount",
                    "last_error_key",
                    "last_error",
                    "last_request_id",
                    "reconcile_attempts",
                    "response",
                )
            },
        ),
        (
            _("Background work"),
            {
                "fields": (
                    "needs_attention",
                    "attention_reason",
                    "due_at",
                    "lease_until",
                    "late_check_at",
                )
            },
        ),
        (
            _("Rollback"),
            {
                "fields": (
                    "rollback_reason",
                    "rollback_requested_at",
                    "rollback_attempts",
                    "rollback_error",
                    "rollback_ids",
                    "rolled_back_at",
                )
            },
        ),
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # rows are written by checkout only

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the ledger is the audit trail of redemptions

    @admin.display(description=_("order / codes"), ordering="order_source_id")
    def order_cell(self, obj: CheckoutRedemption) -> SafeString:
        """The order, then the codes and the promotion tiers redeemed with them."""
        codes = ", ".join([*obj.codes, *obj.tiers])
        return format_html("{}<br>{}", cut(obj.order_source_id, "is-order"), cut(codes, "is-codes"))

    @admin.display(description=_("state"), ordering="state")
    def state_summary(self, obj: CheckoutRedemption) -> SafeString:
        flags = [
            format_html('<br><span class="voucherify-quiet">{}</span>', _("rollback pending"))
            if obj.rollback_pending
            else "",
            format_html('<br><strong class="voucherify-attention">{}</strong>', _("needs attention"))
            if obj.needs_attention
            else "",
        ]
        return format_html('<span class="voucherify-state">{}</span>{}{}', obj.get_state_display(), *flags)

    # In the shop's currency like every other amount of the admin (admin/money.py): the raw
    # fields showed Voucherify's minor units, "410" for a 4.10 EUR discount.
    @admin.display(description=_("discount / to pay"), ordering="discount_amount")
    def amounts(self, obj: CheckoutRedemption) -> SafeString:
        return format_html(
            '<span class="voucherify-amount">{}</span><br>'
            '<span class="voucherify-amount voucherify-quiet">{}</span>',
            format_amount(obj.discount_amount),
            format_amount(obj.total_amount),
        )

    @admin.display(description=_("last error"), ordering="last_error_key")
    def error_cell(self, obj: CheckoutRedemption) -> SafeString:
        if not (obj.last_error_key or obj.last_request_id):
            return format_html("{}", "-")
        return format_html(
            "{}<br>{}", cut(obj.last_error_key, "is-error"), cut(obj.last_request_id, "is-request")
        )

    @admin.action(description=_("Roll back selected redemptions in Voucherify"), permissions=["change"])
    def rollback_selected(
        self, request: HttpRequest, queryset: QuerySet[CheckoutRedemption]
    ) -> HttpResponse | None:
        eligible = queryset.filter(state__in=(LedgerState.SUCCEEDED, LedgerState.UNKNOWN))
        if not eligible.exists():
            self.message_user(
                request, _("Only succeeded (or unknown) redemptions can be rolled back."), messages.WARNING
            )
            return None
        if request.POST.get("post") != "yes":
            # The admin's one confirmation page: a sample of a large selection and its count,
            # "select all" posted back as select_across (one hidden input per row made the
            # confirming POST a 400 past DATA_UPLOAD_MAX_NUMBER_FIELDS).
            return confirmation.confirmation_page(
                self,
                request,
                eligible,
                action_label=gettext("Roll back"),
                order_by="pk",
                headers=(gettext("Order"), gettext("Codes"), gettext("Discount"), gettext("State")),
                row=lambda r: (
                    r.order_source_id,
                    ", ".join(r.codes),
                    format_amount(r.discount_amount),
                    r.get_state_display(),
                ),
                intro=lambda count: (
                    ngettext(
                        "This redemption will be rolled back in Voucherify: the codes become usable "
                        "again and the discount is withdrawn from the order.",
                        "These %(counter)s redemptions will be rolled back in Voucherify: the codes "
                        "become usable again and the discounts are withdrawn from the orders.",
                        count,
                    )
                    % {"counter": count}
                ),
                not_listed=lambda n: (
                    ngettext(
                        "…and %(counter)s more redemption matching the same filters.",
                        "…and %(counter)s more redemptions matching the same filters.",
                        n,
                    )
                    % {"counter": n}
                ),
                table_id="rollback-rows",
                template=CONFIRM_TEMPLATE,
                # The rows that cannot be rolled back were dropped from the page without a word.
                warning=confirmation.left_as_they_are(
                    queryset.count(),
                    eligible.count(),
                    lambda left: (
                        ngettext(
                            "%(counter)s selected redemption is not succeeded or unknown: it cannot be "
                            "rolled back and is left as it is.",
                            "%(counter)s selected redemptions are not succeeded or unknown: they cannot "
                            "be rolled back and are left as they are.",
                            left,
                        )
                        % {"counter": left}
                    ),
                ),
            )
        changed = _(
            "The selection changed since the confirmation page (%(shown)s redemptions then, %(now)s "
            "now); nothing was done. Please choose the action again."
        )
        if confirmation.selection_changed(
            self,
            request,
            eligible.count(),
            lambda shown, now: changed % {"shown": shown, "now": now},
            eligible,
        ):
            return None
        # The checkout service loads on first use.
        from ..checkout.errors import InvalidCheckoutInput, RollbackFailed
        from ..checkout.rollback import check_reason, defer_rollbacks, retry_failed_rollback, rollback

        reason = (request.POST.get("reason") or "").strip()[:200] or "rolled back by staff"
        try:
            check_reason(reason)  # a NUL in the reason was a 500 page, nothing rolled back
        except InvalidCheckoutInput as refused_reason:
            self.message_user(request, refused_reason.message, messages.ERROR)
            return None
        # A person waits: ROLLBACK_INLINE_LIMIT rows are rolled back in the request, one call
        # each; the others are asked for and sent from Celery (a thousand calls in the request
        # outlasted any WSGI worker's timeout, which killed it half done with nothing said).
        rows = list(eligible.order_by("pk")[:ROLLBACK_INLINE_LIMIT])
        later = eligible.exclude(pk__in=[r.pk for r in rows])
        # Every row asked for before the first call, not after the last: a request killed
        # during the calls (the WSGI worker's timeout, when Voucherify answers each just within
        # CHECKOUT_TIMEOUT) left the rows not yet called never asked for, with nothing said.
        # Those called here are only marked: the sweep sends them if this request dies.
        deferred = defer_rollbacks(later, reason) if later.exists() else 0
        defer_rollbacks(
            CheckoutRedemption.objects.filter(pk__in=[r.pk for r in rows]), reason, send_at_most=0
        )
        done = pending = refused = 0
        for position, row in enumerate(rows):
            try:
                result = rollback(row, reason)  # checkout's client: CHECKOUT_TIMEOUT, a person waits
            except RollbackFailed as exc:
                result = retry_failed_rollback(exc)
                if not exc.refused:
                    # Voucherify cannot be reached now: no call for the rows left (each would
                    # wait the timeout). They are asked for and sent from Celery, as this one is.
                    left = [r.pk for r in rows[position + 1 :]]
                    if left:
                        deferred += defer_rollbacks(CheckoutRedemption.objects.filter(pk__in=left), reason)
                    pending += 1
                    break
            if result.state == LedgerState.ROLLED_BACK:
                done += 1
            elif result.rollback_error and not result.rollback_pending:
                refused += 1
            else:
                pending += 1
        if done:
            self.message_user(
                request,
                ngettext("%d redemption rolled back.", "%d redemptions rolled back.", done) % done,
                messages.SUCCESS,
            )
        if pending:
            self.message_user(
                request,
                ngettext(
                    "%d rollback could not be confirmed yet; it is retried in the background.",
                    "%d rollbacks could not be confirmed yet; they are retried in the background.",
                    pending,
                )
                % pending,
                messages.WARNING,
            )
        if deferred:
            self.message_user(
                request,
                ngettext(
                    "%d more rollback was asked for; it is sent in the background.",
                    "%d more rollbacks were asked for; they are sent in the background.",
                    deferred,
                )
                % deferred,
                messages.INFO,
            )
        if refused:
            self.message_user(
                request,
                ngettext(
                    "%d rollback was refused; see its last error.",
                    "%d rollbacks were refused; see their last error.",
                    refused,
                )
                % refused,
                messages.ERROR,
            )
        return None
