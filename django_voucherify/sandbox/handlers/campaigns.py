"""Campaigns (SCOPE-2.md "Campaigns", 14 operations): create, list, get, update, delete, add
vouchers (generated or with a given code), import (JSON, CSV), enable/disable, transactions
(list, export) and summary.

Codes are generated from the campaign's ``code_config`` (engine/codegen.py) in a
``CAMPAIGN.VOUCHERS_GENERATE`` async action, one chunk per hold of the state lock
(campaign_vouchers.py). A campaign's vouchers inherit its voucher template. Storage and
indexes: campaign_store.py. What is simulated and what is inferred: docs/sandbox.md.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

from django_voucherify.sandbox import campaign_store, jobs, promotion_store, request_schema, rule_store
from django_voucherify.sandbox.engine import ledger
from django_voucherify.sandbox.engine.codegen import ALPHANUMERIC, CodeSource
from django_voucherify.sandbox.engine.eligibility import validity_problem
from django_voucherify.sandbox.errors import SandboxError, duplicate_found, invalid_payload
from django_voucherify.sandbox.filters import conditions_predicate
from django_voucherify.sandbox.handlers import campaign_vouchers, export_params
from django_voucherify.sandbox.handlers.async_actions import accepted, finish, start_async_action
from django_voucherify.sandbox.handlers.exports import create_export
from django_voucherify.sandbox.handlers.imports import multipart_file, read_csv, voucher_from_csv
from django_voucherify.sandbox.handlers.vouchers import _discount
from django_voucherify.sandbox.listing import cursor_slice, date_param, int_param, invalid_param, parse_order
from django_voucherify.sandbox.routing import SandboxRequest, SandboxResponse, ok, route
from django_voucherify.sandbox.state import SandboxState, parse_iso
from django_voucherify.sandbox.store import micros

JSON = dict[str, Any]

CAMPAIGN_TYPES = ("DISCOUNT_COUPONS", "GIFT_VOUCHERS", "LOYALTY_PROGRAM", "PROMOTION", "REFERRAL_PROGRAM")
VOUCHER_TYPE = {
    "DISCOUNT_COUPONS": "DISCOUNT_VOUCHER",
    "REFERRAL_PROGRAM": "DISCOUNT_VOUCHER",
    "GIFT_VOUCHERS": "GIFT_VOUCHER",
    "LOYALTY_PROGRAM": "LOYALTY_CARD",
}
KINDS = ("AUTO_UPDATE", "STATIC", "STANDALONE")
#: Fields create-campaign stores as given (after a type check), beside those built here.
COPIED = (
    "description",
    "start_date",
    "expiration_date",
    "validity_timeframe",
    "validity_day_of_week",
    "validity_hours",
    "activity_duration_after_publishing",
    "auto_join",
    "join_once",
    "use_voucher_metadata_schema",
    "metadata",
    "referral_program",
)
#: Fields update-campaign may change (CampaignsUpdateBase and the coupon/gift/loyalty parts);
#: others are silently skipped, as the spec says.
UPDATABLE = (
    "description",
    "start_date",
    "expiration_date",
    "validity_timeframe",
    "validity_day_of_week",
    "validity_hours",
    "activity_duration_after_publishing",
    "auto_join",
    "join_once",
    "metadata",
    "type",
    "referral_program",
)
#: Voucher fields an update of the campaign carries to its unpublished, unredeemed vouchers.
PROPAGATED = ("start_date", "expiration_date", "validity_timeframe", "validity_day_of_week", "validity_hours")
BOOLEANS = ("auto_join", "join_once", "use_voucher_metadata_schema")
DATES = ("start_date", "expiration_date")
OBJECTS = ("metadata", "validity_timeframe", "validity_hours", "referral_program")
NO_RULES: JSON = {"object": "list", "data_ref": "data", "data": [], "total": 0}
LIST_ORDERS = ("created_at", "-created_at", "updated_at", "-updated_at")


# ---- checks ---------------------------------------------------------------------------------
def _check_fields(payload: JSON, names: tuple[str, ...]) -> None:
    for name in names:
        value = payload.get(name)
        if value is None:
            continue
        if name in ("validity_timeframe", "validity_hours") and (problem := validity_problem({name: value})):
            raise invalid_payload(problem)
        if name in DATES:
            try:
                parse_iso(str(value))
            except ValueError:
                raise invalid_payload(f"{name} must be an ISO 8601 date-time") from None
        elif name in BOOLEANS and not isinstance(value, bool):
            raise invalid_payload(f"{name} must be a boolean")
        elif name in OBJECTS and not isinstance(value, dict):
            raise invalid_payload(f"{name} must be an object")
        elif name == "referral_program":
            # Stored and answered as ReferralProgram, which the request's other campaign types
            # leave free: a custom_event of -1 broke every answer showing the campaign.
            request_schema.check_component("ReferralProgram", value, name)
        elif name == "validity_day_of_week" and (
            not isinstance(value, list) or not all(isinstance(d, int) and 0 <= d <= 6 for d in value)
        ):
            raise invalid_payload("validity_day_of_week must be an array of integers 0-6")
        elif name in ("description", "activity_duration_after_publishing") and not isinstance(value, str):
            raise invalid_payload(f"{name} must be a string")


def _count(value: Any, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            raise invalid_param(name, "must be an integer") from None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise invalid_payload(f"{name} must be a non-negative integer")
    if value > 1_000_000:
        raise invalid_payload(f"{name} must be at most 1000000 in the sandbox")
    return value


def _template(campaign_type: str, raw: Any) -> JSON:
    """The campaign's voucher template (CampaignVoucher) from the request's ``voucher``."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise invalid_payload("voucher must be an object")
    vtype = VOUCHER_TYPE[campaign_type]
    template: JSON = {"type": vtype}
    if vtype == "DISCOUNT_VOUCHER":
        template["discount"] = _discount(raw.get("discount"))
    elif vtype == "GIFT_VOUCHER":
        gift = raw.get("gift")
        amount = gift.get("amount") if isinstance(gift, dict) else None
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            raise invalid_payload("voucher.gift.amount must be a non-negative integer")
        template["gift"] = {"amount": amount, "effect": gift.get("effect") or "APPLY_TO_ORDER"}  # type: ignore[union-attr]
    else:
        card = raw.get("loyalty_card")
        points = card.get("points") if isinstance(card, dict) else None
        if not isinstance(points, int) or isinstance(points, bool) or points < 0:
            raise invalid_payload("voucher.loyalty_card.points must be a non-negative integer")
        template["loyalty_card"] = {"points": points}
    config = raw.get("code_config")
    source = CodeSource(config)  # 400 on a bad config, before anything is stored
    # Stored complete, as Voucherify answers it: a length alone becomes its "#" pattern.
    template["code_config"] = {
        "charset": ALPHANUMERIC,
        "length": source.placeholders,
        **{k: v for k, v in (config or {}).items() if v is not None},
        "pattern": source.pattern,
    }
    redemption = raw.get("redemption")
    if redemption is not None:
        quantity = redemption.get("quantity") if isinstance(redemption, dict) else "bad"
        if quantity is not None and (
            not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0
        ):
            raise invalid_payload("voucher.redemption.quantity must be a non-negative integer or null")
        template["redemption"] = {"quantity": quantity}
    else:
        template["redemption"] = {"quantity": None}
    _check_fields(raw, (*DATES, "validity_timeframe", "validity_day_of_week", "validity_hours", "metadata"))
    for name in (*DATES, "validity_timeframe", "validity_day_of_week", "validity_hours", "metadata"):
        if raw.get(name) is not None:
            template[name] = raw[name]
    template["is_referral_code"] = campaign_type == "REFERRAL_PROGRAM"
    return template


# ---- views ----------------------------------------------------------------------------------
def view(state: SandboxState, campaign: JSON) -> JSON:
    """The campaign as the API sends it: its live ``vouchers_count``, the validation rules
    assigned to it (rule_store's index by related object: one lookup; review 17: the list was
    always empty) and a promotion's tiers."""
    assigned = rule_store.object_assignments(state, [campaign["id"]])
    shown = {
        **campaign,
        "vouchers_count": campaign_store.vouchers_count(state, campaign["id"]),
        "validation_rules_assignments": {**NO_RULES, "data": assigned, "total": len(assigned)},
    }
    if campaign["campaign_type"] == "PROMOTION":
        shown["promotion"] = promotion_store.tier_list(state, promotion_store.tiers_of(state, campaign["id"]))
    return shown


def _touch(state: SandboxState, campaign: JSON) -> None:
    campaign["updated_at"] = state.now_iso()


# ---- create ---------------------------------------------------------------------------------
@route("POST", "/v1/campaigns", operation_id="create-campaign")
def create_campaign(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    payload = req.json_object()
    name = payload.get("name")
    if not isinstance(name, str) or not name.strip():
        raise invalid_payload("name: property is required")
    campaign_type = payload.get("campaign_type")
    if campaign_type not in CAMPAIGN_TYPES:
        raise invalid_payload(f"campaign_type must be one of {', '.join(CAMPAIGN_TYPES)}")
    kind = payload.get("type") or ("STATIC" if campaign_type == "PROMOTION" else "AUTO_UPDATE")
    if kind not in KINDS:
        raise invalid_payload(f"type must be one of {', '.join(KINDS)}")
    _check_fields(payload, COPIED)
    count = _count(payload.get("vouchers_count"), "vouchers_count", 0)
    template = _template(campaign_type, payload.get("voucher")) if campaign_type in VOUCHER_TYPE else None
    promotion = payload.get("promotion") if campaign_type == "PROMOTION" else None
    if promotion is not None and (
        not isinstance(promotion, dict) or not isinstance(promotion.get("tiers") or [], list)
    ):
        raise invalid_payload("promotion.tiers must be an array of promotion tiers")
    source = CodeSource(template["code_config"]) if template else None
    if source is not None:
        source.check_room(count)
    if campaign_store.name_taken(state, name):
        raise duplicate_found("campaign", name)
    now = state.now_iso()
    from django_voucherify.sandbox.handlers.vouchers import _category

    category, category_id, categories = _category(state, payload.get("category"), now)
    campaign: JSON = {
        "id": state.new_id("camp_", 24),
        "name": name,
        "description": None,
        "campaign_type": campaign_type,
        "type": kind,
        "auto_join": False,
        "join_once": False,
        "use_voucher_metadata_schema": False,
        "vouchers_count": 0,
        "active": True,
        "metadata": {},
        "created_at": now,
        "updated_at": None,
        "category": category,
        "category_id": payload.get("category_id") or category_id,
        "categories": categories,
        "creation_status": "DONE",
        "vouchers_generation_status": "DONE",
        "protected": False,
        "readonly": False,
        "object": "campaign",
        "validation_rules_assignments": NO_RULES,
    }
    campaign.update({k: payload[k] for k in COPIED if payload.get(k) is not None})
    if template is not None:
        campaign["voucher"] = template
    # A promotion's tiers are stored on their own (promotion_store) and view() lists them. All
    # are checked before anything is stored: a bad tier fails the whole creation.
    built = [
        promotion_store.build_tier(state, campaign["id"], tier, i + 1)
        for i, tier in enumerate((promotion or {}).get("tiers") or [])
    ]
    campaign_store.put(state, campaign)
    promotion_store.store_built(state, built)
    if source is not None and count == 1:
        # The one code is made here, synchronously: a code space used up by other vouchers is
        # a 400 (as add-vouchers answers), not a campaign left without its code (review 17).
        if not campaign_vouchers.generate_chunk(state, campaign, source, 1, {})[0]:
            campaign_store.remove(state, campaign)
            raise invalid_payload("code_config cannot produce more unique codes")
    elif source is not None and count > 1:
        campaign["creation_status"] = campaign["vouchers_generation_status"] = "IN_PROGRESS"
        _start_generation(req, state, campaign, count, {})
    return ok(view(state, campaign))


def _start_generation(
    req: SandboxRequest, state: SandboxState, campaign: JSON, count: int, overrides: JSON
) -> JSON:
    payload = {"campaign_id": campaign["id"], "count": count, "overrides": overrides}
    return start_async_action(
        state, "CAMPAIGN.VOUCHERS_GENERATE", "campaign_vouchers_generate", payload, req.request_id
    )


@jobs.job("campaign_vouchers_generate")
def _run_generation(state: SandboxState, action: JSON, payload: JSON) -> None:
    """Generate ``count`` codes, one short chunk per hold of the lock (campaign_vouchers)."""
    campaign_id = payload["campaign_id"]
    overrides: JSON = payload.get("overrides") or {}
    progress = jobs.cursor(payload)  # codes made before a restart are not made again
    done, wanted = int(progress.get("done", 0)), int(payload["count"])
    ran_out = False
    while done < wanted:
        campaign = campaign_store.campaigns(state).get(campaign_id)
        if campaign is None:
            break  # deleted meanwhile: nothing more to generate
        config = overrides.get("code_config") or campaign["voucher"]["code_config"]
        n = min(campaign_vouchers.CHUNK, wanted - done)
        made, ran_out = campaign_vouchers.generate_chunk(state, campaign, CodeSource(config), n, overrides)
        done += len(made)
        progress["done"] = done
        if ran_out:
            break
        if done < wanted:
            campaign_vouchers.breathe(state)
    campaign = campaign_store.campaigns(state).get(campaign_id)
    if campaign is not None:
        status = "FAILED" if ran_out else "DONE"
        campaign["creation_status"] = campaign["vouchers_generation_status"] = status
    message = f"Generated {done} vouchers."
    if ran_out:
        message += " The code configuration cannot produce more unique codes."
    finish(action, {"done_count": done, "message": message}, failed=ran_out)


# ---- list, get, update, delete --------------------------------------------------------------
def _active_state(campaign: JSON, now: Any) -> set[str]:
    states = {"$enabled" if campaign.get("active") is not False else "$disabled"}
    start, end = campaign.get("start_date"), campaign.get("expiration_date")
    if end and parse_iso(str(end)) < now:
        states.add("$expired")
    elif campaign.get("active") is not False and (not start or parse_iso(str(start)) <= now):
        states.add("$active")
    if start and parse_iso(str(start)) > now:
        states.add("$before_start")
    return states


@route("GET", "/v1/campaigns", operation_id="list-campaigns")
def list_campaigns(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    q = req.query
    limit = int_param(q, "limit", 10, 1, 100)
    page = int_param(q, "page", 1, 1, 99)
    field, descending = parse_order(q.get("order"), LIST_ORDERS, "-created_at")
    items = list(campaign_store.campaigns(state).values())
    if q.get("campaign_type"):
        items = [c for c in items if c["campaign_type"] == q["campaign_type"]]
    if q.get("campaign_status"):
        items = [c for c in items if c.get("creation_status") == q["campaign_status"]]
    if q.get("is_referral_code") not in (None, ""):
        wanted = str(q["is_referral_code"]).lower() == "true"
        items = [c for c in items if (c["campaign_type"] == "REFERRAL_PROGRAM") == wanted]
    filters = q.get("filters")
    if isinstance(filters, dict) and isinstance(filters.get("active"), dict):
        conds = filters["active"].get("conditions") or filters["active"]
        wanted_states = {k for k in conds if k.startswith("$")} if isinstance(conds, dict) else set()
        now = state.now()
        items = [c for c in items if wanted_states <= _active_state(c, now)]
    others = {k: v for k, v in filters.items() if k != "active"} if isinstance(filters, dict) else None
    predicate = conditions_predicate(others or None, {}, any_field=True)
    if predicate is not None:
        items = [c for c in items if predicate(c)]
    # Creation order is the stored order; a stable sort keeps it as the tie-break.
    items.sort(key=lambda c: micros(parse_iso(c[field])) if c.get(field) else -1, reverse=descending)
    start = (page - 1) * limit
    data = [view(state, c) for c in items[start : start + limit]]
    return ok({"object": "list", "data_ref": "campaigns", "campaigns": data, "total": len(items)})


@route("GET", "/v1/campaigns/{campaignId}", operation_id="get-campaign")
def get_campaign(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    return ok(view(state, campaign_store.get_or_404(state, req.path_params["campaignId"])))


@route("PUT", "/v1/campaigns/{campaignId}", operation_id="update-campaign")
def update_campaign(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    campaign = campaign_store.get_or_404(state, req.path_params["campaignId"])
    payload = req.json_object()
    _check_fields(payload, UPDATABLE)
    if payload.get("type") is not None and payload["type"] not in ("AUTO_UPDATE", "STATIC"):
        raise invalid_payload("type must be AUTO_UPDATE or STATIC")
    changes = {k: payload[k] for k in UPDATABLE if k in payload}
    if "metadata" in changes:
        changes["metadata"] = changes["metadata"] or {}
    unset = payload.get("unset_metadata_fields")
    template = campaign.get("voucher")
    if template is not None:
        template = dict(template)
        if template["type"] == "DISCOUNT_VOUCHER" and payload.get("discount") is not None:
            template["discount"] = _discount(payload["discount"])
        if template["type"] == "GIFT_VOUCHER" and isinstance(payload.get("gift"), dict):
            amount = payload["gift"].get("amount")
            if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
                raise invalid_payload("gift.amount must be a non-negative integer")
            template["gift"] = {**template["gift"], **payload["gift"]}
        changes["voucher"] = template
    campaign.update(changes)
    if isinstance(unset, list):
        campaign["metadata"] = {k: v for k, v in (campaign.get("metadata") or {}).items() if k not in unset}
    if "category" in payload or "category_id" in payload:
        from django_voucherify.sandbox.handlers.vouchers import _category

        cat = _category(state, payload.get("category"), state.now_iso())
        campaign.update(category=cat[0], category_id=payload.get("category_id") or cat[1], categories=cat[2])
    _touch(state, campaign)
    _propagate(req, state, campaign, payload)
    return ok(view(state, campaign))


def _propagate(req: SandboxRequest, state: SandboxState, campaign: JSON, payload: JSON) -> None:
    """update-campaign: "This method will update vouchers aggregated in the campaign. It will
    affect all vouchers that are not published or redeemed yet." In a ``CAMPAIGN.VOUCHERS_UPDATE``
    async action (the async-actions table lists it for this endpoint), one chunk per hold of the
    lock (review 17: 50k vouchers kept the lock 817 ms in the request)."""
    keys = [k for k in PROPAGATED if k in payload]
    template = campaign.get("voucher") or {}
    discount = "discount" in payload and template.get("type") == "DISCOUNT_VOUCHER"
    if not keys and not discount:
        return
    job = {"campaign_id": campaign["id"], "keys": keys, "discount": discount}
    start_async_action(state, "CAMPAIGN.VOUCHERS_UPDATE", "campaign_vouchers_update", job, req.request_id)


@jobs.job("campaign_vouchers_update")
def _run_propagation(state: SandboxState, action: JSON, payload: JSON) -> None:
    """Carry the campaign's values as they are when each chunk runs (not as the request gave
    them), so two updates in a row end with the later one's values whatever their jobs' order."""
    campaign_id = payload["campaign_id"]
    progress = jobs.cursor(payload)  # re-applying a chunk is harmless; done counts once
    done = int(progress.get("done", 0))
    codes = sorted(campaign_store.voucher_codes(state, campaign_id))  # one snapshot, then chunks
    first = int(progress.get("next", 0))
    for start in range(first, len(codes), campaign_vouchers.CHUNK):
        if start > first:
            campaign_vouchers.breathe(state)
        campaign = campaign_store.campaigns(state).get(campaign_id)
        if campaign is None:
            break  # deleted meanwhile
        changes = {k: campaign.get(k) for k in payload["keys"]}
        if payload.get("discount") and (campaign.get("voucher") or {}).get("discount") is not None:
            changes["discount"] = campaign["voucher"]["discount"]
        now = state.now_iso()
        for code in codes[start : start + campaign_vouchers.CHUNK]:
            voucher = state.vouchers.get(code)
            if voucher is None or voucher.get("campaign_id") != campaign_id:
                continue
            redeemed = (voucher.get("redemption") or {}).get("redeemed_quantity")
            if voucher.get("holder_id") or (voucher.get("publish") or {}).get("count") or redeemed:
                continue
            for key, value in changes.items():
                if value is None and key.startswith("validity_"):
                    voucher.pop(key, None)  # non-nullable in the spec: cleared means omitted
                else:
                    voucher[key] = value
            voucher["updated_at"] = now
            state.vouchers.touch(code)
            done += 1
        progress.update(next=start + campaign_vouchers.CHUNK, done=done)
    finish(action, {"done_count": done, "message": f"Updated {done} vouchers."})


@route("DELETE", "/v1/campaigns/{campaignId}", operation_id="delete-campaign")
def delete_campaign(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    campaign = campaign_store.get_or_404(state, req.path_params["campaignId"])
    force = str(req.query.get("force", "")).lower() == "true"
    # The campaign leaves at once (its name is free again: the force parameter's description);
    # its vouchers go in the async action, to the bin unless forced.
    campaign_store.remove(state, campaign)
    promotion_store.remove_campaign(state, campaign["id"])
    if not force:
        campaign_store.campaigns_bin(state)[campaign["id"]] = campaign
    payload = {"campaign_id": campaign["id"], "force": force}
    action = start_async_action(
        state, "CAMPAIGN.VOUCHERS_DELETE", "campaign_vouchers_delete", payload, req.request_id
    )
    return accepted(action)


@jobs.job("campaign_vouchers_delete")
def _run_delete(state: SandboxState, action: JSON, payload: JSON) -> None:
    campaign_id, force = payload["campaign_id"], bool(payload.get("force"))
    # One snapshot, then chunks. After a restart the snapshot is taken again: the vouchers
    # deleted before the save are gone from it, and ``done`` counts them.
    progress = jobs.cursor(payload)
    done = int(progress.get("done", 0))
    codes = list(campaign_store.voucher_codes(state, campaign_id))
    for start in range(0, len(codes), campaign_vouchers.CHUNK):
        if start:
            campaign_vouchers.breathe(state)
        for code in codes[start : start + campaign_vouchers.CHUNK]:
            voucher = state.vouchers.get(code)
            if voucher is None or voucher.get("campaign_id") != campaign_id:
                continue  # deleted or moved meanwhile (the lock was let go between chunks)
            state.remove_voucher(code)
            if not force:
                state.bin[code] = voucher
            done += 1
        progress["done"] = done
    if force:
        for code in [c for c, v in state.bin.items() if v.get("campaign_id") == campaign_id]:
            del state.bin[code]
    finish(action, {"done_count": done, "message": f"Deleted {done} vouchers."})


# ---- vouchers of a campaign -----------------------------------------------------------------
def _overrides(payload: JSON) -> JSON:
    _check_fields(payload, (*DATES, "metadata"))
    for name in ("category", "additional_info"):
        if payload.get(name) is not None and not isinstance(payload[name], str):
            raise invalid_payload(f"{name} must be a string")
    if payload.get("active") is not None and not isinstance(payload["active"], bool):
        raise invalid_payload("active must be a boolean")
    return {k: payload[k] for k in (*campaign_vouchers.OVERRIDES, "metadata") if payload.get(k) is not None}


def _voucher_campaign(state: SandboxState, campaign_id: str) -> JSON:
    campaign = campaign_store.get_or_404(state, campaign_id)
    if "voucher" not in campaign:
        raise invalid_payload(f"campaign {campaign['name']} ({campaign['campaign_type']}) has no vouchers")
    return campaign


@route("POST", "/v1/campaigns/{campaignId}/vouchers", operation_id="add-vouchers-to-campaign")
def add_vouchers(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    campaign = _voucher_campaign(state, req.path_params["campaignId"])
    payload = req.json_object()
    count = _count(req.query.get("vouchers_count"), "vouchers_count", 1)
    if count < 1:
        raise invalid_param("vouchers_count", "must be at least 1")
    overrides = _overrides(payload)
    config = payload.get("code_config")
    source = CodeSource(config if config is not None else campaign["voucher"]["code_config"])
    code = payload.get("code")
    if code is not None and not isinstance(code, str):
        raise invalid_payload("code must be a string")
    if code and count > 1:
        raise invalid_payload("code can only be given for one voucher (vouchers_count=1)")
    used = campaign_store.vouchers_count(state, campaign["id"]) if config is None else 0
    source.check_room(count, used if code is None else 0)
    if count == 1:
        if code:
            voucher = _add_with_code(state, campaign, code, overrides)
        else:
            made, _ = campaign_vouchers.generate_chunk(state, campaign, source, 1, overrides)
            if not made:
                raise invalid_payload("code_config cannot produce more unique codes")
            voucher = made[0]
        return ok(voucher)
    if config is not None:
        overrides["code_config"] = config
    action = _start_generation(req, state, campaign, count, overrides)
    return accepted(action)


def _add_with_code(state: SandboxState, campaign: JSON, code: str, overrides: JSON) -> JSON:
    if not code:
        raise invalid_payload("code must not be empty")
    if campaign_vouchers.code_taken(state, code):
        raise duplicate_found("voucher", code)
    voucher = campaign_vouchers.build(state, campaign, code, overrides)
    campaign_vouchers.store(state, campaign, [voucher])
    return voucher


@route(
    "POST",
    "/v1/campaigns/{campaignId}/vouchers/{code}",
    operation_id="add-voucher-with-specific-code-to-campaign",
)
def add_voucher_with_code(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    campaign = _voucher_campaign(state, req.path_params["campaignId"])
    payload = req.json_object()
    overrides = _overrides(payload)
    return ok(_add_with_code(state, campaign, req.path_params["code"], overrides))


# ---- imports --------------------------------------------------------------------------------
IMPORT_FIELDS = (
    "code",
    "category",
    "active",
    "start_date",
    "expiration_date",
    "redemption",
    "additional_info",
    "metadata",
)


def _import_one(state: SandboxState, campaign: JSON, item: Any) -> None:
    if not isinstance(item, dict) or not item.get("code") or not isinstance(item.get("code"), str):
        raise invalid_payload("code: property is required")
    code = item["code"]
    if campaign_vouchers.code_taken(state, code):
        raise duplicate_found("voucher", code)
    overrides = _overrides({k: item[k] for k in IMPORT_FIELDS if k in item and k != "code"})
    voucher = campaign_vouchers.build(state, campaign, code, overrides)
    # An imported gift card or loyalty card may carry its own amount (VoucherImportGift /
    # VoucherImportLoyaltyCard); the campaign's type stays.
    gift = item.get("gift")
    if voucher["type"] == "GIFT_VOUCHER" and isinstance(gift, dict) and gift.get("amount") is not None:
        amount = gift["amount"]
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            raise invalid_payload("gift.amount must be a non-negative integer")
        voucher["gift"] = {**voucher["gift"], "amount": amount, "balance": amount}
    card = item.get("loyalty_card")
    if voucher["type"] == "LOYALTY_CARD" and isinstance(card, dict) and card.get("points") is not None:
        points = card["points"]
        if not isinstance(points, int) or isinstance(points, bool) or points < 0:
            raise invalid_payload("loyalty_card.points must be a non-negative integer")
        voucher["loyalty_card"] = {**voucher["loyalty_card"], "points": points, "balance": points}
    campaign_vouchers.store(state, campaign, [voucher])


def _reason(err: SandboxError) -> str:
    return err.details or err.message


@jobs.job("campaign_vouchers_import")
def _run_import(state: SandboxState, action: JSON, payload: JSON) -> None:
    campaign = campaign_store.campaigns(state).get(payload["campaign_id"])
    csv_mode = bool(payload.get("csv"))
    # Rows imported before a restart are skipped, not imported again (they would fail as
    # duplicates of themselves).
    progress = jobs.cursor(payload)
    done, failed = int(progress.get("done", 0)), list(progress.get("failed", []))
    first = int(progress.get("rows", 0))
    for row, item in enumerate(payload["items"], start=1):
        if row <= first:
            continue
        try:
            if campaign is None:
                raise invalid_payload("the campaign was deleted")
            data = voucher_from_csv(item) if csv_mode else item
            _import_one(state, campaign, data)
            done += 1
        except SandboxError as err:
            code = str(item.get("code") or item.get("Code") or "") if isinstance(item, dict) else ""
            entry: JSON = {"code": code, "reason": _reason(err)}
            if csv_mode:
                entry["row"] = row
            failed.append(entry)
        if row % campaign_vouchers.CHUNK == 0:
            progress.update(rows=row, done=done, failed=failed)
            campaign_vouchers.breathe(state)
            campaign = campaign_store.campaigns(state).get(payload["campaign_id"])
    msg = f"{done} voucher(s) imported successfully, {len(failed)} failed."
    finish(action, {"done_count": done, "failed_count": len(failed), "failed": failed, "message": msg})


@route("POST", "/v1/campaigns/{campaignId}/import", operation_id="import-vouchers-to-campaign")
def import_vouchers(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    campaign = _voucher_campaign(state, req.path_params["campaignId"])
    body = req.json()
    if not isinstance(body, list):
        raise invalid_payload("Request body must be an array of vouchers")
    payload = {"campaign_id": campaign["id"], "items": body}
    action = start_async_action(
        state, "CAMPAIGN.VOUCHERS_IMPORT", "campaign_vouchers_import", payload, req.request_id
    )
    return accepted(action)


@route("POST", "/v1/campaigns/{campaignId}/importCSV", operation_id="import-vouchers-to-campaign-using-csv")
def import_vouchers_csv(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    campaign = _voucher_campaign(state, req.path_params["campaignId"])
    rows = read_csv(multipart_file(req))
    payload = {"campaign_id": campaign["id"], "items": rows, "csv": True}
    action = start_async_action(
        state, "CAMPAIGN.VOUCHERS_IMPORT_CSV", "campaign_vouchers_import", payload, req.request_id
    )
    return accepted(action, 200)  # the spec documents 200 for this one


# ---- enable / disable -----------------------------------------------------------------------
def _set_active(req: SandboxRequest, state: SandboxState, active: bool) -> SandboxResponse:
    campaign = campaign_store.get_or_404(state, req.path_params["campaignId"])
    campaign["active"] = active
    _touch(state, campaign)
    return ok({})  # "Returns an empty json `{}`."


@route("POST", "/v1/campaigns/{campaignId}/enable", operation_id="enable-campaign")
def enable_campaign(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    return _set_active(req, state, True)


@route("POST", "/v1/campaigns/{campaignId}/disable", operation_id="disable-campaign")
def disable_campaign(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    return _set_active(req, state, False)


# ---- transactions ---------------------------------------------------------------------------
TRANSACTION_FILTERS = {"id": lambda t: t.get("id"), "voucher_id": lambda t: t.get("voucher_id")}


@route("GET", "/v1/campaigns/{campaignId}/transactions", operation_id="list-campaign-transactions")
def list_transactions(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    campaign = campaign_store.get_or_404(state, req.path_params["campaignId"])
    limit = int_param(req.query, "limit", 10, 1, 100)
    order = req.query.get("order") or "-id"
    if order not in ("id", "-id"):
        raise invalid_param("order", "must be id or -id")
    predicate = conditions_predicate(req.query.get("filters") or None, TRANSACTION_FILTERS, any_field=False)
    items = campaign_store.transactions_of(state, campaign["id"])  # oldest first, indexed
    after = req.query.get("starting_after_id")
    if predicate is not None:
        items = [t for t in items if predicate(t)]
        if order == "-id":
            items = items[::-1]
        page = cursor_slice(items, after, limit)
        return ok({"object": "list", "data_ref": "data", **page})
    # No filter: the page is a slice of the index, its cursor found by a bisection.
    if after:
        at = campaign_store.transactions_index(state).position(campaign["id"], str(after))
        if at is None:
            start, stop = len(items), len(items)  # an unknown cursor: an empty page
        elif order == "id":
            start, stop = at + 1, min(at + 1 + limit, len(items))
        else:
            start, stop = max(0, at - limit), at
    else:
        first_page = (0, min(limit, len(items)))
        start, stop = first_page if order == "id" else (max(0, len(items) - limit), len(items))
    data = items[start:stop] if order == "id" else items[start:stop][::-1]
    has_more = stop < len(items) if order == "id" else start > 0
    body: JSON = {"object": "list", "data_ref": "data", "data": data, "has_more": has_more}
    if has_more and data:
        body["more_starting_after"] = data[-1]["id"]
    return ok(body)


@route("POST", "/v1/campaigns/{campaignId}/transactions/export", operation_id="export-campaign-transactions")
def export_transactions(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    campaign = campaign_store.get_or_404(state, req.path_params["campaignId"])
    body = req.json_object()
    given = body.get("parameters")
    if body.get("order") is not None and (given is None or isinstance(given, dict)):
        # The spec's example sends ``order`` beside ``parameters`` (spec_patches.py).
        given = {"order": body["order"], **(given or {})}
    params = export_params.check_parameters(
        "voucher_transactions", given, defaults=export_params.CAMPAIGN_TRANSACTIONS_EXPORT_FIELDS
    )
    filters = dict(params.get("filters") or {})
    if str(filters.get("junction", "and")).lower() == "or":
        raise invalid_payload("parameters.filters.junction: a campaign's export takes and only")
    filters["campaign_id"] = {"conditions": {"$in": [campaign["id"]]}}
    params["filters"] = filters
    return ok(create_export(state, "voucher_transactions", params))


# ---- summary --------------------------------------------------------------------------------
def _period(q: JSON) -> tuple[int | None, int | None]:
    start = micros(date_param(q["start_date"], "start_date")) if q.get("start_date") else None
    end = None
    if q.get("end_date"):
        # A date-only end includes its whole day.
        end_text = str(q["end_date"])
        end = micros(date_param(end_text, "end_date")) + (86_400_000_000 if len(end_text) <= 10 else 0)
    return start, end


def _redemptions_of(state: SandboxState, codes: set[str]) -> list[JSON]:
    """The redemptions and rollbacks of ``codes``, through the ``voucher_code`` index (one
    bisection per code, not a scan of every redemption)."""
    rows = state.redemptions.ordered("voucher_code")
    found: list[JSON] = []
    for code in codes:
        key = (True, code)
        i = bisect_left(rows, (key,))
        while i < len(rows) and rows[i][0] == key:
            found.append(rows[i][3])
            i += 1
    return found


@route("GET", "/v1/campaigns/{campaignId}/summary", operation_id="get-campaign-summary")
def get_summary(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    campaign = campaign_store.get_or_404(state, req.path_params["campaignId"])
    start, end = _period(req.query)

    def in_period(stamp: Any) -> bool:
        if not stamp:
            return False
        moment = micros(parse_iso(str(stamp)))
        return (start is None or moment >= start) and (end is None or moment < end)

    counters = dict.fromkeys(
        (
            "redemptions",
            "redemptions_succeeded",
            "redemptions_failed",
            "rollbacks",
            "rollbacks_succeeded",
            "rollbacks_failed",
            "orders_amount",
            "orders_rolledback_amount",
            "discounted_amount",
            "rolledback_discounted_amount",
        ),
        0,
    )
    codes = set(campaign_store.voucher_codes(state, campaign["id"]))
    found = _redemptions_of(state, codes)
    for tier in promotion_store.tiers_of(state, campaign["id"]):  # a promotion's redemptions
        found += ledger.voucher_entries(state, tier["id"])
    for red in found:
        if not in_period(red.get("date")):
            continue
        kind = "rollbacks" if red.get("object") == "redemption_rollback" else "redemptions"
        counters[kind] += 1
        counters[f"{kind}_{'succeeded' if red.get('result') == 'SUCCESS' else 'failed'}"] += 1
        if red.get("result") != "SUCCESS":
            continue
        order = red.get("order") or {}
        amount = int(order.get("amount") or 0)
        discount = int(order.get("total_discount_amount") or order.get("discount_amount") or 0)
        if kind == "redemptions":
            counters["orders_amount"] += amount
            counters["discounted_amount"] += discount
        else:
            counters["orders_rolledback_amount"] += amount
            counters["rolledback_discounted_amount"] += abs(discount)
    pubs = campaign_store.publications_of(state, campaign_id=campaign["id"])
    pubs = [p for p in pubs if in_period(p.get("created_at"))] if start or end else pubs
    succeeded = sum(1 for p in pubs if p.get("result") == "SUCCESS")
    body: JSON = {
        "campaign": view(state, campaign),
        "object": "campaign_summary",
        **counters,
        # Validations are not stored by the sandbox (a validation changes nothing): zero.
        "validations": 0,
        "validations_succeeded": 0,
        "validations_failed": 0,
        "publications": len(pubs),
        "publications_succeeded": succeeded,
        "publications_failed": len(pubs) - succeeded,
        # Vouchers deleted one by one are not counted (the sandbox keeps no such log).
        "vouchers_created": len(codes),
        "vouchers_deleted": 0,
    }
    if campaign["campaign_type"] == "PROMOTION":
        for name in (
            "publications",
            "publications_succeeded",
            "publications_failed",
            "vouchers_created",
            "vouchers_deleted",
        ):
            del body[name]
    return ok(body)
