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

from ..models.customers import Customer
from ..models.orders import Order

#: Voucherify redeems at most 30 redeemables in one request.
MAX_REDEEMABLES = 30


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
        if not stripped:
            raise ValueError("A voucher code cannot be empty.")
        if stripped in seen:
            continue
        seen.add(stripped)
        result.append(Redeemable(stripped, item.gift_credits, item.loyalty_points))
    if not result:
        raise ValueError("At least one voucher code is needed.")
    if len(result) > MAX_REDEEMABLES:
        raise ValueError(f"At most {MAX_REDEEMABLES} voucher codes can be used together.")
    return result


def order_body(order: OrderInput) -> dict[str, Any]:
    """The ``order`` object of the request (``source_id``, ``amount``, ``items``)."""
    if isinstance(order, Order):
        body = order.to_voucherify()
        body.pop("status", None)  # the order's state is the shop's; redeeming does not change it
        body.pop("customer", None)
        return body
    body = {k: v for k, v in dict(order).items() if v is not None}
    for key in ("amount",):
        if key in body and (not isinstance(body[key], int) or isinstance(body[key], bool)):
            raise ValueError("Order amounts are integers in minor units (cents).")
    return body


def order_source_id(order: OrderInput) -> str:
    source_id = order.source_id if isinstance(order, Order) else order.get("source_id")
    if not source_id:
        raise ValueError("The order needs a source_id: the ledger allows one redemption per order.")
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


def request_body(codes: Sequence[Redeemable], order: OrderInput, customer: CustomerInput,
                 **extra: Any) -> dict[str, Any]:
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
