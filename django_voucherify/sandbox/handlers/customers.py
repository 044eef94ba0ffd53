"""Customers: upsert on create, get/update/delete by id or source_id, permanent deletion,
list (filters, ordering, page or ``starting_after`` date cursor), activity, segments and
redeemables.

``starting_after`` follows the spec's table: with the default (descending) order it returns
customers created before the date; with ``order=created_at``/``updated_at`` (ascending) those
after it. A customer never updated (``updated_at: null``) counts as updated when created.
"""

from __future__ import annotations

from typing import Any

from django_voucherify.sandbox.errors import invalid_payload
from django_voucherify.sandbox.listing import (
    Window,
    cursor_slice,
    date_param,
    date_windows,
    frozen,
    int_param,
    invalid_param,
    parse_order,
    select,
)
from django_voucherify.sandbox.routing import (
    SandboxRequest,
    SandboxResponse,
    no_content,
    ok,
    route,
)
from django_voucherify.sandbox.state import SandboxState, parse_iso
from django_voucherify.sandbox.store import micros

JSON = dict[str, Any]

STRING_FIELDS = ("source_id", "name", "description", "email", "phone", "birthday", "birthdate")


def validate_customer_payload(payload: Any) -> JSON:
    """Type-check a customer body (``CustomersCreateRequestBody``); 400 ``invalid_payload``."""
    if not isinstance(payload, dict):
        raise invalid_payload("customer must be an object")
    for key in STRING_FIELDS:
        if payload.get(key) is not None and not isinstance(payload[key], str):
            raise invalid_payload(f"{key} must be a string")
    for key in ("metadata", "address"):
        if payload.get(key) is not None and not isinstance(payload[key], dict):
            raise invalid_payload(f"{key} must be an object")
    return payload


@route("POST", "/v1/customers", operation_id="create-customer")
def create_customer(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    return ok(state.upsert_customer(validate_customer_payload(req.json_object())))


@route("GET", "/v1/customers/{customerId}", operation_id="get-customer")
def get_customer(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    return ok(state.get_customer_or_404(req.path_params["customerId"]))


@route("PUT", "/v1/customers/{customerId}", operation_id="update-customer")
def update_customer(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    cust = state.get_customer_or_404(req.path_params["customerId"])
    payload = dict(validate_customer_payload(req.json_object()))
    payload.pop("source_id", None)  # identity comes from the path; source_id is not updatable
    payload["id"] = cust["id"]
    return ok(state.upsert_customer(payload))


def remove_customer(state: SandboxState, cust: JSON) -> None:
    del state.customers[cust["id"]]
    if cust.get("source_id"):
        state.customer_ids_by_source.pop(cust["source_id"], None)


@route("DELETE", "/v1/customers/{customerId}", operation_id="delete-customer")
def delete_customer(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    remove_customer(state, state.get_customer_or_404(req.path_params["customerId"]))
    return no_content()


@route(
    "POST",
    "/v1/customers/{customerId}/permanent-deletion",
    operation_id="customer-permanently-deletion",
)
def permanently_delete(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    cust = state.get_customer_or_404(req.path_params["customerId"])
    events = state.customer_activities.pop(cust["id"], [])
    orders = [o for o in state.orders.values() if o.get("customer_id") == cust["id"]]
    remove_customer(state, cust)
    return ok(
        {
            "id": state.new_id("del_"),
            "created_at": state.now_iso(),
            "related_object_id": cust["id"],
            "related_object": "customer",
            "status": "DONE",
            # The spec's example (events 16, customer_events 28) shows ``events`` is not the
            # customer's activity: it counts tracked custom events (POST /v1/events, stored as
            # ``customer.custom_event`` activities). ``customer_events`` counts the activity.
            "data_json": {
                "events": sum(1 for e in events if e["type"] == "customer.custom_event"),
                "customer_events": len(events),
                "daily_events": 0,
                "segments": 0,
                "orders": len(orders),
                "order_events": 0,
                "customer": 1,
            },
            # sic: the spec's (and API's) spelling
            "object": "pernament_deletion",
        }
    )


@route("GET", "/v1/customers", operation_id="list-customers")
def list_customers(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    q = req.query
    limit = int_param(q, "limit", 10, 1, 100)
    page = int_param(q, "page", 1, 1, 99)
    tests: list[Any] = []
    for name, read in (
        ("email", lambda c: c.get("email")),
        ("name", lambda c: c.get("name")),
        ("city", lambda c: (c.get("address") or {}).get("city")),
    ):
        if q.get(name):
            tests.append(lambda c, _read=read, _want=q[name]: _read(c) == _want)
    if q.get("segment_id"):
        tests.append(lambda c: False)  # the sandbox has no segments
    matches = (lambda c: all(test(c) for test in tests)) if tests else None
    key = frozen({n: q[n] for n in ("email", "name", "city", "segment_id") if q.get(n)})
    windows = date_windows(q, "created_at", "updated_at")
    allowed = ("created_at", "-created_at", "updated_at", "-updated_at", "source_id", "-source_id")
    field, descending = parse_order(q.get("order") or "-created_at", allowed, "-created_at")
    if q.get("starting_after"):
        # The date cursor reads creation time, or the last change for an updated_at walk (a
        # never-updated customer last changed when created, so the walk must not skip it).
        after = micros(date_param(q["starting_after"], "starting_after"))
        field = "changed_at" if field == "updated_at" else "created_at"
        bound = Window(field, after=after) if not descending else Window(field, before=after)
        windows = [*windows, bound]
        page = 1
    selection = select(state.customers, field, descending, windows, matches, key)
    return ok(
        {
            "object": "list",
            "data_ref": "customers",
            "customers": selection.page(page, limit),
            "total": selection.total,
            "has_more": page * limit < selection.total,
        }
    )


@route("GET", "/v1/customers/{customerId}/activity", operation_id="list-customer-activity")
def list_activity(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    cust = state.get_customer_or_404(req.path_params["customerId"])
    q = req.query
    limit = int_param(q, "limit", 10, 1, 100)
    items = list(state.customer_activities.get(cust["id"], []))
    if q.get("type"):
        items = [a for a in items if a["type"] == q["type"]]
    if q.get("start_date"):
        start = date_param(q["start_date"], "start_date")
        items = [a for a in items if parse_iso(a["created_at"]) >= start]
    if q.get("end_date"):
        end = date_param(q["end_date"], "end_date")
        items = [a for a in items if parse_iso(a["created_at"]) <= end]
    order = q.get("order") or "-created_at"
    if order not in ("created_at", "-created_at"):
        raise invalid_param("order", "must be created_at or -created_at")
    if order == "-created_at":
        items.reverse()
    page = cursor_slice(items, q.get("starting_after_id"), limit)
    return ok({"object": "list", "data_ref": "data", **page})


@route("GET", "/v1/customers/{customerId}/segments", operation_id="list-customer-segments")
def list_segments(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    state.get_customer_or_404(req.path_params["customerId"])
    # Segments are not simulated: every customer belongs to none.
    return ok({"object": "list", "data_ref": "data", "data": [], "total": 0})


CAMPAIGN_TYPES = {
    "DISCOUNT_VOUCHER": "DISCOUNT_COUPONS",
    "GIFT_VOUCHER": "GIFT_VOUCHERS",
    "LOYALTY_CARD": "LOYALTY_PROGRAM",
}


def _status(voucher: JSON, state: SandboxState) -> str:
    now = state.now()
    if not voucher.get("active", True):
        return "DISABLED"
    if voucher.get("start_date") and parse_iso(voucher["start_date"]) > now:
        return "NOT_ACTIVE_YET"
    if voucher.get("expiration_date") and parse_iso(voucher["expiration_date"]) < now:
        return "EXPIRED"
    red = voucher.get("redemption") or {}
    if red.get("quantity") is not None and red.get("redeemed_quantity", 0) >= red["quantity"]:
        return "USED"
    if voucher["type"] == "GIFT_VOUCHER" and (voucher.get("gift") or {}).get("balance") == 0:
        return "NO_BALANCE"
    return "ACTIVE"


@route("GET", "/v1/customers/{customerId}/redeemables", operation_id="list-customer-redeemables")
def list_redeemables(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    """Vouchers whose ``holder_id`` is the customer (OWNER role), newest first by default."""
    cust = state.get_customer_or_404(req.path_params["customerId"])
    q = req.query
    limit = int_param(q, "limit", 10, 1, 100)
    rows: list[JSON] = []
    for v in state.vouchers.values():
        if v.get("holder_id") != cust["id"]:
            continue
        rows.append(
            {
                "id": "cr_" + v["id"][2:],
                "created_at": v["created_at"],
                "redeemable_id": v["id"],
                "redeemable_object": "voucher",
                "customer_id": cust["id"],
                "holder_role": "OWNER",
                "campaign_id": v.get("campaign_id"),
                "campaign_type": CAMPAIGN_TYPES[v["type"]],
                "voucher_type": v["type"],
                "redeemable": {"type": "voucher", "voucher": v, "status": _status(v, state)},
            }
        )
    order = q.get("order") or "-id"
    if order not in ("id", "-id"):
        raise invalid_param("order", "must be id or -id")
    if order == "-id":  # ids are random: "id" order means creation order, as in Voucherify
        rows.reverse()
    page = cursor_slice(rows, q.get("starting_after_id"), limit)
    return ok({"object": "list", "data_ref": "data", "total": len(rows), **page})
