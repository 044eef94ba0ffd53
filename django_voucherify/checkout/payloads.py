"""Turning a shop's codes, order and customer into the stackable validate/redeem request body.

Inputs are deliberately loose so views can pass what they have: codes as strings or
:class:`Redeemable` (gift-card credits, loyalty points), the order as the ``Order`` mirror or a
mapping (``source_id``, ``amount`` and/or ``items``), the customer as the ``Customer`` mirror, a
``source_id`` string or a mapping.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from ..conf import MAX_REDEEMABLES as MAX_REDEEMABLES  # Voucherify redeems at most 30 per request
from ..models.customers import Customer
from ..models.orders import Order
from ..validation import code_problem, source_id_problem  # the one validator of every door
from .errors import InvalidCheckoutInput

#: Upper bounds of what a cart can carry (abuse, overflow in Voucherify's arithmetic): amounts
#: and unit prices in minor units (10**12 cents = 10 billion in the currency), quantities per
#: line, lines per order.
MAX_AMOUNT = 10**12
MAX_QUANTITY = 10**6
MAX_ITEMS = 500


@dataclass(frozen=True)
class Redeemable:
    """A code with the credits (gift card) or points (loyalty card) to use from it."""

    code: str
    gift_credits: int | None = None
    loyalty_points: int | None = None

    def to_voucherify(self) -> dict[str, Any]:
        item: dict[str, Any] = {"object": "voucher", "id": self.code}
        if self.gift_credits is not None:
            item["gift"] = {"credits": self.gift_credits}
        if self.loyalty_points is not None:
            item["reward"] = {"points": self.loyalty_points}
        return item


CodeInput = str | Redeemable
OrderInput = Order | Mapping[str, Any]
CustomerInput = Customer | str | Mapping[str, Any] | None


def redeemables(codes: Sequence[CodeInput]) -> list[Redeemable]:
    """Normalise ``codes``: stripped, no blanks, no duplicates, 1 to 30 of them."""
    result: list[Redeemable] = []
    seen: set[str] = set()
    for code in codes:
        item = code if isinstance(code, Redeemable) else Redeemable(str(code))
        stripped = item.code.strip()
        if problem := code_problem(stripped):
            raise InvalidCheckoutInput(problem)
        if stripped in seen:
            continue
        seen.add(stripped)
        result.append(Redeemable(stripped, item.gift_credits, item.loyalty_points))
    if not result:
        raise InvalidCheckoutInput(_("Enter at least one voucher code."))
    if len(result) > MAX_REDEEMABLES:
        raise InvalidCheckoutInput(
            _("At most %(max)d voucher codes can be used together.") % {"max": MAX_REDEEMABLES}
        )
    return result


def _whole_minor_units(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def order_body(order: OrderInput) -> dict[str, Any]:
    """The ``order`` object of the request (``source_id``, ``amount``, ``items``)."""
    if isinstance(order, Order):
        body = order.to_voucherify()
        body.pop("status", None)  # the order's state is the shop's; redeeming does not change it
        body.pop("customer", None)
        return body
    body = {k: v for k, v in dict(order).items() if v is not None}
    if "amount" in body:
        if not _whole_minor_units(body["amount"]) or body["amount"] < 0:
            raise InvalidCheckoutInput(
                _("Order amounts are whole numbers of minor units (cents), zero or more.")
            )
        if body["amount"] > MAX_AMOUNT:
            raise InvalidCheckoutInput(
                _("The order amount is too large (at most %(max)d minor units).") % {"max": MAX_AMOUNT}
            )
    if len(body.get("items") or ()) > MAX_ITEMS:
        raise InvalidCheckoutInput(_("An order has at most %(max)d lines.") % {"max": MAX_ITEMS})
    return body


def order_source_id(order: OrderInput) -> str:
    source_id = order.source_id if isinstance(order, Order) else order.get("source_id")
    if not source_id:
        raise InvalidCheckoutInput(
            _("The order needs a source_id: the ledger allows one redemption per order.")
        )
    if problem := source_id_problem(str(source_id)):
        raise InvalidCheckoutInput(problem)
    return str(source_id)


def customer_body(customer: CustomerInput) -> dict[str, Any] | None:
    if customer is None:
        return None
    if isinstance(customer, Customer):
        return {"source_id": customer.source_id}
    if isinstance(customer, str):
        return {"source_id": customer}
    return dict(customer)


def customer_source_id(customer: CustomerInput) -> str:
    body = customer_body(customer) or {}
    return str(body.get("source_id") or "")


def request_body(
    codes: Sequence[Redeemable], order: OrderInput, customer: CustomerInput, **extra: Any
) -> dict[str, Any]:
    """The ``StackableValidateRedeemBase`` body shared by validate and redeem."""
    body: dict[str, Any] = {
        "redeemables": [c.to_voucherify() for c in codes],
        "order": order_body(order),
    }
    customer_obj = customer_body(customer)
    if customer_obj:
        body["customer"] = customer_obj
    body.update({k: v for k, v in extra.items() if v is not None})
    return body
