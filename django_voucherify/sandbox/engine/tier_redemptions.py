"""The side effects of redeeming a promotion tier, and of rolling one back (under ``state.lock``).

Contract: a tier's redemption is stored as a voucher's is (``r_`` / ``rf_`` / ``rr_``, indexed in
``voucher_redemptions`` under the tier's id so ``redemption.count.per_customer`` rules and the
campaign summary find it), with ``related_object_type: "promotion_tier"``, the tier's id as
``related_object_id``, no ``voucher`` (the spec's failed tier redemption example shows
``voucher: null``, but the Redemption schema does not let it be null: it is left out) and the tier
as it was in ``promotion_tier``. The tier's ``summary`` counts it: ``redemptions.total_redeemed``
+1, ``orders.total_amount`` + the order's amount, ``orders.total_discount_amount`` + what the tier
took off; a rollback takes each back (inferred: the spec does not say whether a rolled back
redemption still counts; the sandbox counts what stands, as a voucher's ``redeemed_quantity``).
"""

from __future__ import annotations

from typing import Any

from django_voucherify.sandbox.engine import ledger
from django_voucherify.sandbox.state import SandboxState

JSON = dict[str, Any]


def _stored(state: SandboxState, tier_id: str | None) -> JSON | None:
    from django_voucherify.sandbox import promotion_store

    return promotion_store.tiers(state).get(tier_id or "")


def snapshot(state: SandboxState, tier_id: str | None) -> JSON | None:
    """The tier as shown now (a copy), or None when it was deleted since."""
    from django_voucherify.sandbox import promotion_store

    tier = _stored(state, tier_id)
    return promotion_store.view(state, tier) if tier is not None else None


def _count(state: SandboxState, tier_id: str | None, sign: int, order_amount: int, discount: int) -> None:
    tier = _stored(state, tier_id)
    if tier is None:
        return  # deleted since it was redeemed: nothing left to count on
    summary = tier.setdefault("summary", {})
    reds = summary.setdefault("redemptions", {})
    orders = summary.setdefault("orders", {})
    reds["total_redeemed"] = max(0, int(reds.get("total_redeemed") or 0) + sign)
    orders["total_amount"] = max(0, int(orders.get("total_amount") or 0) + sign * order_amount)
    orders["total_discount_amount"] = max(0, int(orders.get("total_discount_amount") or 0) + sign * discount)


def mark(state: SandboxState, red: JSON, tier_id: str) -> None:
    """The tier fields of a redemption, rollback or failed redemption of ``tier_id``."""
    red["related_object_type"] = "promotion_tier"
    red["related_object_id"] = tier_id
    red.pop("voucher", None)  # not nullable in the Redemption schema: left out
    red["promotion_tier"] = snapshot(state, tier_id)


def apply_success(
    state: SandboxState, tier_id: str, discount: int, order_amount: int, red: JSON, session_key: str | None
) -> None:
    """One successful child redemption of a tier: its counters, the session's hold, the fields."""
    _count(state, tier_id, +1, order_amount, discount)
    if session_key:
        ledger.session_registry(state).consume(session_key, tier_id)
        red["session"] = {"key": session_key}
    mark(state, red, tier_id)


def undo(state: SandboxState, red: JSON, effect: JSON, rollback: JSON) -> None:
    """A rollback of a tier's redemption ``red``: its counters back, the rollback's fields."""
    tier_id = red.get("related_object_id")
    discount = int(effect.get("order_level") or 0) + int(effect.get("items_level") or 0)
    _count(state, tier_id, -1, int(effect.get("order_amount") or 0), discount)
    mark(state, rollback, str(tier_id))
