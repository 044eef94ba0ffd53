"""Redemption rollbacks (single and stacked), run under ``state.lock``.

Contract:
* :func:`rollback_single` (``rollback-redemption``) accepts a redemption with no
  parent and no children; a child of a stacked redemption, or a stacked parent,
  is refused with 400 ``invalid_redemption_parent`` (children are rolled back
  only through their parent, as the spec's note says).
* :func:`rollback_stacked` (``rollback-stacked-redemptions``) rolls back every
  child of a parent (plus a ``parent_rollback``) or, like the single endpoint,
  a redemption without parent.
* A second rollback is refused with 400 ``already_rolled_back``; a failed
  redemption cannot be rolled back (400 ``invalid_redemption``, inferred).
* Effects: one redemption back to the voucher's pool (``redeemed_quantity - 1``),
  gift credits back to the balance with a ``CREDITS_REFUND`` transaction, the
  redemption's ``status`` becomes ``ROLLED_BACK``, the order's discounts from that
  redemption are undone and its status becomes ``CANCELED`` (``WITH_ORDER`` mode).
"""

from __future__ import annotations

from typing import Any

from django_voucherify.sandbox.engine import ledger, tier_redemptions
from django_voucherify.sandbox.engine.ledger import JSON
from django_voucherify.sandbox.errors import bad_request, business, not_found
from django_voucherify.sandbox.state import SandboxState


def _get(state: SandboxState, rid: str) -> JSON:
    red = state.redemptions.get(rid)
    if red is None:
        raise not_found("redemption", rid)
    return red


def _check(red: JSON) -> None:
    if red.get("status") == "ROLLED_BACK":
        raise business(
            "already_rolled_back",
            f"Redemption {red['id']} was already rolled back",
            resource_id=red["id"],
            resource_type="redemption",
        )
    if red.get("result") != "SUCCESS":
        raise bad_request(
            "invalid_redemption",
            "Cannot roll back a failed redemption",
            f"Redemption {red['id']} failed",
            resource_id=red["id"],
            resource_type="redemption",
        )


def _customer(state: SandboxState, red: JSON, body: JSON) -> JSON | None:
    if isinstance(body.get("customer"), dict):
        return state.upsert_customer(body["customer"])
    cid = red.get("customer_id")
    return state.customers.get(cid) if cid else None


def _undo_order(state: SandboxState, red: JSON, effect: JSON, now: str) -> JSON | None:
    """Undo a child's discounts on its stored order and cancel the order."""
    order_id = (red.get("order") or {}).get("id")
    order = state.orders.get(order_id) if order_id else None
    if order is None:
        return None
    order_level = int(effect.get("order_level") or 0)
    items_level = int(effect.get("items_level") or 0)
    for key, delta in (
        ("discount_amount", order_level),
        ("items_discount_amount", items_level),
        ("total_discount_amount", order_level + items_level),
    ):
        order[key] = max(0, int(order.get(key) or 0) - delta)
    if order.get("amount") is not None:
        order["total_amount"] = int(order["amount"]) - int(order["total_discount_amount"])
    order["status"] = "CANCELED"
    order["updated_at"] = now
    state.orders.touch(order["id"])
    return order


def _rollback_child(
    state: SandboxState,
    red: JSON,
    query: JSON,
    body: JSON,
    customer: JSON | None,
    parent_rollback_id: str | None,
    now: str,
) -> JSON:
    """Roll back one (non-parent) successful redemption; returns the ``rr_`` object."""
    effect = ledger.effects(state).get(red["id"], {})
    credits = int(effect.get("credits") or 0)
    voucher_id = red.get("related_object_id")
    code = state.voucher_codes_by_id.get(voucher_id or "")
    voucher = state.vouchers.get(code) if code else None
    rr_id = state.new_id("rr_")
    if voucher is not None:
        counters = voucher.setdefault("redemption", {})
        counters["redeemed_quantity"] = max(0, int(counters.get("redeemed_quantity") or 0) - 1)
        if credits:
            gift = voucher.setdefault("gift", {})
            gift["balance"] = int(gift.get("balance") or 0) + credits
            state.add_voucher_transaction(
                voucher,
                "CREDITS_REFUND",
                {
                    "type": "gift_voucher",
                    "total": int(gift.get("amount") or 0),
                    "amount": credits,
                    "object": "balance",
                    "balance": gift["balance"],
                    "related_object": {"id": voucher["id"], "type": "voucher"},
                },
                source_id=red.get("tracking_id"),
                reason=query.get("reason"),
                details={"redemption": {"id": red["id"]}, "rollback": {"id": rr_id}},
            )
    order = _undo_order(state, red, effect, now)
    if order is not None:
        entry_key = red.get("redemption") or red["id"]
        entry = order.setdefault("redemptions", {}).get(entry_key)
        if entry is not None:
            if red.get("redemption"):
                entry.setdefault("rollback_stacked", []).append(rr_id)
                if parent_rollback_id:
                    entry["rollback_id"], entry["rollback_date"] = parent_rollback_id, now
            else:
                entry["rollback_id"], entry["rollback_date"] = rr_id, now
    red["status"] = "ROLLED_BACK"
    red.setdefault("related_redemptions", {}).setdefault("rollbacks", []).append({"id": rr_id, "date": now})
    ledger.count_rollback(customer, credits)
    rr: JSON = {
        "id": rr_id,
        "object": "redemption_rollback",
        "date": now,
        "customer_id": red.get("customer_id"),
        "tracking_id": query.get("tracking_id") or red.get("tracking_id"),
        "metadata": body.get("metadata") if isinstance(body.get("metadata"), dict) else None,
        "redemption": red["id"],
        "reason": query.get("reason"),
        "result": "SUCCESS",
        "status": "SUCCEEDED",
        "order": ledger.order_ref(order, red.get("redemption") or red["id"]),
        "channel": red.get("channel"),
        "customer": red.get("customer"),
        "related_object_type": "voucher",
        "related_object_id": voucher_id,
        "voucher": ledger.voucher_snapshot(voucher) if voucher else red.get("voucher"),
    }
    if credits:
        rr["amount"] = -credits
        rr["gift"] = {"amount": -credits}
    if red.get("related_object_type") == "promotion_tier":
        tier_redemptions.undo(state, red, effect, rr)
    state.rollbacks[rr_id] = rr
    ledger.index_for_voucher(state, voucher_id, rr_id)
    return rr


def _is_parent(state: SandboxState, red: JSON) -> bool:
    return red.get("related_object_type") == "redemption"


def rollback_single(state: SandboxState, rid: str, query: JSON, body: JSON) -> JSON:
    """``rollback-redemption``: returns the ``RedemptionRollback`` object."""
    red = _get(state, rid)
    if red.get("redemption") or _is_parent(state, red):
        raise business(
            "invalid_redemption_parent",
            f"Redemption {rid} is part of a stacked redemption; roll back its parent with "
            "POST /v1/redemptions/{parentRedemptionId}/rollbacks",
            resource_id=rid,
            resource_type="redemption",
        )
    _check(red)
    customer = _customer(state, red, body)
    return _rollback_child(state, red, query, body, customer, None, state.now_iso())


def rollback_stacked(state: SandboxState, rid: str, query: JSON, body: JSON) -> JSON:
    """``rollback-stacked-redemptions``: ``{rollbacks, parent_rollback?, order}``."""
    red = _get(state, rid)
    if red.get("redemption"):
        raise business(
            "invalid_redemption_parent",
            f"Redemption {rid} is a child of {red['redemption']}; roll back the parent",
            resource_id=rid,
            resource_type="redemption",
        )
    _check(red)
    customer = _customer(state, red, body)
    now = state.now_iso()
    if not _is_parent(state, red):
        rr = _rollback_child(state, red, query, body, customer, None, now)
        out: JSON = {"rollbacks": [rr]}
        if rr["order"] is not None:
            out["order"] = rr["order"]
        return out
    parent_rr_id = state.new_id("rr_")
    child_ids: list[Any] = ledger.effects(state).get(rid, {}).get("children", [])
    rollbacks = []
    for cid in child_ids:
        child = state.redemptions.get(cid)
        if child is not None and child.get("status") == "SUCCEEDED":
            rollbacks.append(_rollback_child(state, child, query, body, customer, parent_rr_id, now))
    red["status"] = "ROLLED_BACK"
    red.setdefault("related_redemptions", {}).setdefault("rollbacks", []).append(
        {"id": parent_rr_id, "date": now}
    )
    order_id = (red.get("order") or {}).get("id")
    stored = state.orders.get(order_id) if order_id else None
    order = ledger.order_ref(stored, rid)
    parent_rr: JSON = {
        "id": parent_rr_id,
        "object": "redemption_rollback",
        "date": now,
        "customer_id": red.get("customer_id"),
        "tracking_id": query.get("tracking_id") or red.get("tracking_id"),
        "metadata": body.get("metadata") if isinstance(body.get("metadata"), dict) else None,
        "redemption": rid,
        "reason": query.get("reason"),
        "result": "SUCCESS",
        "status": "SUCCEEDED",
        "order": order,
        "channel": red.get("channel"),
        "customer": red.get("customer"),
        "related_object_type": "redemption",
        "related_object_id": parent_rr_id,
    }
    state.rollbacks[parent_rr_id] = parent_rr
    for rr in rollbacks:
        rr["order"] = order
    result: JSON = {"rollbacks": rollbacks, "parent_rollback": parent_rr}
    if stored is not None:
        result["order"] = ledger.order_ref(stored)
    return result
