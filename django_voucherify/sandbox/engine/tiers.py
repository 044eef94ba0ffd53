"""Promotion tiers as redeemables: what the stacking engine sees of a tier, and its checks.

Contract
--------
* :func:`as_redeemable` turns a stored tier (and its campaign) into the voucher-like mapping
  :func:`~.stacking.evaluate` prices: a ``DISCOUNT_VOUCHER`` whose ``discount`` is the tier's
  ``action.discount``, whose ``code`` and ``id`` are the tier's id. The engine then applies it
  as it applies a discount voucher (order-level or items, validation rules narrowing the items).
* :func:`check_tier` is the tier's state check, in the voucher check's order: the tier's own
  ``active`` flag and windows (start/expiration dates, ``validity_day_of_week``,
  ``validity_timeframe``, ``validity_hours``), then its campaign's. Any failure is
  ``promotion_inactive`` ("Inactive Promotion", the spec's failed tier redemption example);
  the details say which window failed. A tier has no quantity of its own (PromotionTier has no
  ``redemption`` block): limits are set with validation rules (``redemption.count.per_customer``).
* :func:`active_tiers` and :func:`evaluate_tier` are for callers that look for the promotions a
  cart qualifies for (qualifications): the tiers usable at ``now`` by ``hierarchy``, and one
  tier's verdict and discount for an order, nothing stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import eligibility
from .eligibility import Failure

if TYPE_CHECKING:  # the engine stays importable without the sandbox's stores
    from django_voucherify.sandbox.state import SandboxState

    from .stacking import Outcome

JSON = dict[str, Any]
KIND = "promotion_tier"
INACTIVE = "promotion_inactive"
_WINDOWS = ("start_date", "expiration_date", "validity_timeframe", "validity_day_of_week", "validity_hours")


def is_tier(request: Mapping[str, Any]) -> bool:
    return request.get("object") == KIND


def as_redeemable(tier: Mapping[str, Any], campaign: Mapping[str, Any] | None) -> JSON:
    """The voucher-like view of ``tier`` the engine prices (a new dict: never stored)."""
    view: JSON = {
        "object": KIND,
        "id": tier["id"],
        "code": tier["id"],
        "type": "DISCOUNT_VOUCHER",
        "discount": dict((tier.get("action") or {}).get("discount") or {}),
        "active": tier.get("active") is not False,
        "campaign_id": tier.get("campaign_id"),
        "campaign": (campaign or {}).get("name"),
        "metadata": dict(tier.get("metadata") or {}),
        "categories": list(tier.get("categories") or []),
        "banner": tier.get("banner"),
        "name": tier.get("name"),
        "hierarchy": tier.get("hierarchy"),
        "campaign_windows": {
            "active": (campaign or {}).get("active") is not False,
            **{k: campaign[k] for k in _WINDOWS if campaign and campaign.get(k) is not None},
        },
    }
    view.update({k: tier[k] for k in _WINDOWS if tier.get(k) is not None})
    return view


def check_tier(redeemable: Mapping[str, Any], now: datetime) -> Failure | None:
    """``promotion_inactive`` when the tier or its campaign is off or outside its windows."""
    tier_id = redeemable.get("id")
    own = eligibility.check_voucher(redeemable, now)
    if own is not None:
        return Failure(
            INACTIVE, f"promotion tier {tier_id}: {own.details.removeprefix(str(tier_id)).strip()}"
        )
    campaign = {**(redeemable.get("campaign_windows") or {}), "code": redeemable.get("campaign") or ""}
    failed = eligibility.check_voucher(campaign, now)
    if failed is not None:
        return Failure(INACTIVE, f"promotion tier {tier_id}: campaign {failed.details}")
    return None


def tier_failure(failure: Failure | None) -> Failure | None:
    """A voucher-level failure met by a tier, in a tier's words: state failures (a disabled
    campaign, a window) are ``promotion_inactive``; rule and amount failures keep their key."""
    if failure is not None and failure.key in ("voucher_disabled", "voucher_not_active", "voucher_expired"):
        return Failure(INACTIVE, failure.details, failure.code, failure.error_message)
    return failure


# ---- for qualifications: what a cart can get --------------------------------------------------
def active_tiers(state: SandboxState, now: datetime) -> list[JSON]:
    """The stored tiers usable at ``now`` (tier and campaign on, inside their windows), ordered
    by campaign creation then ``hierarchy``: each as :func:`as_redeemable` shows it."""
    from django_voucherify.sandbox import campaign_store, promotion_store

    found: list[JSON] = []
    for campaign in campaign_store.campaigns(state).values():
        if campaign.get("campaign_type") != "PROMOTION":
            continue
        for tier in promotion_store.tiers_of(state, campaign["id"]):
            redeemable = as_redeemable(tier, campaign)
            if check_tier(redeemable, now) is None:
                found.append(redeemable)
    return found


def evaluate_tier(
    state: SandboxState,
    tier_id: str,
    order: Mapping[str, Any] | None,
    customer: Mapping[str, Any] | None,
    now: datetime,
) -> Outcome:
    """One tier's verdict for ``order`` (and ``customer``), as a validation would give it: the
    outcome's ``failure`` (None when it applies), ``discount`` (order + items, minor units) and
    ``rules`` (its validation rules' product limits). Reads the state, changes nothing."""
    from django_voucherify.sandbox import rule_check
    from django_voucherify.sandbox.engine import ledger, stacking

    request = {"object": KIND, "id": tier_id}
    evaluation = stacking.evaluate(
        [request],
        [ledger.find_voucher(state, request)],
        order,
        now,
        rule_check=rule_check.checker(state, order, customer),
    )
    return evaluation.outcomes[0]
