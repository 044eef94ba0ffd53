"""Order totals and discount maths for the sandbox, as pure functions over dicts.

Contract
--------
* Money is always an ``int`` in minor units (cents).  Values read from the wire
  that may arrive as JSON numbers (``amount_off``, ``percent_off``...) are
  converted with :func:`to_minor`; floats never leave this module.
* :func:`start` turns a request ``order`` into an :class:`OrderCalc` working
  set; each ``apply_*`` call mutates it in requested (stacking) order and
  returns what that redeemable took off; :func:`render` produces the spec's
  ``OrderCalculated`` fields.
* Nothing here touches the sandbox state or takes a lock: the callers hold
  ``state.lock`` around the whole check-and-mutate sequence.

Calculation rules (from the ``redeem-stacked-discounts`` description):
``total_amount = amount - total_discount_amount``,
``discount_amount = previous_discount_amount + applied_discount_amount``,
``items_discount_amount = sum(items.discount_amount)``,
``total_discount_amount = discount_amount + items_discount_amount`` and the
``applied`` variants restricted to this request.  A discount never exceeds
what is left of the order (or of the item) at the point it is applied.

Rounding: percentages are computed with :class:`decimal.Decimal` and rounded
half-up to the nearest minor unit (Voucherify documents values "multiplied by
100 to precisely represent 2 decimal places"; half-up is what its dashboard
shows for e.g. 12.5% of 1001 = 125.125 -> 125).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

ITEM_EFFECTS = frozenset(
    {
        "APPLY_TO_ITEMS",
        "APPLY_TO_ITEMS_BY_QUANTITY",
        "APPLY_TO_ITEMS_PROPORTIONALLY",
        "APPLY_TO_ITEMS_PROPORTIONALLY_BY_QUANTITY",
    }
)


def to_minor(value: Any) -> int:
    """Convert a JSON number (int, float or numeric string) to integer minor units.

    Raises ``ValueError`` for anything that is not a finite number, so callers
    can turn it into ``invalid_payload``.
    """
    if isinstance(value, bool):
        raise ValueError("boolean is not an amount")
    if isinstance(value, int):
        return value
    try:
        dec = Decimal(str(value))
    except Exception as exc:
        raise ValueError(f"not a number: {value!r}") from exc
    if not dec.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return int(dec.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def percent_of(amount: int, percent: Any) -> int:
    """``amount * percent / 100`` rounded half-up to an int (see module docstring)."""
    pct = Decimal(str(percent))
    return int((Decimal(amount) * pct / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def item_amount(item: Mapping[str, Any]) -> int | None:
    """An item's amount: ``amount`` when given, else ``price * quantity`` (quantity
    defaults to 1), else ``None`` when neither is known."""
    if item.get("amount") is not None:
        return to_minor(item["amount"])
    price = item.get("price")
    if price is None:
        return None
    quantity = item.get("quantity")
    return to_minor(price) * (int(quantity) if quantity is not None else 1)


def order_amount(order: Mapping[str, Any] | None) -> int | None:
    """The order amount: ``amount`` when given, else the sum of item amounts
    (``None`` when there is no order, no amount and no item with an amount)."""
    if not order:
        return None
    if order.get("amount") is not None:
        return to_minor(order["amount"])
    amounts = [item_amount(i) for i in order.get("items") or ()]
    known = [a for a in amounts if a is not None]
    return sum(known) if known else None


@dataclass(slots=True)  # slots: made on every validation and redeem, without an instance dict
class ItemCalc:
    """Working state of one order line."""

    source: dict[str, Any]
    amount: int
    quantity: int
    previous_discount: int = 0
    applied: int = 0

    @property
    def remaining(self) -> int:
        return max(0, self.amount - self.previous_discount - self.applied)


@dataclass(slots=True)  # slots: made on every validation and redeem, without an instance dict
class OrderCalc:
    """Working state of an order during one validate/redeem request."""

    amount: int | None
    items: list[ItemCalc] = field(default_factory=list)
    previous_discount: int = 0
    applied: int = 0  # order-level discount applied in this request

    # Read ~12 times per redeem (``remaining``, snapshots, rendering): no generator for an
    # order without items, and a list (inlined) for one with them.
    @property
    def items_previous(self) -> int:
        items = self.items
        return sum([i.previous_discount for i in items]) if items else 0

    @property
    def items_applied(self) -> int:
        items = self.items
        return sum([i.applied for i in items]) if items else 0

    @property
    def remaining(self) -> int:
        """What is left to pay; 0 when the amount is unknown."""
        if self.amount is None:
            return 0
        spent = self.previous_discount + self.applied + self.items_previous + self.items_applied
        return max(0, self.amount - spent)


def start(
    order: Mapping[str, Any] | None,
    previous_discount: int = 0,
) -> OrderCalc:
    """Build the working set for ``order``.

    ``previous_discount`` is the order-level discount already recorded on a
    stored order linked by id/source_id (so ``discount_amount`` accumulates
    across requests as documented); item-level ``discount_amount`` values sent
    by the caller are ignored (Voucherify computes them).
    """
    items: list[ItemCalc] = []
    for raw in (order or {}).get("items") or ():
        amt = item_amount(raw)
        qty = raw.get("quantity")
        items.append(
            ItemCalc(
                source=dict(raw),
                amount=amt if amt is not None else 0,
                quantity=int(qty) if qty is not None else 1,
            )
        )
    return OrderCalc(amount=order_amount(order), items=items, previous_discount=previous_discount)


def _cap_order_level(calc: OrderCalc, wanted: int) -> int:
    """Apply an order-level reduction of at most ``wanted``; returns what applied."""
    applied = max(0, min(wanted, calc.remaining))
    calc.applied += applied
    return applied


def _spread(calc: OrderCalc, items: Sequence[ItemCalc], total: int, weights: Sequence[int]) -> int:
    """Split ``total`` over ``items`` proportionally to ``weights`` (largest
    remainder, so shares sum exactly), each share capped by the item's and the
    order's remaining amount.  Returns the amount actually applied."""
    weight_sum = sum(weights)
    if total <= 0 or weight_sum <= 0:
        return 0
    shares = [total * w // weight_sum for w in weights]
    leftover = total - sum(shares)
    # Hand the rounding leftover to the items with the largest fractional part.
    order_idx = sorted(range(len(items)), key=lambda i: -((total * weights[i]) % weight_sum))
    for i in order_idx[:leftover]:
        shares[i] += 1
    applied = 0
    for item, share in zip(items, shares, strict=True):
        applied += _apply_to_item(calc, item, share)
    return applied


def _apply_to_item(calc: OrderCalc, item: ItemCalc, wanted: int) -> int:
    """Take at most ``wanted`` off ``item``, never more than the item or the
    order has left."""
    take = max(0, min(wanted, item.remaining, calc.remaining))
    item.applied += take
    return take


def matches(item: Mapping[str, Any], applicable_to: Sequence[Mapping[str, Any]] | None) -> bool:
    """Whether ``item`` is targeted by an ``applicable_to`` list (each entry has
    ``object`` product/sku and ``id`` or ``source_id``).  ``None``/empty means
    every item (sandbox simplification, documented)."""
    if not applicable_to:
        return True
    for target in applicable_to:
        kind = target.get("object", "product")
        ids = {target.get("id"), target.get("source_id")} - {None}
        if kind == "sku":
            keys = {item.get("sku_id"), (item.get("sku") or {}).get("source_id")}
        else:
            keys = {item.get("product_id"), (item.get("product") or {}).get("source_id")}
        if item.get("related_object", "product") == kind:
            keys.add(item.get("source_id"))
        if ids & (keys - {None}):
            return True
    return False


def discount_value(discount: Mapping[str, Any], base: int) -> int:
    """The raw (uncapped) order-level discount a definition yields on ``base``."""
    kind = discount.get("type")
    if kind == "AMOUNT":
        return to_minor(discount.get("amount_off") or 0)
    if kind == "PERCENT":
        value = percent_of(base, discount.get("percent_off") or 0)
        if discount.get("amount_limit") is not None:
            value = min(value, to_minor(discount["amount_limit"]))
        return value
    if kind == "FIXED":
        return max(0, base - to_minor(discount.get("fixed_amount") or 0))
    return 0


def apply_discount(
    calc: OrderCalc,
    discount: Mapping[str, Any],
    applicable_to: Sequence[Mapping[str, Any]] | None = None,
    excluded: Sequence[Mapping[str, Any]] | None = None,
) -> int:
    """Apply one discount definition (the voucher's ``discount``) to ``calc``.

    Item effects discount the items ``applicable_to`` targets, less those ``excluded`` targets.

    Returns the total amount it took off (order-level plus item-level).
    Unsupported types (``UNIT``) apply nothing.  ``amount_limit`` (PERCENT) and
    ``aggregated_amount_limit`` cap the voucher's whole effect in this request.
    """
    effect = discount.get("effect") or "APPLY_TO_ORDER"
    limit: int | None = None
    if discount.get("aggregated_amount_limit") is not None:
        limit = to_minor(discount["aggregated_amount_limit"])
    if effect not in ITEM_EFFECTS:
        wanted = discount_value(discount, calc.remaining)
        if limit is not None:
            wanted = min(wanted, limit)
        return _cap_order_level(calc, wanted)

    kind = discount.get("type")
    targets = [i for i in calc.items if matches(i.source, applicable_to)]
    if excluded:
        targets = [i for i in targets if not matches(i.source, excluded)]
    if kind == "PERCENT" and discount.get("amount_limit") is not None:
        pct_limit = to_minor(discount["amount_limit"])
        limit = pct_limit if limit is None else min(limit, pct_limit)
    if kind == "AMOUNT" and effect in (
        "APPLY_TO_ITEMS_PROPORTIONALLY",
        "APPLY_TO_ITEMS_PROPORTIONALLY_BY_QUANTITY",
    ):
        total = to_minor(discount.get("amount_off") or 0)
        if limit is not None:
            total = min(total, limit)
        by_qty = effect.endswith("BY_QUANTITY")
        weights = [t.quantity if by_qty else t.remaining for t in targets]
        return _spread(calc, targets, total, weights)

    applied = 0
    for item in targets:
        if kind == "AMOUNT":
            per_line = to_minor(discount.get("amount_off") or 0)
            wanted = per_line * item.quantity if effect == "APPLY_TO_ITEMS_BY_QUANTITY" else per_line
        elif kind == "PERCENT":
            wanted = percent_of(item.remaining, discount.get("percent_off") or 0)
        elif kind == "FIXED":
            # FIXED on items sets each unit's price to fixed_amount.
            fixed = to_minor(discount.get("fixed_amount") or 0) * item.quantity
            wanted = max(0, item.remaining - fixed)
        else:
            wanted = 0
        if limit is not None:
            wanted = min(wanted, limit - applied)
        applied += _apply_to_item(calc, item, wanted)
    return applied


def apply_gift(calc: OrderCalc, credits: int, effect: str | None = None) -> int:
    """Use up to ``credits`` gift-card credits on what is left to pay.

    Credits are booked like an order-level discount (``APPLY_TO_ORDER``,
    the default) or spread over items in order (``APPLY_TO_ITEMS``), which is
    how Voucherify reports gift cards inside stacked order totals.  Returns the
    credits actually used (never more than what is left).
    """
    if effect == "APPLY_TO_ITEMS" and calc.items:
        used = 0
        for item in calc.items:
            used += _apply_to_item(calc, item, credits - used)
        return used
    return _cap_order_level(calc, credits)


def render(calc: OrderCalc, base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The spec's ``OrderCalculated`` amount fields merged over ``base`` (the
    request order or stored order).  Items get ``amount``, ``discount_amount``,
    ``applied_discount_amount`` (only when non-zero) and ``subtotal_amount``."""
    out: dict[str, Any] = dict(base or {})
    items_out: list[dict[str, Any]] = []
    for item in calc.items:
        row = dict(item.source)
        row["object"] = "order_item"
        row["quantity"] = item.quantity
        row["amount"] = item.amount
        discount = item.previous_discount + item.applied
        if discount:
            row["discount_amount"] = discount
        if item.applied:
            row["applied_discount_amount"] = item.applied
        row["subtotal_amount"] = item.amount - discount
        items_out.append(row)
    if calc.items or "items" in out:
        out["items"] = items_out
    discount_amount = calc.previous_discount + calc.applied
    items_applied = calc.items_applied  # a sum over the items: read once
    items_discount = calc.items_previous + items_applied
    total_discount = discount_amount + items_discount
    out["amount"] = calc.amount
    out["discount_amount"] = discount_amount
    out["items_discount_amount"] = items_discount
    out["total_discount_amount"] = total_discount
    out["total_amount"] = None if calc.amount is None else calc.amount - total_discount
    out["applied_discount_amount"] = calc.applied
    out["items_applied_discount_amount"] = items_applied
    out["total_applied_discount_amount"] = calc.applied + items_applied
    return out
