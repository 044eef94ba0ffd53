"""State side of redemptions: request parsing, stored objects, counters, indexes.

Contract: every function here runs with ``state.lock`` held (the WSGI app holds
it around each handler), so check-and-mutate sequences are atomic.  Objects are
stored in the spec's shapes (``Redemption``, ``RedemptionRollback``, ``Order``)
in ``state.redemptions`` / ``state.rollbacks`` / ``state.orders``.  Engine
bookkeeping that is not part of any API shape lives in JSON-able
``state.extra`` entries so ``--data`` persistence keeps it:

* ``state.extra["voucher_redemptions"]``: voucher id -> [redemption/rollback ids]
  (so a voucher's redemption list is not a scan of every redemption);
* ``state.extra["redemption_effects"]``: redemption id -> ``{order_level,
  items_level, credits, children}`` (what a rollback must undo).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

from django_voucherify.sandbox.compact import Voucher
from django_voucherify.sandbox.engine import pricing, sessions, tiers
from django_voucherify.sandbox.errors import SandboxError, invalid_payload, not_found
from django_voucherify.sandbox.objects import customer_ref
from django_voucherify.sandbox.state import SandboxState

JSON = dict[str, Any]

REDEEMABLE_OBJECTS = ("voucher", "promotion_tier", "promotion_stack")
EXPAND_VALUES = ("order", "redemption", "redeemable", "category")

_registries: weakref.WeakKeyDictionary[SandboxState, sessions.SessionRegistry] = weakref.WeakKeyDictionary()


def session_registry(state: SandboxState) -> sessions.SessionRegistry:
    """The session registry over ``state.sessions`` (rebuilt if the store was replaced,
    e.g. by ``load_json``)."""
    reg = _registries.get(state)
    if reg is None or reg.store is not state.sessions:
        reg = sessions.SessionRegistry(state.sessions)
        _registries[state] = reg
    return reg


@dataclass(slots=True)  # slots: one made per validation or redeem, without an instance dict
class StackRequest:
    """A validated ``redeem-stacked-discounts`` / ``validate-stacked-discounts`` body."""

    redeemables: list[JSON]
    order: JSON | None
    customer: JSON | None
    session: JSON | None
    tracking_id: str | None
    metadata: JSON | None
    expand: tuple[str, ...]


def _obj(body: JSON, name: str) -> JSON | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid_payload(f"{name} must be an object")
    return value


def parse_stack_request(body: JSON) -> StackRequest:
    """Validate the body per ``StackableValidateRedeemBase`` (400 ``invalid_payload``):
    1..30 redeemables, each ``{object, id}`` with a known object, no duplicates."""
    reds = body.get("redeemables")
    if reds is None:
        # The schema lets ``redeemables`` be null or absent, but these endpoints "verify [or
        # redeem] redeemables provided in the request" and an array needs ``minItems: 1``:
        # with none there is nothing to do, so the sandbox refuses it (docs/sandbox.md).
        raise invalid_payload("redeemables: required; at least one redeemable must be given")
    if not isinstance(reds, list) or not reds:
        raise invalid_payload("redeemables: must be a non-empty array")
    if len(reds) > 30:
        raise invalid_payload("redeemables: must NOT have more than 30 items")
    seen: set[tuple[str, str]] = set()
    for i, red in enumerate(reds):
        if not isinstance(red, dict) or not isinstance(red.get("id"), str) or not red["id"]:
            raise invalid_payload(f"redeemables[{i}].id: must be a non-empty string")
        kind = red.get("object", "voucher")
        if kind not in REDEEMABLE_OBJECTS:
            raise invalid_payload(f"redeemables[{i}].object: must be one of {REDEEMABLE_OBJECTS}")
        if kind == "promotion_stack":  # the API's answer for a stack is not simulated (docs/sandbox.md)
            raise invalid_payload(
                f"redeemables[{i}]: promotion_stack redeemables are not simulated by the sandbox; "
                "send the stack's tiers (object promotion_tier) instead"
            )
        if (kind, red["id"]) in seen:
            raise invalid_payload(f"redeemables[{i}]: each redeemable can be sent only once")
        seen.add((kind, red["id"]))
        gift = red.get("gift")
        if gift is not None and (
            not isinstance(gift, dict)
            or (gift.get("credits") is not None and not isinstance(gift["credits"], int | float))
        ):
            raise invalid_payload(f"redeemables[{i}].gift.credits: must be a number")
    order = parse_order(body)
    options = _obj(body, "options") or {}
    expand = options.get("expand") or []
    if not isinstance(expand, list) or any(e not in EXPAND_VALUES for e in expand):
        raise invalid_payload(f"options.expand: items must be one of {EXPAND_VALUES}")
    metadata = _obj(body, "metadata")
    tracking = body.get("tracking_id")
    return StackRequest(
        redeemables=reds,
        order=order,
        customer=_obj(body, "customer"),
        session=_obj(body, "session"),
        tracking_id=str(tracking) if tracking is not None else None,
        metadata=metadata,
        expand=tuple(expand),
    )


def parse_order(body: JSON) -> JSON | None:
    """The request's ``order`` (None when absent), checked as far as pricing it needs: an
    object whose amount (or items' amounts) are numbers, ``items`` an array (400
    ``invalid_payload``)."""
    order = _obj(body, "order")
    if order is not None:
        try:
            pricing.order_amount(order)
        except (ValueError, TypeError, AttributeError) as exc:
            raise invalid_payload(f"order: {exc}") from None
        if order.get("items") is not None and not isinstance(order["items"], list):
            raise invalid_payload("order.items: must be an array")
    return order


def object_field(body: JSON, name: str) -> JSON | None:
    """``body[name]``: an object or None (400 ``invalid_payload`` otherwise)."""
    return _obj(body, name)


def find_voucher(state: SandboxState, red: JSON) -> JSON | None:
    """The voucher a redeemable points at (by code, or ``v_`` id), else None; for a promotion
    tier, the voucher-like view the engine prices (engine/tiers.py)."""
    if red.get("object", "voucher") != "voucher":
        return find_tier(state, red) if red.get("object") == tiers.KIND else None
    code = red["id"]
    voucher = state.vouchers.get(code)
    if voucher is None and code in state.voucher_codes_by_id:
        voucher = state.vouchers.get(state.voucher_codes_by_id[code])
    return voucher


def find_tier(state: SandboxState, red: JSON) -> JSON | None:
    from django_voucherify.sandbox import campaign_store, promotion_store

    tier = promotion_store.tiers(state).get(red["id"])
    if tier is None:
        return None
    return tiers.as_redeemable(tier, campaign_store.campaigns(state).get(tier.get("campaign_id") or ""))


def stored_order(state: SandboxState, order: JSON | None) -> JSON | None:
    """The stored order a request order refers to: by ``id`` (404 when unknown, as
    Voucherify requires an existing order for ``id``) or by ``source_id``."""
    if not order:
        return None
    if order.get("id"):
        found = state.orders.get(str(order["id"]))
        if found is None:
            raise not_found("order", str(order["id"]))
        return found
    if order.get("source_id"):
        return state.find_order(str(order["source_id"]))
    return None


def voucher_snapshot(voucher: JSON) -> JSON:
    """A copy of the voucher for embedding (nested counters copied, since they mutate)."""
    snap = voucher.render() if isinstance(voucher, Voucher) else dict(voucher)
    for key in ("gift", "redemption", "loyalty_card"):
        if isinstance(snap.get(key), dict):
            snap[key] = dict(snap[key])
    return snap


def channel(app_id: str | None) -> JSON:
    return {"channel_id": app_id or "sandbox", "channel_type": "API"}


def index_for_voucher(state: SandboxState, voucher_id: str | None, object_id: str) -> None:
    if voucher_id:
        per = state.extra.setdefault("voucher_redemptions", {})
        per.setdefault(voucher_id, []).append(object_id)


def voucher_entries(state: SandboxState, voucher_id: str) -> list[JSON]:
    """Redemptions and rollbacks of one voucher, oldest first."""
    ids = state.extra.get("voucher_redemptions", {}).get(voucher_id, [])
    out = []
    for oid in ids:
        obj = state.redemptions.get(oid) or state.rollbacks.get(oid)
        if obj is not None:
            out.append(obj)
    return out


def effects(state: SandboxState) -> dict[str, JSON]:
    result: dict[str, JSON] = state.extra.setdefault("redemption_effects", {})
    return result


def customer_summary(customer: JSON | None) -> JSON | None:
    """The customer's ``summary.redemptions`` dict (created if missing)."""
    if customer is None:
        return None
    summary = customer.setdefault("summary", {})
    reds: JSON = summary.setdefault("redemptions", {})
    for key in (
        "total_redeemed",
        "total_failed",
        "total_succeeded",
        "total_rolled_back",
        "total_rollback_failed",
        "total_rollback_succeeded",
    ):
        reds.setdefault(key, 0)
    reds.setdefault("gift", {"redeemed_amount": 0, "amount_to_go": 0})
    reds.setdefault("loyalty_card", {"redeemed_points": 0, "points_to_go": 0})
    return reds


def count_redemption(customer: JSON | None, success: bool, credits: int = 0) -> None:
    """Customer counters for one (child) redemption attempt."""
    reds = customer_summary(customer)
    if reds is None:
        return
    reds["total_redeemed"] += 1
    reds["total_succeeded" if success else "total_failed"] += 1
    if credits:
        reds["gift"]["redeemed_amount"] += credits


def count_rollback(customer: JSON | None, credits: int = 0) -> None:
    """Customer counters for one successful (child) rollback."""
    reds = customer_summary(customer)
    if reds is None:
        return
    reds["total_rolled_back"] += 1
    reds["total_rollback_succeeded"] += 1
    if credits:
        reds["gift"]["redeemed_amount"] -= credits


def save_order(
    state: SandboxState,
    request_order: JSON,
    existing: JSON | None,
    calc_view: JSON,
    customer: JSON | None,
    now: str,
) -> JSON:
    """Create or update the stored order from a successful redemption.

    The amounts come from the engine (``calc_view``); status defaults to
    ``PAID`` for new orders (the spec's redemption examples), metadata and
    status from the request win.  Customer order counters are updated for new
    orders only.
    """
    order: JSON = (
        existing
        if existing is not None
        else {
            "id": state.new_id("ord_"),
            "source_id": request_order.get("source_id"),
            "created_at": now,
            "updated_at": None,
            "status": "PAID",
            "metadata": {},
            "customer_id": None,
            "referrer_id": None,
            "object": "order",
            "redemptions": {},
        }
    )
    if existing is not None:
        order["updated_at"] = now
    for key, value in calc_view.items():
        if key not in ("id", "source_id", "object", "created_at", "redemptions", "customer"):
            order[key] = value
    if request_order.get("status"):
        order["status"] = request_order["status"]
    if isinstance(request_order.get("metadata"), dict):
        order["metadata"] = request_order["metadata"]
    if customer is not None:
        order["customer"] = {"id": customer["id"], "object": "customer"}
        order["customer_id"] = customer["id"]
    if order.get("redemptions") is None:
        order["redemptions"] = {}
    state.put_order(order)
    if existing is None and customer is not None:
        orders = customer.setdefault("summary", {}).setdefault("orders", {})
        count = int(orders.get("total_count") or 0) + 1
        total = int(orders.get("total_amount") or 0) + int(order.get("amount") or 0)
        orders.update(
            total_count=count,
            total_amount=total,
            average_amount=total // count,
            last_order_amount=order.get("amount"),
            last_order_date=now,
        )
    return order


def order_ref(order: JSON | None, entry: str | None = None) -> JSON | None:
    """The order embedded in a redemption: a shallow copy of the order.

    With ``entry`` (the id the redemption is recorded under in the order's ``redemptions`` map),
    the copy's map holds that entry only: a stored redemption or rollback keeps a bounded view,
    where copying the whole growing map made each redemption of a busy order cost more memory
    than the last (see docs/sandbox.md). Without it (a response body), the whole map is copied.
    """
    if order is None:
        return None
    out = dict(order)
    redemptions = order.get("redemptions") or {}
    if entry is None:
        out["redemptions"] = dict(redemptions)
    else:
        out["redemptions"] = {entry: redemptions[entry]} if entry in redemptions else {}
    return out


def base_redemption(
    state: SandboxState,
    rid: str,
    now: str,
    req: StackRequest,
    customer: JSON | None,
    app_id: str | None,
) -> JSON:
    """Fields every redemption object shares."""
    return {
        "id": rid,
        "object": "redemption",
        "date": now,
        "customer_id": customer["id"] if customer else None,
        "tracking_id": req.tracking_id or (customer or {}).get("source_id"),
        "metadata": dict(req.metadata or {}),
        "redemption": None,
        "channel": channel(app_id),
        "customer": customer_ref(customer),
    }


def redemption_error(
    key: str, code: int, details: str, resource_id: str | None, error_message: str | None = None
) -> SandboxError:
    """The error a failed redeem answers with: the business key, identifying the
    failing redeemable in ``details`` and the stored failed redemption (``rf_``)
    in ``resource_id`` (the spec's Error example: ``rf_...`` / ``voucher``)."""
    from django_voucherify.sandbox.engine.eligibility import MESSAGES

    return SandboxError(
        code,
        key,
        MESSAGES.get(key, key.replace("_", " ")),
        details,
        resource_id=resource_id,
        resource_type="voucher",
        error_message=error_message,
    )
