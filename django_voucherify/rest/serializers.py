"""Request and response serializers of the checkout endpoints; bad input is refused with a
field-level message before anything is sent to Voucherify."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from ..checkout.payloads import MAX_REDEEMABLES

#: Longest code accepted (Voucherify codes are short; this only stops abuse).
MAX_CODE_LENGTH = 100


class StrictIntegerField(serializers.IntegerField):
    """An integer in minor units: ``10.5``, ``"10"``, ``true`` are refused, not coerced."""

    default_error_messages = {"invalid": _("A whole number of minor units (cents) is required.")}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(super().to_internal_value(data))


class CodesField(serializers.ListField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            child=serializers.CharField(max_length=MAX_CODE_LENGTH, allow_blank=False, trim_whitespace=True),
            min_length=1, max_length=MAX_REDEEMABLES, **kwargs,
        )  # fmt: skip
        self.error_messages.update({
            "min_length": _("Enter at least one voucher code."),
            "max_length": _("At most {max_length} voucher codes can be used together."),
        })  # fmt: skip

    def to_internal_value(self, data: Any) -> list[str]:
        codes: list[str] = super().to_internal_value(data)
        if len(set(codes)) != len(codes):
            raise serializers.ValidationError(_("Each voucher code can be entered only once."))
        return codes


class OrderItemSerializer(serializers.Serializer[dict[str, Any]]):
    source_id = serializers.CharField(max_length=200, help_text=_("The product or SKU source id."))
    related_object = serializers.ChoiceField(choices=("product", "sku"), default="sku")
    quantity = StrictIntegerField(min_value=1)
    price = StrictIntegerField(min_value=0, help_text=_("Unit price in minor units."))


class ValidateOrderSerializer(serializers.Serializer[dict[str, Any]]):
    source_id = serializers.CharField(max_length=200, required=False)
    amount = StrictIntegerField(min_value=0, required=False, help_text=_("Minor units (cents)."))
    items = OrderItemSerializer(many=True, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "amount" not in attrs and not attrs.get("items"):
            raise serializers.ValidationError(_("Give the order's amount or its items."))
        return attrs


class ValidateRequestSerializer(serializers.Serializer[dict[str, Any]]):
    codes = CodesField()
    order = ValidateOrderSerializer()
    lock = serializers.BooleanField(default=False, help_text=_("Hold the codes in a session."))


class RedeemRequestSerializer(serializers.Serializer[dict[str, Any]]):
    codes = CodesField()
    order_source_id = serializers.CharField(
        max_length=200, help_text=_("An order the shop created; its amount and items are read on "
                                    "the server, never taken from the request."))
    session_key = serializers.CharField(max_length=200, required=False)


class RollbackRequestSerializer(serializers.Serializer[dict[str, Any]]):
    reason = serializers.CharField(max_length=200, required=False, default="rolled back by staff")


class CodeResultSerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    applicable = serializers.BooleanField()
    discount_amount = serializers.IntegerField()
    reason_key = serializers.CharField(allow_null=True)
    reason = serializers.CharField()


class ValidationResponseSerializer(serializers.Serializer[Any]):
    valid = serializers.BooleanField()
    codes = CodeResultSerializer(many=True)
    amount = serializers.IntegerField()
    discount_amount = serializers.IntegerField()
    total_amount = serializers.IntegerField()
    session_key = serializers.CharField(allow_null=True)
    unavailable = serializers.BooleanField()
    notice = serializers.CharField()


class LedgerSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="pk")
    order_source_id = serializers.CharField()
    codes = serializers.ListField(child=serializers.CharField())
    state = serializers.CharField()
    amount = serializers.IntegerField(allow_null=True)
    discount_amount = serializers.IntegerField()
    total_amount = serializers.IntegerField(allow_null=True)
    parent_redemption_id = serializers.CharField()
    redemption_ids = serializers.ListField(child=serializers.CharField())
    rollback_pending = serializers.BooleanField()


class RedeemResponseSerializer(serializers.Serializer[Any]):
    applied = serializers.BooleanField()
    notice = serializers.CharField()
    amount = serializers.IntegerField()
    discount_amount = serializers.IntegerField()
    total_amount = serializers.IntegerField()
    redemption = LedgerSerializer()


class ErrorSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField()
    key = serializers.CharField(required=False)
