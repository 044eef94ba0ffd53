"""Orders: upsert on create (by ``id``/``source_id``), get/update by id or source_id, list,
import (async, at most 2000 orders) and export.

Amounts: when ``amount`` is not given it is derived from the items (each item's ``amount``, or
``price * quantity``); ``total_amount`` is ``amount`` minus ``total_discount_amount``. The
customer's ``summary.orders`` counters follow every created order and amount change.
"""

from __future__ import annotations

from typing import Any

from django_voucherify.sandbox import jobs
from django_voucherify.sandbox.errors import SandboxError, invalid_payload, not_found
from django_voucherify.sandbox.handlers import export_params
from django_voucherify.sandbox.handlers.async_actions import accepted, finish, start_async_action
from django_voucherify.sandbox.handlers.exports import create_export
from django_voucherify.sandbox.listing import int_param, parse_order, select
from django_voucherify.sandbox.objects import empty_customer_summary
from django_voucherify.sandbox.routing import SandboxRequest, SandboxResponse, ok, route
from django_voucherify.sandbox.state import SandboxState

JSON = dict[str, Any]

STATUSES = ("CREATED", "PAID", "CANCELED", "FULFILLED")
MAX_IMPORT = 2000
# The spec's ExportOrderFields, plus ``metadata.<key>`` as its description documents.
DISCOUNT_FIELDS = (
    "discount_amount",
    "items_discount_amount",
    "total_discount_amount",
    "applied_discount_amount",
    "items_applied_discount_amount",
    "total_applied_discount_amount",
)


def _int(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise invalid_payload(f"{name} must be an integer (minor units)")
    return int(value)


def build_item(raw: Any, index: int) -> JSON:
    """An ``OrderCalculatedItem`` from a request item; ``amount`` derived from price*quantity."""
    if not isinstance(raw, dict):
        raise invalid_payload(f"items[{index}] must be an object")
    item: JSON = {k: v for k, v in raw.items() if v is not None}
    quantity = _int(raw.get("quantity"), f"items[{index}].quantity")
    price = _int(raw.get("price"), f"items[{index}].price")
    amount = _int(raw.get("amount"), f"items[{index}].amount")
    if amount is None and price is not None:
        amount = price * (quantity if quantity is not None else 1)
    if amount is not None:
        item["amount"] = amount
        item.setdefault("subtotal_amount", amount)
    if "related_object" not in item and (raw.get("sku_id") or raw.get("sku")):
        item["related_object"] = "sku"
    elif "related_object" not in item and (raw.get("product_id") or raw.get("product")):
        item["related_object"] = "product"
    item["object"] = "order_item"
    return item


def _upserts_customer(raw: Any) -> bool:
    """Whether the order's ``customer``/``referrer`` object is upserted (else ``*_id`` names one)."""
    return isinstance(raw, dict) and len(raw) > 0


def _check_customer_ref(state: SandboxState, raw: Any, id_given: Any) -> None:
    """Raise what :func:`_customer_ref` would refuse, changing nothing."""
    if _upserts_customer(raw):
        state.check_customer_upsert(raw)
    elif id_given:
        state.get_customer_or_404(str(id_given))


def _customer_ref(state: SandboxState, raw: Any, id_given: Any) -> JSON | None:
    if _upserts_customer(raw):
        return state.upsert_customer(raw)
    if id_given:
        return state.get_customer_or_404(str(id_given))
    return None


def _track_customer(state: SandboxState, order: JSON, old_amount: int | None, new: bool) -> None:
    cust = state.customers.get(order.get("customer_id") or "")
    if cust is None:
        return
    summary = cust.setdefault("summary", empty_customer_summary())["orders"]
    amount = order.get("amount") or 0
    if new:
        summary["total_count"] += 1
        summary["total_amount"] += amount
        summary["last_order_amount"] = amount
        summary["last_order_date"] = order["created_at"]
    else:
        summary["total_amount"] += amount - (old_amount or 0)
    count = summary["total_count"]
    summary["average_amount"] = summary["total_amount"] // count if count else 0


def upsert_order(state: SandboxState, payload: Any, *, track: bool = True) -> JSON:
    """Create or update an order from a request's ``order`` object (also used by redemptions).

    ``id`` must exist (404); a known ``source_id`` updates that order; otherwise a new one.
    """
    if not isinstance(payload, dict):
        raise invalid_payload("order must be an object")
    if payload.get("id"):
        order = state.orders.get(str(payload["id"]))
        if order is None:
            raise not_found("order", str(payload["id"]))
    elif payload.get("source_id"):
        order = state.find_order(str(payload["source_id"]))
    else:
        order = None
    status = payload.get("status")
    if status is not None and status not in STATUSES:
        raise invalid_payload(f"status must be one of {', '.join(STATUSES)}")
    if payload.get("metadata") is not None and not isinstance(payload["metadata"], dict):
        raise invalid_payload("metadata must be an object")
    items = payload.get("items")
    if items is not None and not isinstance(items, list):
        raise invalid_payload("items must be an array")
    built = [build_item(it, i) for i, it in enumerate(items)] if items is not None else None
    amount = _int(payload.get("amount"), "amount")
    discounts = {field: _int(payload[field], field) for field in DISCOUNT_FIELDS if field in payload}
    # Everything that may refuse the order is checked before the first change: upserting the
    # customer and then refusing the referrer (404) changed the state of a refused request.
    _check_customer_ref(state, payload.get("customer"), payload.get("customer_id"))
    _check_customer_ref(state, payload.get("referrer"), payload.get("referrer_id"))
    customer = _customer_ref(state, payload.get("customer"), payload.get("customer_id"))
    referrer = _customer_ref(state, payload.get("referrer"), payload.get("referrer_id"))
    now = state.now_iso()
    new = order is None
    if order is None:
        order = {
            "id": state.new_id("ord_"),
            "source_id": payload.get("source_id"),
            "created_at": now,
            "updated_at": None,
            "status": "CREATED",
            "amount": None,
            "items": [],
            "metadata": {},
            "customer_id": None,
            "referrer_id": None,
            "object": "order",
            "redemptions": {},
        }
    old_amount = order.get("amount")
    if status is not None:
        order["status"] = status
    if built is not None:
        order["items"] = built
    if "metadata" in payload:
        order["metadata"] = payload["metadata"] or {}
    if customer is not None:
        order["customer_id"] = customer["id"]
        order["customer"] = {"id": customer["id"], "object": "customer"}
    if referrer is not None:
        order["referrer_id"] = referrer["id"]
        order["referrer"] = {"id": referrer["id"], "object": "customer"}
    if amount is None and built is not None and any("amount" in it for it in built):
        amount = sum(int(it.get("amount") or 0) for it in built)
    if amount is not None:
        order["amount"] = amount
    order.update(discounts)
    if order.get("amount") is not None:
        discount = order.get("total_discount_amount") or 0
        order["total_amount"] = max(0, order["amount"] - discount)
    if not new:
        order["updated_at"] = now
    state.put_order(order)
    if track:
        _track_customer(state, order, old_amount, new)
    return order


@route("POST", "/v1/orders", operation_id="create-order")
def create_order(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    return ok(upsert_order(state, req.json_object()))


@route("GET", "/v1/orders/{orderId}", operation_id="get-order")
def get_order(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    return ok(state.get_order_or_404(req.path_params["orderId"]))


@route("PUT", "/v1/orders/{orderId}", operation_id="update-order")
def update_order(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    order = state.get_order_or_404(req.path_params["orderId"])
    payload = dict(req.json_object())
    payload.pop("source_id", None)
    payload["id"] = order["id"]
    return ok(upsert_order(state, payload))


@route("GET", "/v1/orders", operation_id="list-orders")
def list_orders(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    q = req.query
    limit = int_param(q, "limit", 10, 1, 100)
    page = int_param(q, "page", 1, 1, 100)
    allowed = ("created_at", "-created_at", "updated_at", "-updated_at")
    field, descending = parse_order(q.get("order"), allowed, "-created_at")
    selection = select(state.orders, field, descending)
    data = selection.page(page, limit)
    return ok({"object": "list", "data_ref": "orders", "orders": data, "total": selection.total})


@route("POST", "/v1/orders/import", operation_id="import-orders")
def import_orders(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    body = req.json()
    if not isinstance(body, list):
        raise invalid_payload("Request body must be an array of orders")
    if len(body) > MAX_IMPORT:
        raise invalid_payload(f"Too many orders: {len(body)}; at most {MAX_IMPORT} per import")
    action = start_async_action(state, "ORDERS.IMPORT", "orders_import", {"orders": body}, req.request_id)
    return accepted(action, 200)  # the spec documents 200 for this one


@jobs.job("orders_import")
def _run_import(state: SandboxState, action: JSON, payload: JSON) -> None:
    done, failed = 0, []
    for raw in payload["orders"]:
        try:
            upsert_order(state, raw)
            done += 1
        except SandboxError as err:
            # The spec's ORDERS.IMPORT result (and its example) names a failed order by
            # ``source_id`` (null when it had none) and ``reason`` only: no row number.
            sid = raw.get("source_id") if isinstance(raw, dict) else None
            failed.append({"source_id": str(sid) if sid else None, "reason": err.details or err.message})
    message = f"{done} order(s) imported successfully, {len(failed)} failed."
    finish(action, {"message": message, "done_count": done, "failed_count": len(failed), "failed": failed})


@route("POST", "/v1/orders/export", operation_id="create-order-export")
def export_orders(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    params = export_params.check_parameters("order", req.json_object().get("parameters"))
    return ok(create_export(state, "order", params))
