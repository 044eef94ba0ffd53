"""Forms of the voucher admin: create/edit and balance. Validation here is local only.

Nothing in these forms calls Voucherify: ``VoucherAdmin.save_form`` sends a validated form,
and a refusal (409 ``duplicate_found``, 400 ``invalid_payload``...) comes back to the form
as :class:`RemoteRefusal`, which the re-rendered form shows as its error (see
``VoucherAdmin.changeform_view``). Validating a form twice therefore never calls twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from django import forms
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from .. import validation
from ..api.errors import APIError, VoucherifyError, outcome_unknown
from ..models import DiscountType, Voucher, VoucherType

#: Fields Voucherify fixes when the voucher is created (the spec's update body lacks them).
CREATE_ONLY = ("code", "type", "gift_amount", "loyalty_points", "campaign", "redemption_quantity")
DISCOUNT_VALUE_FIELD = {
    DiscountType.AMOUNT: "amount_off",
    DiscountType.PERCENT: "percent_off",
    DiscountType.FIXED: "fixed_amount",
}

DISCOUNT_CHOICES = [("", "---------"), *[(d.value, d.label) for d in DISCOUNT_VALUE_FIELD]]


def remote_error(exc: VoucherifyError) -> str:
    """The form error for a Voucherify refusal, with the request id support will ask for."""
    from ..vouchers.results import error_message  # the voucher service loads on first use, not at start-up

    text = error_message(exc)
    request_id = getattr(exc, "request_id", None)
    if request_id:
        text = _("%(message)s (request id %(request_id)s)") % {"message": text, "request_id": request_id}
    return str(text)


@dataclass(frozen=True)
class RemoteRefusal:
    """Voucherify's refusal of a form already sent: ``field`` (None: the whole form) and text."""

    field: str | None
    message: str

    @classmethod
    def from_error(cls, exc: VoucherifyError, *, change: bool = False) -> RemoteRefusal:
        """The form error for ``exc``; when the outcome is unknown (:func:`outcome_unknown`)
        it says that the create (``change`` False) or update may have happened, and whether
        sending the form again is safe, rather than only "could not be reached"."""
        field = "code" if isinstance(exc, APIError) and exc.key == "duplicate_found" else None
        text = remote_error(exc)
        if outcome_unknown(exc):
            # Neither call is repeated here: a create (POST) is never retried once sent, and
            # the person decides, told what a second send does.
            hint = (
                _(
                    "The change may have been applied all the same. Sending this form again is "
                    "safe: an update sent twice leaves the voucher as the form says."
                )
                if change
                else _(
                    "The voucher may have been created all the same: look it up in Voucherify "
                    "(or refresh the voucher list) before sending this form again. A second "
                    "send cannot create it twice: Voucherify refuses a code that already exists."
                )
            )
            text = f"{text} {hint}"
        return cls(field, text)


class VoucherForm(forms.ModelForm):  # type: ignore[type-arg]
    """Discount vouchers (amount, percent with limit, fixed), gift cards and loyalty cards.

    A discount kind the form does not manage (UNIT: unit type and effect) is shown but fixed,
    and left out of the update, so editing such a voucher's other fields works.
    """

    #: Set by the admin on the form class it re-renders after Voucherify refused the data.
    remote_refusal: ClassVar[RemoteRefusal | None] = None

    discount_type = forms.ChoiceField(
        label=capfirst(_("discount type")),  # as the model fields' labels are drawn
        required=False,
        choices=DISCOUNT_CHOICES,
    )

    class Meta:
        model = Voucher
        fields = (
            "code",
            "type",
            "discount_type",
            "amount_off",
            "percent_off",
            "amount_limit",
            "fixed_amount",
            "gift_amount",
            "loyalty_points",
            "campaign",
            "redemption_quantity",
            "start_date",
            "expiration_date",
            "category",
            "active",
            "additional_info",
            "metadata",
        )
        help_texts = {
            "amount_off": _("In minor units: 500 is 5.00."),
            "amount_limit": _("Largest discount a percent voucher gives, in minor units."),
            "metadata": _('A JSON object, e.g. {"channel": "newsletter"}.'),
            "campaign": _("Name or ID of the Voucherify campaign; a loyalty card needs one."),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.editing = self.instance.pk is not None
        if self.editing:
            for name in CREATE_ONLY:
                if name in self.fields:
                    self.fields[name].disabled = True
                    self.fields[name].help_text = _("Fixed once the voucher exists in Voucherify.")
            kind = self.instance.discount_type
            if self.instance.type == VoucherType.DISCOUNT and kind and kind not in DISCOUNT_VALUE_FIELD:
                self._fix_unmanaged_discount(kind)

    def _fix_unmanaged_discount(self, kind: str) -> None:
        field = self.fields["discount_type"]
        assert isinstance(field, forms.ChoiceField)
        label = DiscountType(kind).label if kind in DiscountType.values else kind
        field.choices = [*DISCOUNT_CHOICES, (kind, label)]
        field.disabled = True
        field.help_text = _(
            "This kind of discount is changed in Voucherify's dashboard; the other fields can be edited here."
        )
        for name in DISCOUNT_VALUE_FIELD.values():
            if name in self.fields:
                self.fields[name].disabled = True

    def clean_code(self) -> str:
        code = str(self.cleaned_data.get("code") or "")
        if self.editing:
            return code  # disabled: the stored code, whatever older rules let in
        if problem := validation.code_problem(code):
            raise forms.ValidationError(problem, code="invalid_code")
        return code

    def clean_metadata(self) -> Any:
        value = self.cleaned_data.get("metadata")
        if value in (None, ""):
            return {}
        if problem := validation.metadata_problem(value):
            raise forms.ValidationError(problem, code="invalid_metadata")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        vtype = data.get("type") or self.instance.type
        if vtype == VoucherType.DISCOUNT:
            self._clean_discount(data)
        elif vtype == VoucherType.GIFT and data.get("gift_amount") in (None, 0):
            self.add_error("gift_amount", _("A gift card needs an amount."))
        elif vtype == VoucherType.LOYALTY:
            if data.get("loyalty_points") is None:
                self.add_error("loyalty_points", _("A loyalty card needs its initial points (0 is fine)."))
            if not data.get("campaign") and not self.editing:
                # Voucherify's create-voucher: "For a loyalty card, a campaign name or ID is required."
                self.add_error("campaign", _("A loyalty card belongs to a campaign: give its name or ID."))
        start, end = data.get("start_date"), data.get("expiration_date")
        if start and end and end <= start:
            self.add_error("expiration_date", _("The expiration date must be after the start date."))
        if self.remote_refusal is not None and not self.errors:
            # Voucherify refused this very data when it was sent (no call is made here).
            self.add_error(self.remote_refusal.field, self.remote_refusal.message)
        return data

    def _clean_discount(self, data: dict[str, Any]) -> None:
        kind = data.get("discount_type")
        if not kind:
            self.add_error("discount_type", _("Choose how the voucher discounts."))
            return
        if kind not in DISCOUNT_VALUE_FIELD:
            return  # fixed on this form (see _fix_unmanaged_discount), left out of the update
        field = DISCOUNT_VALUE_FIELD[DiscountType(kind)]
        value = data.get(field)
        if value in (None, 0):
            self.add_error(field, _("This discount type needs a value."))
        elif kind == DiscountType.PERCENT and not 0 < value <= 100:
            self.add_error("percent_off", _("A percentage is between 0 and 100."))
        # Values of the other discount types would be sent along: clear them.
        for other in DISCOUNT_VALUE_FIELD.values():
            if other != field:
                data[other] = None
        if kind != DiscountType.PERCENT:
            data["amount_limit"] = None


def _issued_source_id(value: str) -> None:
    """A ``source_id`` as :class:`BalanceForm` issues them (``editing.SOURCE_ID_PATTERN``,
    looked up on first use so that importing the admin does not import the voucher service)."""
    from ..vouchers.editing import SOURCE_ID_PATTERN

    if not SOURCE_ID_PATTERN.search(value):
        raise forms.ValidationError(_("This form is damaged; reload the page."), code="invalid")


class BalanceForm(forms.Form):
    """Add to or remove from a gift card's credits or a loyalty card's points.

    ``source_id`` is issued when the form is rendered and posted back unchanged, so a second
    send of the same form is recognised (``editing.adjust_balance``) instead of crediting twice.
    """

    source_id = forms.CharField(
        validators=[_issued_source_id],
        widget=forms.HiddenInput,
        error_messages={
            "invalid": _("This form is damaged; reload the page."),
            "required": _("This form is damaged; reload the page."),
        },
    )

    # capfirst: the labels share their (lower-case) messages with model fields, and a plain
    # form's label is shown as given ("operation:" beside the admin's capitalised labels).
    operation = forms.ChoiceField(
        label=capfirst(_("operation")), choices=[("add", _("Add")), ("remove", _("Remove"))]
    )
    amount = forms.IntegerField(
        label=capfirst(_("amount")),
        min_value=1,
        help_text=_("Gift cards: minor units (500 is 5.00). Loyalty cards: points."),
    )
    reason = forms.CharField(label=capfirst(_("reason")), max_length=200)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from ..vouchers.editing import new_balance_source_id

        kwargs.setdefault("initial", {"source_id": new_balance_source_id()})
        super().__init__(*args, **kwargs)

    def signed_amount(self) -> int:
        amount = int(self.cleaned_data["amount"])
        return amount if self.cleaned_data["operation"] == "add" else -amount
