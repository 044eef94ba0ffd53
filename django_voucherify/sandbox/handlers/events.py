"""Custom events (``POST /v1/events``): stored on the customer's activity.

The customer is matched or created as Voucherify does for every ``customer`` object it is
sent (the upsert of create-customer: ``id`` must exist, a known ``source_id`` is updated with
the given fields, a new one is created). The event becomes a ``customer.custom_event`` activity
(``GET /v1/customers/{id}/activity``) whose data follows ``EventCustomerCustomEvent``: the
customer, the ``event`` (``type`` and ``metadata``), the ``event_schema`` (the sandbox keeps no
event schemas: one per event name, made up on first use) and the ``loyalty`` / ``referral``
the request named (on the stored ``event``). Given codes must be vouchers the sandbox holds (404
otherwise): a loyalty code a loyalty card, a referral ``referrer_id`` a customer. Earning rules and referral
programs are not simulated, so no points or rewards follow, and the answer's ``loyalty`` and
``referral`` are null, as in the spec's example.
"""

from __future__ import annotations

from typing import Any

from django_voucherify.sandbox.errors import invalid_payload, not_found
from django_voucherify.sandbox.routing import SandboxRequest, SandboxResponse, ok, route
from django_voucherify.sandbox.state import SandboxState

JSON = dict[str, Any]


def _simple_customer(cust: JSON) -> JSON:
    out = {k: cust.get(k) for k in ("id", "source_id", "name", "email")}
    out["metadata"] = cust.get("metadata") or {}
    out["object"] = "customer"
    return out


def _code(body: JSON, key: str) -> str | None:
    part = body.get(key)
    if part is None:
        return None
    if not isinstance(part, dict):
        raise invalid_payload(f"{key} must be an object")
    code = part.get("code")
    if code is not None and not isinstance(code, str):
        raise invalid_payload(f"{key}.code must be a string")
    return code


def _schema_of(state: SandboxState, name: str) -> JSON:
    schemas: JSON = state.extra.setdefault("event_schemas", {})
    if name not in schemas:
        schemas[name] = {"id": state.new_id("ms_"), "name": name}
    return dict(schemas[name])


@route("POST", "/v1/events", operation_id="track-custom-event")
def track_event(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    body = req.json_object()
    name = body.get("event")
    if not isinstance(name, str) or not name:
        raise invalid_payload("event: property is required")
    if not isinstance(body.get("customer"), dict):
        raise invalid_payload("customer: property is required")
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise invalid_payload("metadata must be an object")
    loyalty_code, referral_code = _code(body, "loyalty"), _code(body, "referral")
    loyalty: JSON | None = None
    referral: JSON | None = None
    if loyalty_code is not None:
        card = state.get_voucher_or_404(loyalty_code)
        if card["type"] != "LOYALTY_CARD":
            raise not_found("loyalty_card", loyalty_code)
        loyalty = {"code": card["code"]}
    if referral_code is not None or body.get("referral") is not None:
        referral = {"code": referral_code}
        if referral_code is not None:
            state.get_voucher_or_404(referral_code)
        referrer_id = body["referral"].get("referrer_id")
        if referrer_id is not None:
            if not isinstance(referrer_id, str):
                raise invalid_payload("referral.referrer_id must be a string")
            referral["referrer_id"] = state.get_customer_or_404(referrer_id)["id"]
    from django_voucherify.sandbox.handlers.customers import validate_customer_payload

    customer = state.upsert_customer(validate_customer_payload(dict(body["customer"])))
    simple = _simple_customer(customer)
    event = {
        "id": state.new_id("event_"),
        "object": "event",
        "type": name,
        "customer": simple,
        "metadata": metadata,
        "loyalty": loyalty,
        "referral": referral,
        "created_at": state.now_iso(),
    }
    state.add_customer_activity(
        customer,
        "customer.custom_event",
        {
            "customer": simple,
            "event": event,
            "event_schema": _schema_of(state, name),
            # loyalty/referral here name the campaign the event earned for: none is simulated
            "loyalty": None,
            "referral": None,
        },
    )
    return ok(
        {
            "object": "event",
            "type": name,
            "customer": simple,
            "referral": None,
            "loyalty": None,
            "metadata": metadata,
        }
    )
