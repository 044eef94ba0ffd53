"""Promotion tiers and stacks (SCOPE-2.md "Promotions", 14 operations).

Tiers: list all (``is_available``, paged, ordered), list a campaign's (by ``hierarchy``), add to a
campaign, get, update, delete, enable, disable. Stacks: list all (paged, ordered), list a
campaign's, create, get, update, delete. Storage and views: promotion_store.py; a tier as a
redeemable in validations and redemptions: engine/tiers.py. What is inferred: docs/sandbox.md.
"""

from __future__ import annotations

from typing import Any

from django_voucherify.sandbox import promotion_store
from django_voucherify.sandbox.engine import tiers
from django_voucherify.sandbox.listing import int_param, invalid_param, parse_order
from django_voucherify.sandbox.routing import SandboxRequest, SandboxResponse, no_content, ok, route
from django_voucherify.sandbox.state import SandboxState, parse_iso
from django_voucherify.sandbox.store import micros

JSON = dict[str, Any]
TIER_ORDERS = ("created_at", "-created_at", "updated_at", "-updated_at")
STACK_ORDERS = (*TIER_ORDERS, "name", "-name")


def _sorted(items: list[JSON], field: str, descending: bool) -> list[JSON]:
    """Stable: ties keep creation order. A missing timestamp sorts first."""
    if field == "name":
        return sorted(items, key=lambda o: str(o.get("name") or ""), reverse=descending)
    return sorted(
        items, key=lambda o: micros(parse_iso(o[field])) if o.get(field) else -1, reverse=descending
    )


def _bool_param(query: JSON, name: str) -> bool | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    text = str(raw).lower()
    if text not in ("true", "false"):
        raise invalid_param(name, "must be true or false")
    return text == "true"


# ---- tiers -----------------------------------------------------------------------------------
@route("GET", "/v1/promotions/tiers", operation_id="list-promotion-tiers")
def list_tiers(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    """``is_available=true``: "only non-expired and active promotions" (a tier usable now,
    engine/tiers.active_tiers' test)."""
    q = req.query
    limit = int_param(q, "limit", 10, 1, 100)
    page = int_param(q, "page", 1, 1, 100)
    field, descending = parse_order(q.get("order"), TIER_ORDERS, "created_at")
    items = list(promotion_store.tiers(state).values())
    if _bool_param(q, "is_available"):
        available = {t["id"] for t in tiers.active_tiers(state, state.now())}
        items = [t for t in items if t["id"] in available]
    items = _sorted(items, field, descending)
    start = (page - 1) * limit
    return ok(promotion_store.tier_list(state, items[start : start + limit], total=len(items)))


@route("GET", "/v1/promotions/{campaignId}/tiers", operation_id="list-promotion-tiers-from-campaign")
def list_campaign_tiers(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    campaign = promotion_store.promotion_campaign_or_404(state, req.path_params["campaignId"])
    return ok(promotion_store.tier_list(state, promotion_store.tiers_of(state, campaign["id"])))


@route("POST", "/v1/promotions/{campaignId}/tiers", operation_id="add-promotion-tier-to-campaign")
def add_tier(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    campaign = promotion_store.promotion_campaign_or_404(state, req.path_params["campaignId"])
    # The next hierarchy level by default: a new tier comes after the campaign's others.
    levels = [int(t.get("hierarchy") or 0) for t in promotion_store.tiers_of(state, campaign["id"])]
    built = promotion_store.build_tier(state, campaign["id"], req.json_object(), max(levels, default=0) + 1)
    (tier,) = promotion_store.store_built(state, [built])
    return ok(promotion_store.view(state, tier))


@route("GET", "/v1/promotions/tiers/{promotionTierId}", operation_id="get-promotion-tier")
def get_tier(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    tier = promotion_store.tier_or_404(state, req.path_params["promotionTierId"])
    return ok(promotion_store.view(state, tier))


@route("PUT", "/v1/promotions/tiers/{promotionTierId}", operation_id="update-promotion-tier")
def update_tier(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    tier = promotion_store.tier_or_404(state, req.path_params["promotionTierId"])
    promotion_store.update_tier(state, tier, req.json_object())
    return ok(promotion_store.view(state, tier))


@route("DELETE", "/v1/promotions/tiers/{promotionTierId}", operation_id="delete-promotion-tier")
def delete_tier(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    tier = promotion_store.tier_or_404(state, req.path_params["promotionTierId"])
    promotion_store.remove_tier(state, tier)
    return no_content()


def _set_active(req: SandboxRequest, state: SandboxState, active: bool) -> SandboxResponse:
    tier = promotion_store.tier_or_404(state, req.path_params["promotionTierId"])
    tier["active"] = active
    tier["updated_at"] = state.now_iso()
    return ok(promotion_store.view(state, tier))


@route("POST", "/v1/promotions/tiers/{promotionTierId}/enable", operation_id="enable-promotion-tier")
def enable_tier(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    return _set_active(req, state, True)


@route("POST", "/v1/promotions/tiers/{promotionTierId}/disable", operation_id="disable-promotion-tier")
def disable_tier(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    return _set_active(req, state, False)


# ---- stacks ----------------------------------------------------------------------------------
def _stack_list(items: list[JSON], total: int | None = None) -> JSON:
    return {
        "object": "list",
        "data_ref": "data",
        "data": items,
        "total": len(items) if total is None else total,
    }


@route("GET", "/v1/promotions/stacks", operation_id="list-all-promotion-stacks")
def list_stacks(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    q = req.query
    limit = int_param(q, "limit", 10, 1, 100)
    page = int_param(q, "page", 1, 1, 100)
    field, descending = parse_order(q.get("order"), STACK_ORDERS, "-created_at")
    items = list(promotion_store.stacks(state).values())
    for name in ("created_at", "updated_at"):
        items = _in_window(items, q, name)
    items = _sorted(items, field, descending)
    start = (page - 1) * limit
    return ok(_stack_list(items[start : start + limit], total=len(items)))


def _in_window(items: list[JSON], q: JSON, name: str) -> list[JSON]:
    """``created_at[before]`` / ``[after]`` (and ``updated_at``) filters, exclusive bounds."""
    from django_voucherify.sandbox.listing import date_windows

    for window in date_windows(q, name):
        items = [o for o in items if o.get(name) and window.admits(micros(parse_iso(o[name])))]
    return items


@route("GET", "/v1/promotions/{campaignId}/stacks", operation_id="list-promotion-stacks-in-campaign")
def list_campaign_stacks(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    campaign = promotion_store.promotion_campaign_or_404(state, req.path_params["campaignId"])
    items = [s for s in promotion_store.stacks(state).values() if s["campaign_id"] == campaign["id"]]
    return ok(_stack_list(items))


@route("POST", "/v1/promotions/{campaignId}/stacks", operation_id="create-promotion-stack")
def create_stack(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    campaign = promotion_store.promotion_campaign_or_404(state, req.path_params["campaignId"])
    body = req.json_object()
    name = promotion_store.stack_name(body.get("name"), required=True)
    tier_block = promotion_store.check_stack_tiers(state, campaign, body.get("tiers"))
    stack: JSON = {
        "id": state.new_id("stack_", 24),
        "name": name,
        "created_at": state.now_iso(),
        "campaign_id": campaign["id"],
        "object": "promotion_stack",
        "tiers": tier_block,
    }
    if isinstance(body.get("category_id"), str):
        stack["category_id"] = body["category_id"]
    promotion_store.stacks(state)[stack["id"]] = stack
    return ok(stack)


@route("GET", "/v1/promotions/{campaignId}/stacks/{stackId}", operation_id="get-promotion-stack")
def get_stack(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    campaign = promotion_store.promotion_campaign_or_404(state, req.path_params["campaignId"])
    return ok(promotion_store.stack_or_404(state, campaign, req.path_params["stackId"]))


@route("PUT", "/v1/promotions/{campaignId}/stacks/{stackId}", operation_id="update-promotion-stack")
def update_stack(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    campaign = promotion_store.promotion_campaign_or_404(state, req.path_params["campaignId"])
    stack = promotion_store.stack_or_404(state, campaign, req.path_params["stackId"])
    body = req.json_object()
    name = promotion_store.stack_name(body.get("name"), required=False)
    tier_block = promotion_store.check_stack_tiers(state, campaign, body.get("tiers"), partial=True)
    if name is not None:
        stack["name"] = name
    if tier_block is not None:
        stack["tiers"] = tier_block
    if isinstance(body.get("category_id"), str):
        stack["category_id"] = body["category_id"]
    stack["updated_at"] = state.now_iso()
    return ok(stack)


@route("DELETE", "/v1/promotions/{campaignId}/stacks/{stackId}", operation_id="delete-promotion-stack")
def delete_stack(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    campaign = promotion_store.promotion_campaign_or_404(state, req.path_params["campaignId"])
    stack = promotion_store.stack_or_404(state, campaign, req.path_params["stackId"])
    del promotion_store.stacks(state)[stack["id"]]
    return no_content()
