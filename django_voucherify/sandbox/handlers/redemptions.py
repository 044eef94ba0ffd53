"""Redemptions: redeem (stacked), get, list, a voucher's redemptions, rollbacks.

Contract: handlers run under ``state.lock`` (the app holds it), so the whole
check-then-mutate sequence of a redeem is atomic: 64 threads redeeming a
voucher of quantity 10 get exactly 10 successes.  Shapes follow the spec's
``RedemptionsRedeemResponseBody``, ``RedemptionsGetResponseBody``,
``RedemptionsListResponseBody``, ``VouchersRedemptionGetResponseBody``; the
rollback operations live in :mod:`~django_voucherify.sandbox.engine.rollback`.
Inferred behaviour is written down in docs/sandbox-redemptions.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django_voucherify.sandbox import evaluation, rule_check
from django_voucherify.sandbox.engine import ledger, pricing, rollback, stacking, tier_redemptions, tiers
from django_voucherify.sandbox.engine.ledger import JSON, StackRequest
from django_voucherify.sandbox.errors import SandboxError, invalid_payload, not_found
from django_voucherify.sandbox.filters import conditions_predicate
from django_voucherify.sandbox.listing import date_windows, frozen, select
from django_voucherify.sandbox.objects import list_envelope
from django_voucherify.sandbox.routing import SandboxRequest, SandboxResponse, ok, route
from django_voucherify.sandbox.state import SandboxState, iso

_DISCOUNT_FIELDS = (
    "discount_amount",
    "items_discount_amount",
    "total_discount_amount",
    "total_amount",
    "applied_discount_amount",
    "items_applied_discount_amount",
    "total_applied_discount_amount",
)


def order_input(req_order: JSON | None, existing: JSON | None) -> JSON | None:
    """The order to price: the stored order (when linked) overlaid with the request's
    fields, without previously computed amounts (the engine recomputes them)."""
    if req_order is None:
        return None
    merged: JSON = dict(existing or {})
    merged.update(req_order)
    for key in _DISCOUNT_FIELDS:
        merged.pop(key, None)
    if existing is not None and "amount" not in req_order and req_order.get("items"):
        merged.pop("amount", None)  # new items: derive the amount from them
    return merged


def _failed(
    state: SandboxState,
    sreq: StackRequest,
    outcome: stacking.Outcome,
    voucher: JSON | None,
    customer: JSON | None,
    app_id: str | None,
    now: str,
) -> JSON:
    """Store a failed redemption (``rf_``) for one inapplicable redeemable."""
    assert outcome.failure is not None
    red = ledger.base_redemption(state, state.new_id("rf_"), now, sreq, customer, app_id)
    red.update(
        result="FAILURE",
        status="FAILED",
        failure_code=outcome.failure.key,
        failure_message=outcome.failure.message,
        order=None,
        related_object_type="voucher",
    )
    if voucher is not None and tiers.is_tier(outcome.request):
        tier_redemptions.mark(state, red, voucher["id"])
    elif voucher is not None:  # not-found failures have no voucher to point at
        red["related_object_id"] = voucher["id"]
        red["voucher"] = ledger.voucher_snapshot(voucher)
    state.redemptions[red["id"]] = red
    ledger.index_for_voucher(state, voucher["id"] if voucher else None, red["id"])
    ledger.count_redemption(customer, success=False)
    return red


def _apply_success(
    state: SandboxState,
    outcome: stacking.Outcome,
    voucher: JSON,
    red: JSON,
    session_key: str | None,
) -> None:
    """Voucher side effects of one successful child redemption."""
    counters = voucher.setdefault("redemption", {})
    counters["redeemed_quantity"] = int(counters.get("redeemed_quantity") or 0) + 1
    if voucher.get("type") == "GIFT_VOUCHER":
        gift = voucher.setdefault("gift", {})
        gift["balance"] = int(gift.get("balance") or 0) - outcome.credits
        red["amount"] = outcome.credits
        red["gift"] = {"amount": outcome.credits}
        state.add_voucher_transaction(
            voucher,
            "CREDITS_REDEMPTION",
            {
                "type": "gift_voucher",
                "total": int(gift.get("amount") or 0),
                "amount": -outcome.credits,
                "object": "balance",
                "balance": gift["balance"],
                "related_object": {"id": voucher["id"], "type": "voucher"},
            },
            source_id=red.get("tracking_id"),
            details={"redemption": {"id": red["id"]}},
        )
    if session_key:
        ledger.session_registry(state).consume(session_key, voucher["code"])
        red["session"] = {"key": session_key}
    red["voucher"] = ledger.voucher_snapshot(voucher)


def redeem_stack(state: SandboxState, sreq: StackRequest, app_id: str | None) -> JSON:
    """Redeem ``sreq`` or raise the failing redeemable's error (after storing the
    ``rf_`` failed redemptions).  Returns the response body."""
    # The order first: an unknown order id is a 404 that must leave the customer unchanged
    # (a failed redeem's rf_ records and customer upsert come only from business refusals).
    existing = ledger.stored_order(state, sreq.order)
    customer = state.upsert_customer(sreq.customer) if sreq.customer else None
    now_dt = state.now()
    now = iso(now_dt)
    own = (sreq.session or {}).get("key")
    own_key = str(own) if own else None
    vouchers = [ledger.find_voucher(state, r) for r in sreq.redeemables]
    previous = int((existing or {}).get("discount_amount") or 0)
    to_price = order_input(sreq.order, existing)
    ev = evaluation.evaluate(
        state,
        sreq.redeemables,
        vouchers,
        to_price,
        now=now_dt,
        rules=rule_check.checker(state, to_price, sreq.customer),
        previous_discount=previous,
        own_key=own_key,
    )
    if not ev.valid:
        stored = [_failed(state, sreq, o, vouchers[o.index], customer, app_id, now) for o in ev.failures]
        first, failed = ev.failures[0], stored[0]
        assert first.failure is not None
        state.changed()  # the app only persists after successful requests
        resource = first.code if first.failure.key == "not_found" else failed["id"]
        raise ledger.redemption_error(
            first.failure.key,
            first.failure.code,
            f"{first.failure.details} (redeemable {first.index}: {first.code})",
            resource,
            error_message=first.failure.error_message,
        )

    stacked = len(ev.outcomes) > 1
    parent_id = state.new_id("r_") if stacked else None
    children: list[JSON] = []
    for outcome in ev.outcomes:
        voucher = vouchers[outcome.index]
        assert voucher is not None
        red = ledger.base_redemption(state, state.new_id("r_"), now, sreq, customer, app_id)
        red.update(
            redemption=parent_id,
            result="SUCCESS",
            status="SUCCEEDED",
            related_object_type="voucher",
            related_object_id=voucher["id"],
        )
        effect: JSON = {
            "order_level": outcome.order_level,
            "items_level": outcome.items_level,
            "credits": outcome.credits,
        }
        if tiers.is_tier(outcome.request):  # a promotion tier: its own counters
            effect["order_amount"] = int(ev.calc.amount or 0)
            tier_redemptions.apply_success(
                state, voucher["id"], outcome.discount, effect["order_amount"], red, own_key
            )
        else:
            _apply_success(state, outcome, voucher, red, own_key)
        ledger.count_redemption(customer, success=True, credits=outcome.credits)
        ledger.effects(state)[red["id"]] = effect
        state.redemptions[red["id"]] = red
        ledger.index_for_voucher(state, voucher["id"], red["id"])
        children.append(red)

    order: JSON | None = None
    if sreq.order is not None:
        view = pricing.render(ev.calc, to_price)
        order = ledger.save_order(state, sreq.order, existing, view, customer, now)
        first_voucher = ev.outcomes[0].voucher or {}
        if parent_id:
            order["redemptions"][parent_id] = {
                "date": now,
                "related_object_type": "redemption",
                "related_object_id": parent_id,
                "stacked": [c["id"] for c in children],
            }
        else:
            order["redemptions"][children[0]["id"]] = {
                "date": now,
                "related_object_type": children[0]["related_object_type"],
                "related_object_id": first_voucher.get("id"),
                "related_object_parent_id": first_voucher.get("campaign_id"),
            }
    entry = parent_id or children[0]["id"]
    stored_view = ledger.order_ref(order, entry)
    order_view = ledger.order_ref(order)
    for child in children:
        child["order"] = stored_view
    body: JSON = {"redemptions": children}
    if parent_id:
        parent = ledger.base_redemption(state, parent_id, now, sreq, customer, app_id)
        parent.update(
            result="SUCCESS",
            status="SUCCEEDED",
            order=stored_view,
            related_object_type="redemption",
            related_object_id=parent_id,
            related_redemptions={"redemptions": [{"id": c["id"], "date": now} for c in children]},
        )
        if own_key:
            parent["session"] = {"key": own_key}
        state.redemptions[parent_id] = parent
        ledger.effects(state)[parent_id] = {"children": [c["id"] for c in children]}
        body["parent_redemption"] = parent
    if order_view is not None:
        body["order"] = order_view
    # A successful redemption has no inapplicable or skipped redeemables, and Voucherify leaves
    # those lists out when empty (as in validate-stacked-discounts' examples).
    return body


@route("POST", "/v1/redemptions", operation_id="redeem-stacked-discounts")
def redeem(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    sreq = ledger.parse_stack_request(req.json_object())
    return ok(redeem_stack(state, sreq, req.headers.get("x-app-id")))


@route("GET", "/v1/redemptions/{redemptionId}", operation_id="get-redemption")
def get_redemption(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    rid = req.path_params["redemptionId"]
    obj = state.redemptions.get(rid) or state.rollbacks.get(rid)
    if obj is None:
        raise not_found("redemption", rid)
    return ok(obj)


def _int_param(query: JSON, name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(str(raw))
    except ValueError:
        raise invalid_payload(f"{name}: must be an integer") from None
    if not low <= value <= high:
        raise invalid_payload(f"{name}: must be between {low} and {high}")
    return value


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


# list-redemptions' ``filters[...]`` fields (the spec's ParameterFiltersListRedemptions).
FILTER_FIELDS = {
    "voucher_code": lambda r: (r.get("voucher") or {}).get("code"),
    "related_object_id": lambda r: r.get("related_object_id"),
    "related_object_parent_id": lambda r: (
        r.get("related_object_parent_id")
        or (r.get("voucher") or {}).get("campaign_id")
        or (r.get("promotion_tier") or {}).get("campaign_id")
    ),
    "parent_redemption_id": lambda r: r.get("redemption"),
    "failure_code": lambda r: r.get("failure_code"),
    "result": lambda r: r.get("result"),
    "object": lambda r: r.get("object"),
    "customer_id": lambda r: r.get("customer_id"),
    "campaign_name": lambda r: (r.get("voucher") or {}).get("campaign"),
    "user_login": lambda r: None,  # no dashboard users in the sandbox
}
LIST_ORDERS = ("created_at", "id", "voucher_code", "tracking_id", "customer_id", "date")


def _list_filter(state: SandboxState, q: JSON) -> tuple[Any, Any]:
    """The list's filters as one predicate (None when none is set) and a key naming them."""
    tests: list[Callable[[JSON], bool]] = []
    results = set(_as_list(q.get("result")))
    if results:
        tests.append(lambda r: r.get("result") in results)
    customer_ids: set[str | None] = set()
    for c in _as_list(q.get("customer")):
        found = state.find_customer(c)
        customer_ids.add(found["id"] if found else c)
    if customer_ids:
        tests.append(lambda r: r.get("customer_id") in customer_ids)
    campaigns = set(_as_list(q.get("campaign")))
    if campaigns:
        tests.append(lambda r: (r.get("voucher") or {}).get("campaign") in campaigns)
    try:
        advanced = conditions_predicate(q.get("filters"), FILTER_FIELDS, any_field=False)
    except SandboxError as err:
        raise invalid_payload(err.details or err.message) from None
    if advanced is not None:
        tests.append(advanced)
    if not tests:
        return None, None
    key = (frozenset(results), frozenset(customer_ids), frozenset(campaigns), frozen(q.get("filters")))
    return (lambda r: all(test(r) for test in tests)), key


@route("GET", "/v1/redemptions", operation_id="list-redemptions")
def list_redemptions(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    """Newest first by default; filters ``result``, ``customer`` (id or source_id),
    ``campaign`` (name), ``created_at[before|after]`` and ``filters[...]``; ``page`` 1..99,
    ``limit`` 1..100. Redemptions and rollbacks list together."""
    q = req.query
    limit = _int_param(q, "limit", 10, 1, 100)
    page = _int_param(q, "page", 1, 1, 99)
    order_by = str(q.get("order") or "-created_at")
    field = order_by.lstrip("-")
    if field not in LIST_ORDERS:
        raise invalid_payload(f"order: must be one of {', '.join(LIST_ORDERS[:-1])} (or -field)")
    field = "created_at" if field == "date" else field
    try:
        windows = date_windows(q, "created_at")
    except SandboxError:
        raise invalid_payload("created_at: must be an ISO 8601 date") from None
    matches, key = _list_filter(state, q)
    selection = select(state.redemptions, field, order_by.startswith("-"), windows, matches, key)
    return ok(list_envelope("redemptions", selection.page(page, limit), total=selection.total))


@route("GET", "/v1/vouchers/{code}/redemption", operation_id="get-voucher-redemptions")
def voucher_redemptions(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    voucher = state.get_voucher_or_404(req.path_params["code"])
    entries = ledger.voucher_entries(state, voucher["id"])
    counters = voucher.get("redemption") or {}
    return ok(
        {
            "quantity": counters.get("quantity"),
            "redeemed_quantity": int(counters.get("redeemed_quantity") or 0),
            "object": "list",
            "url": f"/v1/vouchers/{voucher['code']}/redemptions?page=1&limit=10",
            "data_ref": "redemption_entries",
            "total": len(entries),
            "redemption_entries": entries,
        }
    )


@route("POST", "/v1/redemptions/{redemptionId}/rollback", operation_id="rollback-redemption")
def rollback_single(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    body = req.json_object()
    return ok(rollback.rollback_single(state, req.path_params["redemptionId"], req.query, body))


@route(
    "POST",
    "/v1/redemptions/{parentRedemptionId}/rollbacks",
    operation_id="rollback-stacked-redemptions",
)
def rollback_stacked(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    body = req.json_object()
    rid = req.path_params["parentRedemptionId"]
    return ok(rollback.rollback_stacked(state, rid, req.query, body))
