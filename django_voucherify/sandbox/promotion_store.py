"""Promotion tiers and stacks: where they are stored, how a tier is built and shown.

Stored (persisted with ``--data``, in the API's shapes) in ``state.extra``:
``promotion_tiers`` (``promo_`` id -> tier, creation order) and ``promotion_stacks``
(``stack_`` id -> stack, creation order). A tier keeps its own ``summary`` counters (updated by
redemptions and rollbacks of it, engine/tier_redemptions.py); its ``campaign`` block and
``validation_rule_assignments`` are computed when it is shown (:func:`view`), so a change of the
campaign or of the rules shows at once. A promotion campaign holds no tier list of its own: its
``promotion`` block is the tiers whose ``campaign_id`` is the campaign's (:func:`tier_list`).

A campaign has a handful of tiers: the lookups here scan the tiers store, which is small.
"""

from __future__ import annotations

from typing import Any

from django_voucherify.sandbox import campaign_store, rule_store
from django_voucherify.sandbox.engine.eligibility import validity_problem
from django_voucherify.sandbox.errors import invalid_payload, not_found
from django_voucherify.sandbox.state import SandboxState, parse_iso

JSON = dict[str, Any]

#: Fields of PromotionTierCreateParams / PromotionTierUpdate stored as given (type-checked).
DATES = ("start_date", "expiration_date")
STRINGS = ("name", "banner")
OBJECTS = ("metadata", "validity_timeframe", "validity_hours")
MAX_STACK_TIERS = 30  # PromotionStackBase: "A promotion stack can include up to 30 tiers."


TIERS = "promotion_tiers"  # the key of the tiers store in ``state.extra``


def tiers(state: SandboxState) -> dict[str, JSON]:
    found: dict[str, JSON] = state.extra.setdefault(TIERS, {})
    return found


def stacks(state: SandboxState) -> dict[str, JSON]:
    found: dict[str, JSON] = state.extra.setdefault("promotion_stacks", {})
    return found


def tier_or_404(state: SandboxState, tier_id: str) -> JSON:
    tier = tiers(state).get(tier_id)
    if tier is None:
        raise not_found("promotion_tier", tier_id)
    return tier


def tiers_of(state: SandboxState, campaign_id: str) -> list[JSON]:
    """The campaign's tiers by ``hierarchy`` (ties: creation order)."""
    found = [t for t in tiers(state).values() if t.get("campaign_id") == campaign_id]
    return sorted(found, key=lambda t: int(t.get("hierarchy") or 0))


def promotion_campaign_or_404(state: SandboxState, campaign_id: str) -> JSON:
    campaign = campaign_store.get_or_404(state, campaign_id)
    if campaign.get("campaign_type") != "PROMOTION":
        raise invalid_payload(f"campaign {campaign['name']} is not a PROMOTION campaign")
    return campaign


def stack_or_404(state: SandboxState, campaign: JSON, stack_id: str) -> JSON:
    stack = stacks(state).get(stack_id)
    if stack is None or stack.get("campaign_id") != campaign["id"]:
        raise not_found("promotion_stack", stack_id)
    return stack


# ---- building a tier from a request ----------------------------------------------------------
def _check(payload: JSON) -> None:
    for name in STRINGS:
        if payload.get(name) is not None and not isinstance(payload[name], str):
            raise invalid_payload(f"{name} must be a string")
    for name in DATES:
        if payload.get(name) is not None:
            try:
                parse_iso(str(payload[name]))
            except ValueError:
                raise invalid_payload(f"{name} must be an ISO 8601 date-time") from None
    for name in OBJECTS:
        if payload.get(name) is not None and not isinstance(payload[name], dict):
            raise invalid_payload(f"{name} must be an object")
    if problem := validity_problem(payload):
        raise invalid_payload(problem)
    days = payload.get("validity_day_of_week")
    if days is not None and (
        not isinstance(days, list)
        or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6 for d in days)
    ):
        raise invalid_payload("validity_day_of_week must be an array of integers 0-6")
    if payload.get("active") is not None and not isinstance(payload["active"], bool):
        raise invalid_payload("active must be a boolean")
    hierarchy = payload.get("hierarchy")
    if hierarchy is not None and (not isinstance(hierarchy, int) or isinstance(hierarchy, bool)):
        raise invalid_payload("hierarchy must be an integer")
    rules = payload.get("validation_rules")
    if rules is not None and (not isinstance(rules, list) or not all(isinstance(r, str) for r in rules)):
        raise invalid_payload("validation_rules must be an array of validation rule ids")


def _action(raw: Any) -> JSON:
    """The tier's ``action``: a discount checked as a voucher's is (AMOUNT, PERCENT, FIXED...)."""
    from django_voucherify.sandbox.handlers.vouchers import _discount

    if not isinstance(raw, dict) or raw.get("discount") is None:
        raise invalid_payload("action.discount: property is required")
    return {"discount": _discount(raw["discount"])}


def _rules_or_404(state: SandboxState, rule_ids: list[str]) -> list[str]:
    stored = rule_store.rules(state)
    for rule_id in rule_ids:
        if rule_id not in stored:
            raise not_found("validation_rules", rule_id)
    return rule_ids


def _assign(state: SandboxState, tier_id: str, rule_ids: list[str]) -> None:
    for rule_id in rule_ids:
        rule_store.add_assignment(
            state,
            {
                "id": state.new_id("asgm_", 16),
                "rule_id": rule_id,
                "related_object_id": tier_id,
                "related_object_type": "promotion_tier",
                "created_at": state.now_iso(),
                "object": "validation_rules_assignment",
            },
        )


def build_tier(state: SandboxState, campaign_id: str, payload: Any, hierarchy: int) -> tuple[JSON, list[str]]:
    """A new tier of the campaign from a create payload (400 on a bad one) and the validation
    rules to assign to it (404 for an unknown rule). Nothing is stored yet."""
    if not isinstance(payload, dict):
        raise invalid_payload("a promotion tier must be an object")
    _check(payload)
    if not isinstance(payload.get("name"), str) or not payload["name"].strip():
        raise invalid_payload("name: property is required")
    action = _action(payload.get("action"))
    rule_ids = _rules_or_404(state, list(payload.get("validation_rules") or []))
    tier: JSON = {
        "id": state.new_id("promo_", 24),
        "created_at": state.now_iso(),
        "updated_at": None,
        "name": payload["name"],
        "banner": payload.get("banner"),
        "action": action,
        "metadata": payload.get("metadata") or {},
        "hierarchy": payload["hierarchy"] if payload.get("hierarchy") is not None else hierarchy,
        "promotion_id": campaign_id,
        "campaign_id": campaign_id,
        "active": payload.get("active") is not False,
        "summary": {
            "redemptions": {"total_redeemed": 0},
            "orders": {"total_amount": 0, "total_discount_amount": 0},
        },
        "object": "promotion_tier",
    }
    for name in (*DATES, "validity_timeframe", "validity_day_of_week", "validity_hours"):
        if payload.get(name) is not None:
            tier[name] = payload[name]
    return tier, rule_ids


def store_built(state: SandboxState, built: list[tuple[JSON, list[str]]]) -> list[JSON]:
    """Store tiers made by :func:`build_tier` (all checked first: one bad payload stores none)
    with their rules' assignments."""
    for tier, rule_ids in built:
        tiers(state)[tier["id"]] = tier
        _assign(state, tier["id"], rule_ids)
    return [tier for tier, _ in built]


def update_tier(state: SandboxState, tier: JSON, payload: JSON) -> None:
    _check(payload)
    if "name" in payload and (not isinstance(payload["name"], str) or not payload["name"].strip()):
        raise invalid_payload("name must be a non-empty string")
    changes: JSON = {}
    if payload.get("action") is not None:
        changes["action"] = _action(payload["action"])
    for name in (*STRINGS, "metadata", "hierarchy", "active"):
        if payload.get(name) is not None:
            changes[name] = payload[name]
    rule_ids = _rules_or_404(state, list(payload.get("validation_rules") or []))
    for name in (*DATES, "validity_timeframe", "validity_day_of_week", "validity_hours"):
        if name in payload:
            changes[name] = payload[name]
    tier.update(changes)
    for name in (*DATES, "validity_timeframe", "validity_day_of_week", "validity_hours"):
        if name in tier and tier[name] is None:
            del tier[name]  # cleared: shown as absent
    known = {a["rule_id"] for a in rule_store.object_assignments(state, [tier["id"]])}
    _assign(state, tier["id"], [r for r in rule_ids if r not in known])
    tier["updated_at"] = state.now_iso()


def remove_tier(state: SandboxState, tier: JSON) -> None:
    """Delete a tier, its rule assignments, and its id from the stacks naming it (a stack left
    with no tier goes too: ``tiers.ids`` needs one at least)."""
    tiers(state).pop(tier["id"], None)
    for assignment in rule_store.object_assignments(state, [tier["id"]]):
        rule_store.remove_assignment(state, assignment["id"])
    stored = stacks(state)
    for stack in list(stored.values()):
        ids = stack["tiers"]["ids"]
        if tier["id"] in ids:
            stack["tiers"]["ids"] = [i for i in ids if i != tier["id"]]
            if not stack["tiers"]["ids"]:
                del stored[stack["id"]]


def remove_campaign(state: SandboxState, campaign_id: str) -> None:
    """A deleted campaign's tiers and stacks go with it."""
    for tier in [t for t in tiers(state).values() if t.get("campaign_id") == campaign_id]:
        remove_tier(state, tier)
    for stack_id in [s["id"] for s in stacks(state).values() if s.get("campaign_id") == campaign_id]:
        del stacks(state)[stack_id]


# ---- views -----------------------------------------------------------------------------------
def campaign_block(campaign: JSON | None) -> JSON | None:
    """PromotionTier.campaign: the parent campaign's activity fields."""
    if campaign is None:
        return None
    block: JSON = {
        "id": campaign["id"],
        "start_date": campaign.get("start_date"),
        "expiration_date": campaign.get("expiration_date"),
        "active": campaign.get("active") is not False,
        "category_id": campaign.get("category_id"),
        "object": "campaign",
    }
    for name in ("validity_timeframe", "validity_day_of_week", "validity_hours"):
        if campaign.get(name) is not None:
            block[name] = campaign[name]
    return block


def assignments_list(state: SandboxState, tier_id: str) -> JSON:
    data = [dict(a) for a in rule_store.object_assignments(state, [tier_id])]
    return {"object": "list", "data_ref": "data", "data": data, "total": len(data)}


def view(state: SandboxState, tier: JSON) -> JSON:
    """The tier as the API sends it (its campaign's block and its rules' assignments live)."""
    campaign = campaign_store.campaigns(state).get(tier.get("campaign_id") or "")
    summary = tier.get("summary") or {}
    return {
        **tier,
        "campaign": campaign_block(campaign),
        "summary": {
            "redemptions": dict(summary.get("redemptions") or {}),
            "orders": dict(summary.get("orders") or {}),
        },
        "validation_rule_assignments": assignments_list(state, tier["id"]),
    }


def tier_list(state: SandboxState, items: list[JSON], total: int | None = None) -> JSON:
    """PromotionTiersList (``data_ref: tiers``)."""
    shown = [view(state, t) for t in items]
    count = len(items) if total is None else total
    return {
        "object": "list",
        "data_ref": "tiers",
        "tiers": shown,
        "total": count,
        "has_more": count > len(shown),
    }


def resolve_tier(state: SandboxState, ref: str) -> str | None:
    """rule_store resolver: a tier id when the tier exists, else None (a 404 for the caller)."""
    return ref if ref in tiers(state) else None


def check_stack_tiers(state: SandboxState, campaign: JSON, raw: Any, partial: bool = False) -> JSON | None:
    """A stack's ``tiers`` block: 1..30 ids of tiers of ``campaign``, in order, each once;
    ``hierarchy_mode`` MANUAL (the only value the spec knows)."""
    if raw is None and partial:
        return None
    if not isinstance(raw, dict):
        raise invalid_payload("tiers: property is required (an object with ids)")
    ids = raw.get("ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise invalid_payload("tiers.ids: must be a non-empty array of promotion tier ids")
    if len(ids) > MAX_STACK_TIERS:
        raise invalid_payload(f"tiers.ids: a promotion stack can include up to {MAX_STACK_TIERS} tiers")
    if len(set(ids)) != len(ids):
        raise invalid_payload("tiers.ids: each tier can be listed only once")
    mode = raw.get("hierarchy_mode") or "MANUAL"
    if mode != "MANUAL":
        raise invalid_payload("tiers.hierarchy_mode: must be MANUAL")
    stored = tiers(state)
    for tier_id in ids:
        tier = stored.get(tier_id)
        if tier is None:
            raise not_found("promotion_tier", tier_id)
        if tier.get("campaign_id") != campaign["id"]:
            raise invalid_payload(f"tiers.ids: {tier_id} is not a tier of campaign {campaign['name']}")
    return {"ids": list(ids), "hierarchy_mode": mode}


def stack_name(raw: Any, required: bool) -> str | None:
    if raw is None and not required:
        return None
    if not isinstance(raw, str) or not raw.strip():
        raise invalid_payload("name: property is required (a non-empty string)")
    return raw
