"""Voucher balance adjustments, transaction listing and the transactions export.

POST /balance with a positive ``amount`` adds (gift: CREDITS_ADDITION, loyalty:
POINTS_ADDITION), a negative one removes (CREDITS_REMOVAL / POINTS_REMOVAL); a removal that
would take the balance below zero is refused with 400 (Voucherify's exact key is not in the
spec; the sandbox uses ``not_enough_balance``). Discount vouchers have no balance (400), and a
loyalty card without a holder takes no balance change (400 ``loyalty_card_without_holder``,
key inferred), as the spec says it "must be assigned to a holder".
"""

from __future__ import annotations

from typing import Any

from django_voucherify.sandbox.errors import business, invalid_payload
from django_voucherify.sandbox.handlers import export_params
from django_voucherify.sandbox.handlers.exports import create_export
from django_voucherify.sandbox.listing import cursor_slice, int_param, invalid_param
from django_voucherify.sandbox.routing import SandboxRequest, SandboxResponse, ok, route
from django_voucherify.sandbox.state import SandboxState

JSON = dict[str, Any]


def adjust_balance(
    state: SandboxState, voucher: JSON, amount: int, source_id: Any = None, reason: Any = None
) -> JSON:
    """Apply a manual balance change; return the spec's ``balance`` object."""
    # The spec: gift ``balance = amount - subtracted_amount - redemption.redeemed_amount`` and
    # loyalty ``balance = points - expired_points - subtracted_points - redeemed_points``, with
    # ``amount``/``points`` (and the response's ``total``) the income over the card's lifetime:
    # an addition raises the income, a removal raises the subtracted total.
    if voucher["type"] == "GIFT_VOUCHER":
        holder, kind, key = voucher["gift"], "gift_voucher", "CREDITS"
        total_key, subtracted_key = "amount", "subtracted_amount"
    elif voucher["type"] == "LOYALTY_CARD":
        # update-voucher-balance: "For loyalty cards, it must be assigned to a holder."
        if not voucher.get("holder_id"):
            raise business(
                "loyalty_card_without_holder",
                f"Loyalty card {voucher['code']} is not assigned to a holder",
            )
        holder, kind, key = voucher["loyalty_card"], "loyalty_card", "POINTS"
        total_key, subtracted_key = "points", "subtracted_points"
    else:
        raise invalid_payload("Only gift vouchers and loyalty cards have a balance")
    if holder["balance"] + amount < 0:
        raise business("not_enough_balance", f"Balance {holder['balance']} cannot cover {-amount}")
    holder["balance"] += amount
    if amount > 0:
        holder[total_key] += amount
    else:
        holder[subtracted_key] = holder.get(subtracted_key, 0) - amount
    voucher["updated_at"] = state.now_iso()
    state.vouchers.touch(voucher["code"])
    balance: JSON = {
        "amount": amount,
        "total": holder[total_key],
        "balance": holder["balance"],
        "type": kind,
        "operation_type": "MANUAL",
        "object": "balance",
        "related_object": {"type": "voucher", "id": voucher["id"]},
    }
    tx_type = f"{key}_ADDITION" if amount >= 0 else f"{key}_REMOVAL"
    state.add_voucher_transaction(
        voucher, tx_type, dict(balance), source_id=source_id, reason=reason, source="API"
    )
    return balance


@route("POST", "/v1/vouchers/{code}/balance", operation_id="update-voucher-balance")
def update_balance(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    voucher = state.get_voucher_or_404(req.path_params["code"])
    body = req.json_object()
    amount = body.get("amount")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0:
        raise invalid_payload("amount must be a non-zero integer")
    return ok(adjust_balance(state, voucher, amount, body.get("source_id"), body.get("reason")))


@route("GET", "/v1/vouchers/{code}/transactions", operation_id="list-voucher-transactions")
def list_transactions(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    voucher = state.get_voucher_or_404(req.path_params["code"])
    limit = int_param(req.query, "limit", 10, 1, 100)
    order = req.query.get("order") or "-id"
    if order not in ("id", "-id"):
        raise invalid_param("order", "must be id or -id")
    items = list(state.voucher_transactions.get(voucher["id"], []))
    # Ids are random, so "id" order is creation order (what Voucherify's sortable ids give).
    if order == "-id":
        items.reverse()
    page = cursor_slice(items, req.query.get("starting_after_id"), limit)
    return ok({"object": "list", "data_ref": "data", **page})


@route("POST", "/v1/vouchers/{code}/transactions/export", operation_id="export-voucher-transactions")
def export_transactions(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    voucher = state.get_voucher_or_404(req.path_params["code"])
    given = req.json_object().get("parameters")
    params = export_params.check_parameters(
        "voucher_transactions", given, defaults=export_params.VOUCHER_TRANSACTIONS_EXPORT_FIELDS
    )
    params["filters"] = {"voucher_id": {"conditions": {"$in": [voucher["id"]]}}}
    return ok(create_export(state, "voucher_transactions", params))
