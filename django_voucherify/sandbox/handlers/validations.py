"""Validations (``validate-stacked-discounts``) and LOCK session release.

Contract: a validation never mutates vouchers, customers or orders.  Business
failures answer 200 with ``valid: false``, the failing redeemables in
``inapplicable_redeemables`` (``status: INAPPLICABLE``, ``result.error``) and the
others ``SKIPPED`` (application mode ``ALL``); an empty list is left out, as
Voucherify does.  A valid validation with ``session: {type: "LOCK"}`` creates (or,
for a known key, overwrites) a session holding one unit of each voucher and the
gift credits it would use, until it is redeemed with that key, released or
expires (``state.clock``).
"""

from __future__ import annotations

from django_voucherify.sandbox import evaluation, rule_check
from django_voucherify.sandbox.engine import ledger, pricing, sessions, stacking
from django_voucherify.sandbox.engine.ledger import JSON
from django_voucherify.sandbox.errors import invalid_payload, not_found
from django_voucherify.sandbox.handlers.redemptions import order_input
from django_voucherify.sandbox.routing import (
    SandboxRequest,
    SandboxResponse,
    no_content,
    ok,
    route,
)
from django_voucherify.sandbox.state import SandboxState


@route("POST", "/v1/validations", operation_id="validate-stacked-discounts")
def validate(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    sreq = ledger.parse_stack_request(req.json_object())
    session_req = sreq.session or {}
    wants_lock = bool(sreq.session) and (session_req.get("type") or "LOCK") == "LOCK"
    if sreq.session and session_req.get("type") not in (None, "LOCK"):
        raise invalid_payload("session.type: must be LOCK")
    existing = ledger.stored_order(state, sreq.order)
    now_dt = state.now()
    reg = ledger.session_registry(state)
    own = session_req.get("key")
    own_key = str(own) if own else None
    vouchers = [ledger.find_voucher(state, r) for r in sreq.redeemables]
    to_price = order_input(sreq.order, existing)
    ev = evaluation.evaluate(
        state,
        sreq.redeemables,
        vouchers,
        to_price,
        now=now_dt,
        rules=rule_check.checker(state, to_price, sreq.customer),
        previous_discount=int((existing or {}).get("discount_amount") or 0),
        own_key=own_key,
    )
    expand = "redeemable" in sreq.expand
    customer = state.find_customer(
        str((sreq.customer or {}).get("id") or (sreq.customer or {}).get("source_id") or "")
    )
    body: JSON = {"id": state.new_id("valid_"), "valid": ev.valid}
    if ev.valid:
        body["redeemables"] = [stacking.redeemable_view(o, "APPLICABLE", expand) for o in ev.outcomes]
        order_view = pricing.render(ev.calc, to_price)
    else:
        views = [
            stacking.redeemable_view(o, "SKIPPED" if o.applicable else "INAPPLICABLE", expand)
            for o in ev.outcomes
        ]
        for view in views:
            if view["status"] == "INAPPLICABLE":
                view["result"]["error"]["request_id"] = req.request_id
        body["redeemables"] = views
        # Voucherify leaves an empty list out (the spec's examples never show one).
        for key, status in (("skipped_redeemables", "SKIPPED"), ("inapplicable_redeemables", "INAPPLICABLE")):
            if listed := [v for v in views if v["status"] == status]:
                body[key] = listed
        # No discount applies when the validation fails: report the undiscounted order.
        order_view = pricing.render(pricing.start(to_price), to_price)
    if sreq.order is not None:
        order_view.setdefault("object", "order")
        if existing is not None:
            order_view["id"] = existing["id"]
        if customer is not None:
            order_view["customer_id"] = customer["id"]
        order_view.pop("redemptions", None)
        order_view.pop("customer", None)
        body["order"] = order_view
    body["tracking_id"] = sreq.tracking_id or (sreq.customer or {}).get("source_id")
    if ev.valid and wants_lock:
        holds = {
            o.voucher["code"]: sessions.Hold(quantity=1, credits=o.credits)
            for o in ev.outcomes
            if o.voucher is not None
        }
        try:
            session = reg.lock(own_key, session_req.get("ttl"), session_req.get("ttl_unit"), now_dt, holds)
        except ValueError as exc:
            raise invalid_payload(f"session: {exc}") from None
        body["session"] = sessions.session_view(session)
    body["stacking_rules"] = dict(stacking.STACKING_RULES)
    return ok(body)


@route(
    "DELETE",
    "/v1/vouchers/{code}/sessions/{sessionKey}",
    operation_id="release-validation-session",
)
def release_session(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    voucher = state.get_voucher_or_404(req.path_params["code"])
    key = req.path_params["sessionKey"]
    if not ledger.session_registry(state).release(voucher["code"], key, state.now()):
        raise not_found("session", key)
    return no_content()
