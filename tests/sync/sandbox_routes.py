"""Minimal customer/order routes for the sandbox, registered ONLY where it has none yet.

The sandbox's handler modules are being written in parallel; these stand-ins keep the sync
tests runnable meanwhile and step aside (route by route) as soon as the real ones exist.
"""

from __future__ import annotations

from typing import Any

from django_voucherify.sandbox.errors import SandboxError, invalid_payload
from django_voucherify.sandbox.handlers import load_all
from django_voucherify.sandbox.objects import customer_ref, list_envelope
from django_voucherify.sandbox.routing import SandboxResponse, no_content, ok, resolve, route

_done = False


def _missing(method: str, path: str) -> bool:
    try:
        resolve(method, path)
    except SandboxError:
        return True
    return False


def _async(state: Any, type_: str, result: Any) -> SandboxResponse:
    aid = state.new_id("aa_")
    state.async_actions[aid] = {
        "id": aid, "type": type_, "status": "DONE", "result": result, "created_at": state.now_iso(),
        "object": "async_action",
    }
    return ok({"async_action_id": aid}, 202)


def _upsert_order(state: Any, body: dict[str, Any], existing: dict[str, Any] | None = None) -> dict[str, Any]:
    if existing is None and body.get("source_id"):
        existing = state.find_order(str(body["source_id"]))
    now = state.now_iso()
    order = existing or {
        "id": state.new_id("ord_"), "source_id": body.get("source_id"), "created_at": now,
        "updated_at": None, "object": "order", "status": "CREATED", "metadata": {}, "items": [],
        "amount": 0, "customer": None,
    }
    for key in ("status", "amount", "items", "metadata"):
        if key in body:
            order[key] = body[key]
    if isinstance(body.get("customer"), dict):
        order["customer"] = customer_ref(state.upsert_customer(body["customer"]))
    if existing is not None:
        order["updated_at"] = now
    state.put_order(order)
    return dict(order)


def install() -> None:
    """Register the stand-ins the sandbox lacks (idempotent)."""
    global _done
    if _done:
        return
    load_all()
    _done = True

    if _missing("POST", "/v1/customers"):
        route("POST", "/v1/customers", "create-customer")(
            lambda req, state: ok(state.upsert_customer(req.json_object()))
        )
    if _missing("GET", "/v1/customers/x"):
        route("GET", "/v1/customers/{customerId}", "get-customer")(
            lambda req, state: ok(state.get_customer_or_404(req.path_params["customerId"]))
        )

    if _missing("DELETE", "/v1/customers/x"):

        @route("DELETE", "/v1/customers/{customerId}", "delete-customer")
        def _delete(req: Any, state: Any) -> SandboxResponse:
            cust = state.get_customer_or_404(req.path_params["customerId"])
            state.customers.pop(cust["id"])
            state.customer_ids_by_source.pop(cust.get("source_id") or "", None)
            return no_content()

    if _missing("POST", "/v1/customers/x/permanent-deletion"):

        @route("POST", "/v1/customers/{customerId}/permanent-deletion", "customer-permanently-deletion")
        def _erase(req: Any, state: Any) -> SandboxResponse:
            cust = state.get_customer_or_404(req.path_params["customerId"])
            state.customers.pop(cust["id"])
            state.customer_ids_by_source.pop(cust.get("source_id") or "", None)
            state.extra.setdefault("erased", []).append(cust["id"])
            return ok({"id": state.new_id("del_"), "status": "DONE", "related_object_id": cust["id"],
                       "object": "pernament_deletion"})

    if _missing("GET", "/v1/customers"):

        @route("GET", "/v1/customers", "list-customers")
        def _list(req: Any, state: Any) -> SandboxResponse:
            limit = int(req.query.get("limit", 10))
            items = sorted(state.customers.values(), key=lambda c: (c["created_at"], c["id"]))
            after = req.query.get("starting_after")
            if after:
                items = [c for c in items if c["created_at"] > after]
            page = items[:limit]
            more = len(items) > limit
            return ok(list_envelope("customers", page, total=len(state.customers), has_more=more))

    if _missing("POST", "/v1/customers/bulk/async"):

        @route("POST", "/v1/customers/bulk/async", "update-customers-in-bulk")
        def _bulk(req: Any, state: Any) -> SandboxResponse:
            body = req.json()
            if not isinstance(body, list):
                raise invalid_payload("expected a list of customers")
            for c in body:
                state.upsert_customer(c)
            return _async(state, "CUSTOMERS.BULK_UPDATE", {"count": len(body)})

    if _missing("POST", "/v1/orders"):
        route("POST", "/v1/orders", "create-order")(
            lambda req, state: ok(_upsert_order(state, req.json_object()))
        )
    if _missing("PUT", "/v1/orders/x"):
        route("PUT", "/v1/orders/{orderId}", "update-order")(
            lambda req, state: ok(_upsert_order(
                state, req.json_object(), state.get_order_or_404(req.path_params["orderId"])))
        )
    if _missing("GET", "/v1/orders/x"):
        route("GET", "/v1/orders/{orderId}", "get-order")(
            lambda req, state: ok(state.get_order_or_404(req.path_params["orderId"]))
        )
    if _missing("GET", "/v1/orders"):

        @route("GET", "/v1/orders", "list-orders")
        def _orders(req: Any, state: Any) -> SandboxResponse:
            limit, page = int(req.query.get("limit", 10)), int(req.query.get("page", 1))
            items = sorted(state.orders.values(), key=lambda o: (o["created_at"], o["id"]))
            return ok(list_envelope("orders", items[(page - 1) * limit: page * limit], total=len(items)))

    if _missing("POST", "/v1/orders/import"):

        @route("POST", "/v1/orders/import", "import-orders")
        def _import(req: Any, state: Any) -> SandboxResponse:
            body = req.json()
            if not isinstance(body, list) or len(body) > 2000:
                raise invalid_payload("expected a list of at most 2000 orders")
            for o in body:
                _upsert_order(state, o)
            return _async(state, "ORDERS.IMPORT", {"count": len(body)})
