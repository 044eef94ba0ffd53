"""Request and response serializers of the checkout endpoints; bad input is refused with a
field-level message before anything is sent to Voucherify."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.fields import empty

from ..checkout.cart import (
    CARDS,
    GIFT_CARD,
    KINDS,
    LOYALTY_CARD,
    MAX_AMOUNT,
    MAX_ITEMS,
    MAX_QUANTITY,
    MAX_REDEEMABLES,
    Redeemable,
)
from ..checkout.offers import DEFAULT_OFFERS, MAX_OFFERS
from ..models.ledger import CheckoutRedemption
from ..validation import (
    MAX_CAMPAIGN_LENGTH,
    MAX_CODE_LENGTH,
    MAX_SOURCE_ID_LENGTH,
    campaign_problem,
    code_problem,
    source_id_problem,
)


class StrictIntegerField(serializers.IntegerField):
    """An integer in minor units: ``10.5``, ``"10"``, ``true`` are refused, not coerced."""

    default_error_messages = {
        "invalid": _("A whole number of minor units (cents) is required."),
        "max_value": _("At most {max_value}."),
    }

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(super().to_internal_value(data))


class StrictCountField(StrictIntegerField):
    """A count (how many to list): a JSON integer, ``"5"`` and ``5.0`` refused, not coerced."""

    default_error_messages = {"invalid": _("A whole number is required.")}


class CodeField(serializers.CharField):
    """A voucher code: text (numbers are not silently turned into codes), at most 100
    characters, no control, zero-width or bidi-override characters."""

    default_error_messages = {"not_text": _("A voucher code must be text.")}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=MAX_CODE_LENGTH, allow_blank=False, trim_whitespace=True, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_text")
        code = str(super().to_internal_value(data))
        if problem := code_problem(code):
            raise serializers.ValidationError(problem)
        return code


class CodesField(serializers.ListField):
    """Voucher codes, distinct, at least one unless the body names promotion ``tiers``, gift or
    loyalty cards (``gift_cards``, ``loyalty_cards``) or asks for the ``automatic`` promotions
    (then it may be empty or left out); all of them together are checked by
    :func:`check_redeemables`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            child=CodeField(), max_length=MAX_REDEEMABLES, required=False, default=list, **kwargs
        )
        self.error_messages.update(
            {"max_length": _("At most {max_length} voucher codes can be used together.")}
        )

    def _tiers_given(self) -> bool:
        """Whether something else may fill the request: tiers, or the automatic promotions
        (``automatic`` exactly true; any other value is that field's own error)."""
        data = getattr(self.root, "initial_data", None)
        return isinstance(data, Mapping) and (
            any(bool(data.get(name)) for name in ("tiers", *CARD_FIELDS)) or data.get("automatic") is True
        )

    def get_value(self, dictionary: Mapping[str, Any]) -> Any:
        value = super().get_value(dictionary)
        if value is empty and not self._tiers_given():
            return []  # nothing to redeem: this field's own error, reported beside the others
        return value

    def to_internal_value(self, data: Any) -> list[str]:
        codes: list[str] = super().to_internal_value(data)
        if not codes and not self._tiers_given():
            raise serializers.ValidationError(_("Enter at least one voucher code."))
        if len(set(codes)) != len(codes):
            raise serializers.ValidationError(_("Each voucher code can be entered only once."))
        return codes


class TierIdField(CodeField):
    """A promotion tier id (``promo_...``): text under the rule of codes."""

    default_error_messages = {"not_text": _("A promotion tier id must be text.")}


class TiersField(serializers.ListField):
    """Promotion tier ids, distinct, redeemed after the codes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            child=TierIdField(),
            max_length=MAX_REDEEMABLES,
            required=False,  # left out of the validated data when not sent (the plain check's shape)
            help_text=_("Promotion tier ids (automatic promotions) to apply after the codes."),
            **kwargs,
        )
        self.error_messages.update(
            {"max_length": _("At most {max_length} promotion tiers can be used together.")}
        )

    def to_internal_value(self, data: Any) -> list[str]:
        tiers: list[str] = super().to_internal_value(data)
        if len(set(tiers)) != len(tiers):
            raise serializers.ValidationError(_("Each promotion tier can be given only once."))
        return tiers


#: The request fields naming the codes that pay (sent after every discount), and what each is.
CARD_FIELDS = {"gift_cards": GIFT_CARD, "loyalty_cards": LOYALTY_CARD}


class CardsField(serializers.ListField):
    """Codes that pay (gift cards, or loyalty cards paying with points), distinct: sent after
    every discount, each paying what the discounts leave (no amount: Voucherify uses what the
    card and the order allow)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            child=CodeField(),
            max_length=MAX_REDEEMABLES,
            required=False,  # left out of the validated data when not sent (the plain check's shape)
            **kwargs,
        )
        self.error_messages.update(
            {"max_length": _("At most {max_length} voucher codes can be used together.")}
        )

    def to_internal_value(self, data: Any) -> list[str]:
        codes: list[str] = super().to_internal_value(data)
        if len(set(codes)) != len(codes):
            raise serializers.ValidationError(_("Each voucher code can be entered only once."))
        return codes


def gift_cards_field() -> CardsField:
    return CardsField(help_text=_("Gift card codes: they pay what every discount leaves, last."))


def loyalty_cards_field() -> CardsField:
    return CardsField(help_text=_("Loyalty card codes paying with points: last, like gift cards."))


def redeemables_of(body: Mapping[str, Any]) -> list[str | Redeemable]:
    """The ``codes`` of a validated body followed by its gift and loyalty cards, marked (the
    checkout service sends them after every discount)."""
    codes: list[str | Redeemable] = list(body.get("codes") or ())
    for name, card in CARD_FIELDS.items():
        codes += [Redeemable(code, card=card) for code in body.get(name) or ()]
    return codes


def named_in(body: Mapping[str, Any]) -> list[str]:
    """Every id a validated body names: its codes, gift and loyalty cards, then its promotion
    tiers (each drawn from the unknown-codes budget, and counted by the anonymous limit)."""
    named = list(body.get("codes") or ())
    for name in CARD_FIELDS:
        named += body.get(name) or ()
    return [*named, *(body.get("tiers") or ())]


class StrictBooleanField(serializers.BooleanField):
    """A JSON ``true`` or ``false``: ``"yes"``, ``1``, ``"on"`` are refused, not coerced (the
    codes field reads the raw value to know whether codes may be left out: both must agree)."""

    default_error_messages = {"invalid": _("Must be true or false.")}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


def automatic_field() -> serializers.BooleanField:
    return StrictBooleanField(
        required=False,  # left out of the validated data when not sent (the plain check's shape)
        help_text=_(
            "Also apply the automatic promotions the order qualifies for (one qualifications "
            "call first); codes may then be left out."
        ),
    )


def check_redeemables(attrs: dict[str, Any]) -> dict[str, Any]:
    """At least one code, card or tier (or ``automatic``), at most :data:`MAX_REDEEMABLES` of
    them together, a code named once (the errors are the ``codes`` field's: that is where a
    shopper types)."""
    codes = [*(attrs.get("codes") or ()), *(c for name in CARD_FIELDS for c in attrs.get(name) or ())]
    if len(set(codes)) != len(codes):
        raise serializers.ValidationError({"codes": [_("Each voucher code can be entered only once.")]})
    count = len(codes) + len(attrs.get("tiers") or ())
    if count == 0 and not attrs.get("automatic"):
        raise serializers.ValidationError({"codes": [_("Enter at least one voucher code.")]})
    if count > MAX_REDEEMABLES:
        message = _("At most %(max)d voucher codes and promotion tiers can be used together.")
        raise serializers.ValidationError({"codes": [message % {"max": MAX_REDEEMABLES}]})
    return attrs


class SourceIdField(serializers.CharField):
    """A customer, order or product source id, checked by the shared validator."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=MAX_SOURCE_ID_LENGTH, trim_whitespace=True, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = str(super().to_internal_value(data))
        if problem := source_id_problem(value):
            raise serializers.ValidationError(problem)
        return value


class OrderItemSerializer(serializers.Serializer[dict[str, Any]]):
    source_id = SourceIdField(help_text=_("The product or SKU source id."))
    related_object = serializers.ChoiceField(choices=("product", "sku"), default="sku")
    quantity = StrictIntegerField(min_value=1, max_value=MAX_QUANTITY)
    price = StrictIntegerField(min_value=0, max_value=MAX_AMOUNT, help_text=_("Unit price in minor units."))


class ValidateOrderSerializer(serializers.Serializer[dict[str, Any]]):
    source_id = SourceIdField(required=False)
    amount = StrictIntegerField(
        min_value=0, max_value=MAX_AMOUNT, required=False, help_text=_("Minor units (cents).")
    )
    # The length is checked before any line is validated (a huge list costs nothing to refuse).
    items: serializers.ListSerializer[dict[str, Any]] = serializers.ListSerializer(
        child=OrderItemSerializer(),
        required=False,
        max_length=MAX_ITEMS,
        error_messages={"max_length": _("An order has at most {max_length} lines.")},
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "amount" not in attrs and not attrs.get("items"):
            raise serializers.ValidationError(_("Give the order's amount or its items."))
        lines_total = sum(item["quantity"] * item["price"] for item in attrs.get("items") or ())
        if lines_total > MAX_AMOUNT:
            raise serializers.ValidationError(
                _("The order total is too large (at most %(max)d minor units).") % {"max": MAX_AMOUNT}
            )
        return attrs


class ValidateRequestSerializer(serializers.Serializer[dict[str, Any]]):
    codes = CodesField()
    gift_cards = gift_cards_field()
    loyalty_cards = loyalty_cards_field()
    tiers = TiersField()
    automatic = automatic_field()
    order = ValidateOrderSerializer()
    lock = serializers.BooleanField(
        default=False, help_text=_("Hold the codes in a validation session (signed-in users only).")
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return check_redeemables(attrs)


SESSION_KEY_MAX_LENGTH = 200


class RedeemRequestSerializer(serializers.Serializer[dict[str, Any]]):
    codes = CodesField()
    order_source_id = SourceIdField(
        help_text=_(
            "An order the shop created; its amount and items are read on "
            "the server, never taken from the request."
        )
    )
    session_key = serializers.CharField(max_length=SESSION_KEY_MAX_LENGTH, required=False)
    gift_cards = gift_cards_field()
    loyalty_cards = loyalty_cards_field()
    tiers = TiersField()
    automatic = automatic_field()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return check_redeemables(attrs)


#: The keys a redeem body may have (any other key, ``tiers``, ``automatic`` and the cards
#: included, sends it to the serializer).
_REDEEM_KEYS = frozenset({"codes", "order_source_id", "session_key"})


def _plain(value: Any, max_length: int) -> bool:
    """Printable ASCII text, not empty, no surrounding spaces, at most ``max_length``: what
    every field of the serializer accepts unchanged (nothing to trim, no character its
    validators look at)."""
    return (
        type(value) is str
        and 0 < len(value) <= max_length
        and value.isascii()
        and value.isprintable()
        and value == value.strip()
    )


def redeem_request(data: Any) -> dict[str, Any]:
    """``RedeemRequestSerializer(data=data)``'s validated data, or its ``ValidationError``.

    A body of plain values (printable ASCII codes and source id, distinct codes, the known keys
    only), which is every shop's ordinary request, is checked by :func:`plain_redeem_request`
    in a few microseconds: the same rules, the same result (a property test holds the two
    equal). Anything else goes through the serializer, which explains what is wrong field by
    field. Building and running the serializer cost about a tenth of the redeem's CPU in the
    view."""
    body = plain_redeem_request(data)
    if body is not None:
        return body
    serializer = RedeemRequestSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    validated: dict[str, Any] = serializer.validated_data
    return validated


def plain_redeem_request(data: Any) -> dict[str, Any] | None:
    """The validated redeem body when ``data`` is made of plain values only, else None (the
    serializer decides)."""
    if type(data) is not dict or not data.keys() <= _REDEEM_KEYS:
        return None
    codes, order_source_id = data.get("codes"), data.get("order_source_id")
    if not (
        type(codes) is list
        and 0 < len(codes) <= MAX_REDEEMABLES
        and all(_plain(code, MAX_CODE_LENGTH) and code_problem(code) is None for code in codes)
        and len(set(codes)) == len(codes)
        and _plain(order_source_id, MAX_SOURCE_ID_LENGTH)
        and source_id_problem(order_source_id) is None
    ):
        return None
    body: dict[str, Any] = {"codes": list(codes), "order_source_id": order_source_id}
    if "session_key" in data:
        if not _plain(data["session_key"], SESSION_KEY_MAX_LENGTH):
            return None
        body["session_key"] = data["session_key"]
    return body


class CampaignField(serializers.CharField):
    """A campaign's name or Voucherify id, checked by the shared validator."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=MAX_CAMPAIGN_LENGTH, trim_whitespace=False, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError(_("A campaign must be text."))
        value = str(super().to_internal_value(data))
        if problem := campaign_problem(value):
            raise serializers.ValidationError(problem)
        return value


class PublishRequestSerializer(serializers.Serializer[dict[str, Any]]):
    campaign = CampaignField(help_text=_("The campaign's name or id."))
    customer_source_id = SourceIdField(
        required=False,
        help_text=_("Whom to give the code to: yourself when left out; anyone else needs a permission."),
    )


class PublishResponseSerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    campaign = serializers.CharField(help_text=_("The campaign's id."))
    campaign_name = serializers.CharField(help_text=_("The campaign's name."))
    customer_source_id = serializers.CharField()
    publication_id = serializers.CharField()
    new = serializers.BooleanField()


class RollbackRequestSerializer(serializers.Serializer[dict[str, Any]]):
    reason = serializers.CharField(max_length=200, required=False, default="rolled back by staff")


class CodeResultSerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    applicable = serializers.BooleanField()
    discount_amount = serializers.IntegerField()
    reason_key = serializers.CharField(allow_null=True)
    reason = serializers.CharField()
    kind = serializers.ChoiceField(choices=KINDS, help_text=_("voucher, or promotion_tier (code is its id)"))
    card = serializers.ChoiceField(
        choices=CARDS,
        allow_null=True,
        help_text=_("gift_card or loyalty_card when the code pays (pass it in gift_cards or loyalty_cards)"),
    )


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
    tiers = serializers.ListField(child=serializers.CharField())
    state = serializers.CharField()
    amount = serializers.IntegerField(allow_null=True)
    discount_amount = serializers.IntegerField()
    total_amount = serializers.IntegerField(allow_null=True)
    parent_redemption_id = serializers.CharField()
    redemption_ids = serializers.ListField(child=serializers.CharField())
    rollback_pending = serializers.BooleanField()


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _strs(values: Any) -> list[str | None] | None:
    return None if values is None else [_str(value) for value in values]


def ledger_data(row: CheckoutRedemption) -> dict[str, Any]:
    """What ``LedgerSerializer(row).data`` is, without building a serializer for every answer
    (DRF deep-copies a serializer's declared fields per instance: a tenth of a redeem's CPU in
    the view). The serializer stays the schema; a test holds the two equal."""
    return {
        "id": _int(row.pk),
        "order_source_id": _str(row.order_source_id),
        "codes": _strs(row.codes),
        "tiers": _strs(row.tiers),
        "state": _str(row.state),
        "amount": _int(row.amount),
        "discount_amount": _int(row.discount_amount),
        "total_amount": _int(row.total_amount),
        "parent_redemption_id": _str(row.parent_redemption_id),
        "redemption_ids": _strs(row.redemption_ids),
        "rollback_pending": bool(row.rollback_pending),
    }


class RedeemResponseSerializer(serializers.Serializer[Any]):
    applied = serializers.BooleanField()
    notice = serializers.CharField()
    amount = serializers.IntegerField()
    discount_amount = serializers.IntegerField()
    total_amount = serializers.IntegerField()
    redemption = LedgerSerializer()


class OffersRequestSerializer(serializers.Serializer[dict[str, Any]]):
    order = ValidateOrderSerializer()
    limit = StrictCountField(
        min_value=1, max_value=MAX_OFFERS, default=DEFAULT_OFFERS, help_text=_("How many offers, at most.")
    )


class OfferSerializer(serializers.Serializer[Any]):
    kind = serializers.CharField(help_text=_('"voucher" or "promotion_tier".'))
    id = serializers.CharField()
    code = serializers.CharField(allow_null=True, help_text=_("The code to enter (none for a promotion)."))
    name = serializers.CharField()
    banner = serializers.CharField()
    discount_amount = serializers.IntegerField(help_text=_("What it takes off this cart alone."))
    automatic = serializers.BooleanField(help_text=_("Applies without a code."))
    campaign_id = serializers.CharField(allow_null=True)
    campaign_name = serializers.CharField(allow_null=True)


class OffersResponseSerializer(serializers.Serializer[Any]):
    offers = OfferSerializer(many=True)
    amount = serializers.IntegerField()
    has_more = serializers.BooleanField()
    unavailable = serializers.BooleanField()
    notice = serializers.CharField()


class ErrorSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField()
    key = serializers.CharField(required=False)
