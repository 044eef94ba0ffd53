"""The rows of each exported object: one flat dict per record, keyed by the export field names
create-export documents (``voucher_type``, ``gift_balance``, ``customer_source_id``...).

Every row also carries its nested objects flattened with dots (``metadata.color``,
``address.city``, ``redemption.quantity``...), which is what filters on those prefixes and the
orders' ``metadata.X`` fields read. Registered in :data:`exports.ROW_SOURCES`.
"""

from __future__ import annotations

from typing import Any

from django_voucherify.sandbox.handlers.exports import ROW_SOURCES
from django_voucherify.sandbox.state import SandboxState

JSON = dict[str, Any]

DISCOUNT_VALUE = {
    "AMOUNT": "amount_off",
    "PERCENT": "percent_off",
    "FIXED": "fixed_amount",
    "UNIT": "unit_off",
}


def flatten(obj: Any, prefix: str = "") -> JSON:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists and scalars are leaves)."""
    out: JSON = {}
    if isinstance(obj, dict):
        for key, value in obj.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict) and value:
                out.update(flatten(value, f"{name}."))
            else:
                out[name] = value
    return out


def _row(obj: JSON, nested: tuple[str, ...], fields: JSON) -> JSON:
    row: JSON = {}
    for name in nested:
        if isinstance(obj.get(name), dict):
            row.update(flatten(obj[name], f"{name}."))
    row.update(fields)
    return row


def _voucher_value(voucher: JSON) -> Any:
    """create-export's ``value``: the discount's value, a gift card's amount left to spend, a
    loyalty card's usable points."""
    if voucher.get("type") == "GIFT_VOUCHER":
        return (voucher.get("gift") or {}).get("balance")
    if voucher.get("type") == "LOYALTY_CARD":
        return (voucher.get("loyalty_card") or {}).get("balance")
    discount = voucher.get("discount") or {}
    return discount.get(DISCOUNT_VALUE.get(str(discount.get("type")), "amount_off"))


def voucher_rows(state: SandboxState, params: JSON) -> list[JSON]:
    rows = []
    campaign_id = params.get("campaign_id")
    for voucher in state.vouchers.values():
        if campaign_id and voucher.get("campaign_id") != campaign_id:
            continue
        discount = voucher.get("discount") or {}
        units = discount.get("units") or [{}]
        timeframe = voucher.get("validity_timeframe") or {}
        holder = state.customers.get(str(voucher.get("holder_id"))) if voucher.get("holder_id") else None
        redemption = voucher.get("redemption") or {}
        days = voucher.get("validity_day_of_week")
        fields = {
            "id": voucher.get("id"),
            "code": voucher.get("code"),
            "voucher_type": voucher.get("type"),
            "value": _voucher_value(voucher),
            "formula": discount.get("amount_off_formula") or discount.get("percent_off_formula"),
            "discount_type": discount.get("type"),
            "campaign": voucher.get("campaign"),
            "category": voucher.get("category"),
            "start_date": voucher.get("start_date"),
            "expiration_date": voucher.get("expiration_date"),
            "gift_balance": (voucher.get("gift") or {}).get("balance"),
            "loyalty_balance": (voucher.get("loyalty_card") or {}).get("balance"),
            "redemption_quantity": redemption.get("quantity"),
            "redemption_count": redemption.get("redeemed_quantity"),
            "active": voucher.get("active"),
            "qr_code": ((voucher.get("assets") or {}).get("qr") or {}).get("url"),
            "bar_code": ((voucher.get("assets") or {}).get("barcode") or {}).get("url"),
            "metadata": voucher.get("metadata") or {},
            "is_referral_code": voucher.get("is_referral_code"),
            "created_at": voucher.get("created_at"),
            "updated_at": voucher.get("updated_at"),
            "validity_timeframe_interval": timeframe.get("interval"),
            "validity_timeframe_duration": timeframe.get("duration"),
            "validity_day_of_week": ",".join(str(d) for d in days) if isinstance(days, list) else None,
            "discount_amount_limit": discount.get("amount_limit"),
            "campaign_id": voucher.get("campaign_id"),
            "additional_info": voucher.get("additional_info"),
            "customer_id": voucher.get("holder_id"),
            "discount_effect": discount.get("effect"),
            "discount_unit_type": discount.get("unit_type") or units[0].get("unit_type"),
            "discount_unit_effect": units[0].get("effect") if discount.get("units") else None,
            "validation_rules_id": None,
            "customer_source_id": (holder or {}).get("source_id"),
        }
        rows.append(_row(voucher, ("metadata", "redemption"), fields))
    return rows


def redemption_rows(state: SandboxState, params: JSON) -> list[JSON]:
    rows = []
    for red in [*state.redemptions.values(), *state.rollbacks.values()]:
        customer = red.get("customer") or {}
        voucher = red.get("voucher") or {}
        order = red.get("order") or {}
        fields = {
            "id": red.get("id"),
            "object": red.get("object"),
            "date": red.get("date"),
            "voucher_code": voucher.get("code"),
            "campaign": voucher.get("campaign"),
            "promotion_tier_id": (red.get("promotion_tier") or {}).get("id"),
            "customer_id": red.get("customer_id"),
            "customer_source_id": customer.get("source_id"),
            "customer_name": customer.get("name"),
            "tracking_id": red.get("tracking_id"),
            "order_id": order.get("id"),
            "order_amount": order.get("amount"),
            "gift_amount": (red.get("gift") or {}).get("amount"),
            "loyalty_points": (red.get("loyalty_card") or {}).get("points"),
            "result": red.get("result"),
            "failure_code": red.get("failure_code"),
            "failure_message": red.get("failure_message"),
            "metadata": red.get("metadata") or {},
            "created_at": red.get("date"),
        }
        rows.append(_row(red, ("metadata",), fields))
    return rows


def customer_rows(state: SandboxState, params: JSON) -> list[JSON]:
    rows = []
    for cust in state.customers.values():
        address = cust.get("address") or {}
        summary = cust.get("summary") or {}
        reds = summary.get("redemptions") or {}
        orders = summary.get("orders") or {}
        loyalty = cust.get("loyalty") or {}
        fields = {
            "name": cust.get("name"),
            "id": cust.get("id"),
            "description": cust.get("description"),
            "email": cust.get("email"),
            "source_id": cust.get("source_id"),
            "created_at": cust.get("created_at"),
            "updated_at": cust.get("updated_at"),
            "phone": cust.get("phone"),
            "birthday": cust.get("birthday"),
            "birthdate": cust.get("birthdate"),
            "metadata": cust.get("metadata") or {},
            **{f"address_{key}": address.get(key) for key in _ADDRESS},
            **{f"redemptions_{key}": reds.get(key) for key in _REDEMPTION_COUNTERS},
            **{f"orders_{key}": orders.get(key) for key in _ORDER_COUNTERS},
            "loyalty_points": loyalty.get("points"),
            "loyalty_referred_customers": loyalty.get("referred_customers"),
        }
        rows.append(_row(cust, ("metadata", "address", "summary", "loyalty", "system_metadata"), fields))
    return rows


_ADDRESS = ("city", "state", "line_1", "line_2", "country", "postal_code")
_REDEMPTION_COUNTERS = (
    "total_redeemed",
    "total_failed",
    "total_succeeded",
    "total_rolled_back",
    "total_rollback_failed",
    "total_rollback_succeeded",
)
_ORDER_COUNTERS = ("total_amount", "total_count", "average_amount", "last_order_amount", "last_order_date")


def order_rows(state: SandboxState, params: JSON) -> list[JSON]:
    return [_row(order, ("metadata",), dict(order)) for order in state.orders.values()]


def transaction_rows(state: SandboxState, params: JSON) -> list[JSON]:
    rows = []
    for transactions in state.voucher_transactions.values():
        for tx in transactions:
            bal = (tx.get("details") or {}).get("balance") or {}
            rows.append({**tx, "balance": bal.get("balance"), "amount": bal.get("amount")})
    return rows


ROW_SOURCES.update(
    voucher=voucher_rows,
    redemption=redemption_rows,
    customer=customer_rows,
    order=order_rows,
    voucher_transactions=transaction_rows,
)
