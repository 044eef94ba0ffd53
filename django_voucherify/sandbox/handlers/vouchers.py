"""Vouchers: create (given or generated code), get, update, enable/disable, delete, list.

Rules taken from the spec's descriptions: creating an existing code is 409 ``duplicate_found``;
a loyalty card needs a campaign (name or id; campaigns themselves are not simulated); a voucher
deleted without ``force`` goes to the bin and its code stays taken until it is deleted with
``force=true``; an update skips the fields the spec does not list for the voucher's type
(``type`` included: it never changes).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from django_voucherify.sandbox.compact import Voucher, as_json, render
from django_voucherify.sandbox.engine.codegen import CodeSource
from django_voucherify.sandbox.engine.eligibility import validity_problem
from django_voucherify.sandbox.errors import duplicate_found, invalid_payload, not_found
from django_voucherify.sandbox.filters import conditions_predicate, equality_clauses
from django_voucherify.sandbox.listing import date_windows, frozen, int_param, parse_order, select
from django_voucherify.sandbox.openapi import voucherify_spec
from django_voucherify.sandbox.routing import (
    SandboxRequest,
    SandboxResponse,
    no_content,
    ok,
    route,
)
from django_voucherify.sandbox.state import SandboxState, parse_iso
from django_voucherify.sandbox.store import KEY, Clause

JSON = dict[str, Any]

NO_RULES: JSON = {"object": "list", "data_ref": "data", "data": [], "total": 0}
TYPES = ("DISCOUNT_VOUCHER", "GIFT_VOUCHER", "LOYALTY_CARD")
DISCOUNT_FIELDS = {"AMOUNT": "amount_off", "PERCENT": "percent_off", "FIXED": "fixed_amount"}
# Fields PUT may change (the spec's VouchersUpdateRequestBody); others are silently skipped.
UPDATABLE = (
    "start_date",
    "expiration_date",
    "validity_timeframe",
    "validity_day_of_week",
    "validity_hours",
    "active",
    "additional_info",
    "metadata",
)


def generate_code(state: SandboxState, config: JSON | None) -> str:
    """A new unused code from a ``code_config``: the campaigns' generator
    (:class:`~django_voucherify.sandbox.engine.codegen.CodeSource`), so both doors check a
    config the same way (this one answered 500 for ``length: "abc"`` and drew a code from
    ``str(list)`` for a list charset)."""
    code = CodeSource(config).take(lambda c: c in state.vouchers or c in state.bin)
    if code is None:
        raise invalid_payload("code_config cannot produce more unique codes")
    return code


def _check_validity(payload: JSON) -> None:
    if problem := validity_problem(payload):
        raise invalid_payload(problem)


def _check_date(payload: JSON, name: str) -> None:
    value = payload.get(name)
    if value is None:
        return
    try:
        parse_iso(str(value))
    except ValueError:
        raise invalid_payload(f"{name} must be an ISO 8601 date-time") from None


@functools.cache
def _effects(dtype: str) -> tuple[str, ...]:
    """The effects the spec lists for a discount type (``Discount<Type>VouchersEffectTypes``)."""
    schema = voucherify_spec()["components"]["schemas"][f"Discount{dtype.title()}VouchersEffectTypes"]
    return tuple(schema["enum"])


def _discount(raw: Any) -> JSON:
    if not isinstance(raw, dict):
        raise invalid_payload("discount must be an object")
    dtype = raw.get("type")
    if dtype not in (*DISCOUNT_FIELDS, "UNIT"):
        raise invalid_payload("discount.type must be one of AMOUNT, PERCENT, FIXED, UNIT")
    disc = dict(raw)
    field = DISCOUNT_FIELDS.get(str(dtype))
    if field is not None:
        value = disc.get(field)
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise invalid_payload(f"discount.{field} must be a non-negative number")
        if dtype == "PERCENT" and value > 100:
            raise invalid_payload("discount.percent_off must be at most 100")
    # update-voucher's request schema leaves ``effect`` free: an unknown one was stored, then
    # every answer showing the voucher broke the response schema (found by the state fuzzer).
    effect = disc.get("effect")
    if effect is not None and effect not in _effects(str(dtype)):
        raise invalid_payload(f"discount.effect must be one of {', '.join(_effects(str(dtype)))}")
    # A unit discount's effects are its own enum (DiscountUnitVouchersEffectTypes); the spec
    # gives no default, ADD_MISSING_ITEMS (add the unit unless the cart has it) is inferred.
    disc.setdefault("effect", "ADD_MISSING_ITEMS" if dtype == "UNIT" else "APPLY_TO_ORDER")
    return disc


def _shared_discount(state: SandboxState, discount: JSON) -> JSON:
    """An equal discount object already held by another voucher, if any: vouchers created
    alike share one (a discount is replaced, never changed in place, on update)."""
    shared: JSON = state.transient.setdefault("discounts", {})
    key = json.dumps(discount, sort_keys=True)
    if key not in shared and len(shared) < 1024:
        shared[key] = discount
    found: JSON = shared.get(key, discount)
    return found


def _category(state: SandboxState, name: Any, now: str) -> tuple[str | None, str | None, list[JSON]]:
    if not name:
        return None, None, []
    cats: JSON = state.extra.setdefault("categories", {})
    if name not in cats:
        cats[name] = {
            "id": state.new_id("cat_"),
            "name": name,
            "hierarchy": 0,
            "object": "category",
            "created_at": now,
            "updated_at": None,
        }
    # One ``categories`` list per category, shared by its vouchers (never changed in place:
    # an update assigns a new one), so a million vouchers do not hold a million copies.
    shared: JSON = state.transient.setdefault("category_lists", {})
    if name not in shared:
        shared[name] = [dict(cats[name])]
    return str(name), str(cats[name]["id"]), shared[name]


def build_voucher(state: SandboxState, code: str, payload: JSON) -> JSON:
    """Validate a create payload and return the new voucher object (not yet stored)."""
    vtype = payload.get("type") or ("DISCOUNT_VOUCHER" if "discount" in payload else None)
    if vtype not in TYPES:
        raise invalid_payload("type must be one of DISCOUNT_VOUCHER, GIFT_VOUCHER, LOYALTY_CARD")
    for name in ("start_date", "expiration_date"):
        _check_date(payload, name)
    _check_validity(payload)
    if payload.get("active") is not None and not isinstance(payload["active"], bool):
        raise invalid_payload("active must be a boolean")
    if payload.get("metadata") is not None and not isinstance(payload["metadata"], dict):
        raise invalid_payload("metadata must be an object")
    now = state.now_iso()
    discount = gift = loyalty = None
    if vtype == "DISCOUNT_VOUCHER":
        discount = _shared_discount(state, _discount(payload.get("discount")))
    elif vtype == "GIFT_VOUCHER":
        raw = payload.get("gift")
        amount = raw.get("amount") if isinstance(raw, dict) else None
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            raise invalid_payload("gift.amount must be a non-negative integer")
        effect = raw.get("effect") if isinstance(raw, dict) else None
        gift = {
            "amount": amount,
            "subtracted_amount": 0,
            "balance": amount,
            "effect": effect or "APPLY_TO_ORDER",
        }
    else:
        # create-voucher: "For a loyalty card, a campaign name or ID is required."
        # generate-random-code: "In case of the loyalty card, a campaign name is required."
        if not payload.get("campaign") and not payload.get("campaign_id"):
            raise invalid_payload("campaign: a LOYALTY_CARD needs a campaign name or campaign_id")
        raw = payload.get("loyalty_card")
        points = raw.get("points") if isinstance(raw, dict) else None
        if not isinstance(points, int) or isinstance(points, bool) or points < 0:
            raise invalid_payload("loyalty_card.points must be a non-negative integer")
        loyalty = {"points": points, "balance": points}
    redemption = payload.get("redemption")
    if not isinstance(redemption, dict):
        redemption = {}
    quantity = redemption.get("quantity")
    if quantity is not None and (not isinstance(quantity, int) or quantity < 0):
        raise invalid_payload("redemption.quantity must be a non-negative integer")
    category, category_id, categories = _category(state, payload.get("category"), now)
    vid = state.new_id("v_")
    qcode = quote(code, safe="")
    voucher: JSON = {
        "id": vid,
        "code": code,
        "campaign": payload.get("campaign"),
        "campaign_id": payload.get("campaign_id"),
        "category": category,
        "category_id": payload.get("category_id") or category_id,
        "categories": categories,
        "type": vtype,
        "discount": discount,
        "gift": gift,
        "loyalty_card": loyalty,
        "start_date": payload.get("start_date"),
        "expiration_date": payload.get("expiration_date"),
        "validity_timeframe": payload.get("validity_timeframe"),
        "validity_day_of_week": payload.get("validity_day_of_week"),
        "validity_hours": payload.get("validity_hours"),
        # The spec makes ``active`` nullable; null means "not given": a new voucher is active.
        "active": payload.get("active") is not False,
        "additional_info": payload.get("additional_info"),
        "metadata": payload.get("metadata") or {},
        "assets": {
            "qr": {
                "id": f"U2FsdGVkX1{vid[2:]}qr",
                "url": f"https://dl.voucherify.io/api/v1/assets/qr/{qcode}",
            },
            "barcode": {
                "id": f"U2FsdGVkX1{vid[2:]}bc",
                "url": f"https://dl.voucherify.io/api/v1/assets/barcode/{qcode}",
            },
        },
        "is_referral_code": False,
        "created_at": now,
        "updated_at": None,
        "holder_id": payload.get("holder_id"),
        "referrer_id": None,
        "object": "voucher",
        "publish": {
            "object": "list",
            "count": 0,
            "url": f"/v1/vouchers/{qcode}/publications?page=1&limit=10",
        },
        "redemption": {
            "quantity": quantity,
            "redeemed_quantity": 0,
            **({"redeemed_points": 0} if vtype == "LOYALTY_CARD" else {}),
            "object": "list",
            "url": f"/v1/vouchers/{qcode}/redemptions?page=1&limit=10",
        },
        # Shared by every voucher and never changed in place (the sandbox assigns no rules).
        "validation_rules_assignments": NO_RULES,
    }
    # The spec marks these non-nullable: Voucherify omits them rather than sending null.
    for key in ("validity_timeframe", "validity_day_of_week", "validity_hours", "discount"):
        if voucher[key] is None:
            del voucher[key]
    return as_json(Voucher(voucher))  # the compact stored form (compact.py); reads as this dict


def create(state: SandboxState, code: str, payload: JSON) -> JSON:
    """Create and store a voucher; 409 when the code is taken (also by a binned voucher)."""
    if not code:
        raise invalid_payload("code must not be empty")
    if code in state.vouchers or code in state.bin:
        raise duplicate_found("voucher", code)
    voucher = build_voucher(state, code, payload)
    state.put_voucher(voucher)
    return voucher


@route("POST", "/v1/vouchers/{code}", operation_id="create-voucher")
def create_voucher(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    return ok(create(state, req.path_params["code"], req.json_object()))


@route("POST", "/v1/vouchers", operation_id="generate-random-code")
def generate_random_code(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    payload = req.json_object()
    code = payload.get("code")
    if code is not None and not isinstance(code, str):
        raise invalid_payload("code must be a string")
    code = code or generate_code(state, payload.get("code_config"))
    return ok(create(state, code, payload))


@route("GET", "/v1/vouchers/{code}", operation_id="get-voucher")
def get_voucher(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    return ok(state.get_voucher_or_404(req.path_params["code"]))


def apply_update(state: SandboxState, voucher: JSON, payload: JSON) -> JSON:
    """Apply a PUT payload to ``voucher`` in place (shared with bulk updates).

    update-voucher: "Fields other than the ones listed in the request body won't be modified.
    Even if provided, they will be silently skipped." ``type`` is listed only for a discount
    voucher, as the constant ``DISCOUNT_VOUCHER``, and ``discount`` only for a discount voucher:
    a ``type`` (any value) and a ``discount`` on a gift or loyalty card are skipped, never
    refused, and the type never changes.
    """
    for name in ("start_date", "expiration_date"):
        _check_date(payload, name)
    _check_validity(payload)
    if payload.get("active") is not None and not isinstance(payload["active"], bool):
        raise invalid_payload("active must be a boolean")
    if "metadata" in payload and not isinstance(payload["metadata"], dict | None):
        raise invalid_payload("metadata must be an object")
    changes: JSON = {k: payload[k] for k in UPDATABLE if k in payload}
    if changes.get("active", False) is None:
        del changes["active"]  # nullable in the spec; null leaves the voucher as it is
    if "metadata" in changes:
        changes["metadata"] = changes["metadata"] or {}
    if "discount" in payload and voucher["type"] == "DISCOUNT_VOUCHER":
        changes["discount"] = _discount(payload["discount"])
    if "category" in payload:
        cat = _category(state, payload["category"], state.now_iso())
        changes.update(category=cat[0], category_id=cat[1], categories=cat[2])
    voucher.update(changes)
    for key in ("validity_timeframe", "validity_day_of_week", "validity_hours"):
        if key in voucher and voucher[key] is None:
            del voucher[key]  # non-nullable in the spec: clearing means omitting
    voucher["updated_at"] = state.now_iso()
    state.vouchers.touch(voucher["code"])
    return voucher


@route("PUT", "/v1/vouchers/{code}", operation_id="update-voucher")
def update_voucher(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    voucher = state.get_voucher_or_404(req.path_params["code"])
    return ok(apply_update(state, voucher, req.json_object()))


def _set_active(state: SandboxState, code: str, active: bool) -> JSON:
    voucher = state.get_voucher_or_404(code)
    voucher["active"] = active
    voucher["updated_at"] = state.now_iso()
    state.vouchers.touch(voucher["code"])
    return voucher


@route("POST", "/v1/vouchers/{code}/enable", operation_id="enable-voucher")
def enable_voucher(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    return ok(_set_active(state, req.path_params["code"], True))


@route("POST", "/v1/vouchers/{code}/disable", operation_id="disable-voucher")
def disable_voucher(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    return ok(_set_active(state, req.path_params["code"], False))


@route("DELETE", "/v1/vouchers/{code}", operation_id="delete-voucher")
def delete_voucher(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    code = req.path_params["code"]
    force = str(req.query.get("force", "")).lower() == "true"
    if code in state.vouchers or code in state.voucher_codes_by_id:
        voucher = state.remove_voucher(state.get_voucher_or_404(code)["code"])
        if not force:
            state.bin[voucher["code"]] = voucher
    elif force and code in state.bin:
        # A binned voucher can be removed for good, which frees its code.
        del state.bin[code]
    else:
        raise not_found("voucher", code)
    return no_content()


# list-vouchers' advanced filters read a voucher's top-level fields; these names (Voucherify's
# plural filter fields) read the singular field they are named after.
FILTER_FIELDS = {
    "campaign_ids": lambda v: v.get("campaign_id"),
    "category_ids": lambda v: v.get("category_id"),
    "categories": lambda v: v.get("category"),
    "voucher_type": lambda v: v.get("type"),
    "ids": lambda v: v.get("id"),
    "codes": lambda v: v.get("code"),
    "holder_ids": lambda v: v.get("holder_id"),
}
# The stored field each filter's $is/$in compares (a filter field not listed here reads the
# top-level field of its own name), for the equality buckets (store.Bucket).
BUCKET_FIELDS = {
    "campaign_ids": "campaign_id",
    "category_ids": "category_id",
    "categories": "category",
    "voucher_type": "type",
    "codes": KEY,
    "holder_ids": "holder_id",
    "campaign_id": "campaign_id",
    "campaign": "campaign",
    "category_id": "category_id",
    "category": "category",
    "type": "type",
    "code": KEY,
    "holder_id": "holder_id",
}
LIST_ORDERS = ("created_at", "-created_at", "updated_at", "-updated_at", "code", "-code")


def _list_filter(state: SandboxState, q: JSON) -> tuple[Any, Any, list[Clause]]:
    """The list's filters as one predicate (None when none is set), a key naming them, and
    the equality clauses that narrow a first pass to the candidates (store.Bucket)."""
    tests: list[Callable[[JSON], bool]] = []
    clauses: list[Clause] = []

    def equal(value: Any, *fields: str) -> None:
        if isinstance(value, str):  # a str equals only the str of the same text: exact
            clauses.append([(field, (value,)) for field in fields])

    if q.get("category"):
        category = q["category"]
        tests.append(lambda v: category in (v.get("category"), v.get("category_id")))
        equal(category, "category", "category_id")
    if q.get("campaign_id"):
        campaign_id = q["campaign_id"]
        tests.append(lambda v: v.get("campaign_id") == campaign_id)
        equal(campaign_id, "campaign_id")
    if q.get("campaign"):
        campaign = q["campaign"]
        tests.append(lambda v: campaign in (v.get("campaign"), v.get("campaign_id")))
        equal(campaign, "campaign", "campaign_id")
    holder = None
    if q.get("customer"):
        cust = state.find_customer(str(q["customer"]))
        holder = cust["id"] if cust else str(q["customer"])
        tests.append(lambda v: v.get("holder_id") == holder)
        equal(holder, "holder_id")
    if q.get("code"):
        code = q["code"]
        tests.append(lambda v: v["code"] == code)
        equal(code, KEY)
    if q.get("ids"):
        ids = set(q["ids"] if isinstance(q["ids"], list) else [q["ids"]])
        tests.append(lambda v: v["id"] in ids)
    advanced = conditions_predicate(q.get("filters"), FILTER_FIELDS, any_field=True)
    if advanced is not None:
        tests.append(advanced)
        clauses += equality_clauses(q.get("filters"), BUCKET_FIELDS)
    if not tests:
        return None, None, []
    names = ("category", "campaign_id", "campaign", "code", "ids", "filters")
    key = (holder, frozen({n: q[n] for n in names if q.get(n)}))
    return (lambda v: all(test(v) for test in tests)), key, clauses


@route("GET", "/v1/vouchers", operation_id="list-vouchers")
def list_vouchers(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    q = req.query
    limit = int_param(q, "limit", 10, 1, 100)
    page = int_param(q, "page", 1, 1, 99)
    field, descending = parse_order(q.get("order"), LIST_ORDERS, "-created_at")
    windows = date_windows(q, "created_at", "updated_at")
    matches, key, clauses = _list_filter(state, q)
    narrow = (lambda: state.vouchers.candidates(clauses)) if clauses else None
    selection = select(state.vouchers, field, descending, windows, matches, key, narrow)
    # Rendered here (not at encoding) so a list call's cost includes building its JSON objects.
    data = [render(v) for v in selection.page(page, limit)]
    return ok({"object": "list", "data_ref": "vouchers", "vouchers": data, "total": selection.total})
