"""Which webhook events the sandbox's answers announce, as Voucherify would send them.

:func:`events_for` maps one handled request (operation id, path parameters, the answer) to the
``(type, data, subject time)`` of each event Voucherify emits for that change
(``webhooks-openapi.json``). Only successful state changes emit; reads never do. Events the
sandbox does not emit (async imports and bulk updates, campaigns, loyalty tiers...) are listed in
docs/sandbox.md.
"""

from __future__ import annotations

from typing import Any

#: A voucher operation -> the event announcing its new state (data: ``{"voucher": <voucher>}``).
VOUCHER_EVENTS = {
    "create-voucher": "voucher.created",
    "generate-random-code": "voucher.created",
    "update-voucher": "voucher.updated",
    "enable-voucher": "voucher.enabled",
    "disable-voucher": "voucher.disabled",
}

Event = tuple[str, dict[str, Any], str | None]


def _obj(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def events_for(
    operation_id: str, path_params: dict[str, str], status: int, body: Any, sources: dict[str, str]
) -> list[Event]:
    """The events one exchange announces (empty for reads and failures). ``sources``: customer
    id -> source id as last seen (a deletion's answer no longer names the source id)."""
    if status >= 400 or operation_id.startswith(("get-", "list-")):
        return []
    answer = _obj(body) or {}
    if operation_id in VOUCHER_EVENTS and answer.get("object") == "voucher":
        return [(VOUCHER_EVENTS[operation_id], {"voucher": answer}, answer.get("updated_at"))]
    if operation_id == "delete-voucher":
        code = path_params.get("code", "")
        return [("voucher.deleted", {"voucher": {"object": "voucher", "code": code}}, None)]
    if operation_id == "update-voucher-balance":
        return _balance_event(path_params.get("code", ""), answer)
    if operation_id in ("create-customer", "update-customer") and answer.get("object") == "customer":
        kind = "customer.created" if status == 201 or _created(answer) else "customer.updated"
        return [(kind, {"customer": answer}, answer.get("updated_at") or answer.get("created_at"))]
    if operation_id in ("customer-permanently-deletion", "delete-customer"):
        ident = answer.get("related_object_id") or path_params.get("customerId", "")
        customer = {"object": "customer", "id": ident, "source_id": sources.get(ident)}
        if customer["source_id"] is None and not str(ident).startswith("cust_"):
            customer["source_id"] = ident  # the path named the customer by its source id
        return [("customer.deleted", {"customer": {k: v for k, v in customer.items() if v}}, None)]
    if operation_id in ("create-order", "update-order") and answer.get("object") == "order":
        kind = (
            "customer.order.created"
            if operation_id == "create-order" and _created(answer)
            else "customer.order.updated"
        )
        return [(kind, {"order": answer}, answer.get("updated_at") or answer.get("created_at"))]
    if operation_id == "redeem-stacked-discounts":
        return _redemption_events(answer)
    if operation_id in ("rollback-redemption", "rollback-stacked-redemptions"):
        return _rollback_events(answer)
    return []


def _created(obj: dict[str, Any]) -> bool:
    return not obj.get("updated_at") or obj.get("updated_at") == obj.get("created_at")


def _balance_event(code: str, answer: dict[str, Any]) -> list[Event]:
    amount = answer.get("amount")
    if not isinstance(amount, int) or amount <= 0:
        return []  # Voucherify announces additions; a removal has no event of its own
    kind = (
        "voucher.loyalty_card.points_added"
        if answer.get("type") == "loyalty_card"
        else "voucher.gift.balance_added"
    )
    return [(kind, {"voucher": {"object": "voucher", "code": code}, "balance": answer}, None)]


def _redemption_events(answer: dict[str, Any]) -> list[Event]:
    events: list[Event] = []
    for redemption in answer.get("redemptions") or []:
        if not isinstance(redemption, dict):
            continue
        kind = "redemption.succeeded" if redemption.get("result") == "SUCCESS" else "redemption.failed"
        data = {"redemption": redemption, "order": answer.get("order"), "voucher": redemption.get("voucher")}
        events.append((kind, {k: v for k, v in data.items() if v is not None}, redemption.get("date")))
    return events


def _rollback_events(answer: dict[str, Any]) -> list[Event]:
    """A single rollback answers the rollback itself (its ``redemption`` is the rolled-back id);
    a stacked one answers ``parent_rollback`` and ``rollbacks``."""
    rollbacks = [answer] if answer.get("object") == "redemption_rollback" else []
    parent = _obj(answer.get("parent_rollback"))
    if parent:
        rollbacks.append(parent)
    rollbacks += [r for r in answer.get("rollbacks") or [] if isinstance(r, dict)]
    events: list[Event] = []
    for rollback in rollbacks:
        if rollback.get("result") != "SUCCESS":
            continue
        redeemed = {
            "id": rollback.get("redemption"),
            "object": "redemption",
            "order": rollback.get("order"),
            "metadata": rollback.get("metadata") or {},
        }
        events.append(
            (
                "redemption.rollback.succeeded",
                {"redemption": redeemed, "redemption_rollback": rollback},
                rollback.get("date"),
            )
        )
    return events


#: Operations that may change a gift or loyalty card's balance (announced as a transaction).
TRANSACTION_OPERATIONS = frozenset(
    {
        "redeem-stacked-discounts",
        "rollback-redemption",
        "rollback-stacked-redemptions",
        "update-voucher-balance",
    }
)


def touched_codes(operation_id: str, path_params: dict[str, str], body: Any) -> list[str]:
    """The voucher codes a balance-changing answer names (in order, once each)."""
    if operation_id == "update-voucher-balance":
        return [path_params.get("code", "")]
    answer = _obj(body) or {}
    found: list[Any] = []
    for key in ("redemptions", "rollbacks"):
        for item in answer.get(key) or []:
            voucher = _obj(item.get("voucher")) if isinstance(item, dict) else None
            found.append(voucher.get("code") if voucher else None)
    voucher = _obj(answer.get("voucher"))
    if voucher:
        found.append(voucher.get("code"))
    return list(dict.fromkeys(code for code in found if isinstance(code, str) and code))
