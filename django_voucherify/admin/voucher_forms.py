"""Forms of the voucher admin: create/edit (validated here, then sent to Voucherify) and balance.

Voucherify's refusals (409 ``duplicate_found``, 400 ``invalid_payload``...) come back as form
errors with the request id, never as a 500 page. The remote call happens in ``_post_clean``,
after Django's own validation of the form and the model passed, so nothing is sent for input
that is wrong locally.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from ..api.errors import APIError, VoucherifyError
from ..models import DiscountType, Voucher, VoucherType
from ..vouchers import editing
from ..vouchers.results import error_message

#: Fields Voucherify fixes when the voucher is created (the spec's update body lacks them).
CREATE_ONLY = ("code", "type", "gift_amount", "loyalty_points", "redemption_quantity")
DISCOUNT_VALUE_FIELD = {
    DiscountType.AMOUNT: "amount_off",
    DiscountType.PERCENT: "percent_off",
    DiscountType.FIXED: "fixed_amount",
}


def remote_error(exc: VoucherifyError) -> str:
    """The form error for a Voucherify refusal, with the request id support will ask for."""
    text = error_message(exc)
    request_id = getattr(exc, "request_id", None)
    if request_id:
        text = _("%(message)s (request id %(request_id)s)") % {"message": text, "request_id": request_id}
    return str(text)


class VoucherForm(forms.ModelForm):  # type: ignore[type-arg]
    """Discount vouchers (amount, percent with limit, fixed), gift cards and loyalty cards."""

    discount_type = forms.ChoiceField(
        label=_("discount type"), required=False,
        choices=[("", "---------"), *[(d.value, d.label) for d in DISCOUNT_VALUE_FIELD]],
    )  # fmt: skip

    class Meta:
        model = Voucher
        fields = (
            "code", "type", "discount_type", "amount_off", "percent_off", "amount_limit", "fixed_amount",
            "gift_amount", "loyalty_points", "redemption_quantity", "start_date", "expiration_date",
            "category", "active", "additional_info", "metadata",
        )  # fmt: skip
        help_texts = {
            "amount_off": _("In minor units: 500 is 5.00."),
            "amount_limit": _("Largest discount a percent voucher gives, in minor units."),
            "metadata": _('A JSON object, e.g. {"channel": "newsletter"}.'),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.editing = self.instance.pk is not None
        if self.editing:
            for name in CREATE_ONLY:
                self.fields[name].disabled = True
                self.fields[name].help_text = _("Fixed once the voucher exists in Voucherify.")

    def clean_metadata(self) -> Any:
        value = self.cleaned_data.get("metadata")
        if value in (None, ""):
            return {}
        if not isinstance(value, dict):
            raise forms.ValidationError(_("Metadata must be a JSON object."))
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        vtype = data.get("type") or self.instance.type
        if vtype == VoucherType.DISCOUNT:
            self._clean_discount(data)
        elif vtype == VoucherType.GIFT and data.get("gift_amount") in (None, 0):
            self.add_error("gift_amount", _("A gift card needs an amount."))
        elif vtype == VoucherType.LOYALTY and data.get("loyalty_points") is None:
            self.add_error("loyalty_points", _("A loyalty card needs its initial points (0 is fine)."))
        start, end = data.get("start_date"), data.get("expiration_date")
        if start and end and end <= start:
            self.add_error("expiration_date", _("The expiration date must be after the start date."))
        return data

    def _clean_discount(self, data: dict[str, Any]) -> None:
        kind = data.get("discount_type")
        if not kind:
            self.add_error("discount_type", _("Choose how the voucher discounts."))
            return
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

    def _post_clean(self) -> None:
        # Django's hook that builds self.instance and runs the model's validation; the remote
        # call must come after it (clean() runs before the instance exists).
        super()._post_clean()  # type: ignore[misc]
        if self.errors:
            return
        try:
            if self.editing:
                editing.update(self.instance)
            else:
                editing.create(self.instance)
        except VoucherifyError as exc:
            field = "code" if isinstance(exc, APIError) and exc.key == "duplicate_found" else None
            self.add_error(field, remote_error(exc))


class BalanceForm(forms.Form):
    """Add to or remove from a gift card's credits or a loyalty card's points."""

    operation = forms.ChoiceField(label=_("operation"), choices=[("add", _("Add")), ("remove", _("Remove"))])
    amount = forms.IntegerField(label=_("amount"), min_value=1,
                                help_text=_("Gift cards: minor units (500 is 5.00). Loyalty cards: points."))
    reason = forms.CharField(label=_("reason"), max_length=200)

    def signed_amount(self) -> int:
        amount = int(self.cleaned_data["amount"])
        return amount if self.cleaned_data["operation"] == "add" else -amount
