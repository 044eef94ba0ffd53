"""Evaluate a list of redeemables against an order, in requested order.

Contract: :func:`evaluate` is pure.  The caller resolves each redeemable to a
voucher dict (or ``None`` when not found), supplies ``now`` and the quantity
and credits held by *other* LOCK sessions, and gets back one
:class:`Outcome` per redeemable plus the final :class:`~.pricing.OrderCalc`.
Nothing is mutated except the working ``OrderCalc``; the caller applies the
side effects (counters, balances, stored redemptions) under ``state.lock``.

Stacking rules reproduced (Voucherify project defaults, see the
``StackingRules`` schema and docs/sandbox-redemptions.md):
``redeemables_sorting_rule = REQUESTED_ORDER`` (discounts apply one after the
other on what is left of the order), ``redeemables_application_mode = ALL``
(one inapplicable redeemable makes the whole request invalid; the others are
reported ``SKIPPED``), ``redeemables_limit = 30``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import eligibility, pricing, tiers
from .eligibility import Failure
from .rules import RuleCheck, RuleOutcome

REDEEMABLES_LIMIT = 30
#: The redeemable objects the engine evaluates (a ``promotion_stack`` is not simulated: any
#: other object is reported ``not_found``).
SIMULATED_OBJECTS = ("voucher", tiers.KIND)

STACKING_RULES: dict[str, Any] = {
    "redeemables_limit": REDEEMABLES_LIMIT,
    "applicable_redeemables_limit": 30,
    "applicable_redeemables_per_category_limit": 30,
    "applicable_exclusive_redeemables_limit": 5,
    "applicable_redeemables_category_limits": {},
    "exclusive_categories": [],
    "joint_categories": [],
    "redeemables_application_mode": "ALL",
    "redeemables_sorting_rule": "REQUESTED_ORDER",
    "redeemables_products_application_mode": "STACK",
    "redeemables_no_effect_rule": "REDEEM_ANYWAY",
    "no_effect_skip_categories": [],
    "no_effect_redeem_anyway_categories": [],
    "redeemables_rollback_order_mode": "WITH_ORDER",
}


@dataclass(slots=True)  # slots: made on every validation and redeem, without an instance dict
class Outcome:
    """Result for one requested redeemable.

    ``discount`` is what it took off the order (order + items); ``credits`` the
    gift credits it used (also included in ``discount``, since credits are
    booked as an order reduction).  ``order_after`` holds the order amount
    fields right after this redeemable was applied.
    """

    index: int
    request: Mapping[str, Any]
    voucher: Mapping[str, Any] | None
    failure: Failure | None = None
    discount: int = 0
    order_level: int = 0
    items_level: int = 0
    credits: int = 0
    order_after: dict[str, Any] = field(default_factory=dict)
    rules: RuleOutcome | None = None  # its validation rules' verdict and product limits

    @property
    def code(self) -> str:
        return str(self.request.get("id", ""))

    @property
    def applicable(self) -> bool:
        return self.failure is None

    def result(self) -> dict[str, Any]:
        """The spec's ``RedeemableResult*`` object for an applicable redeemable."""
        voucher = self.voucher or {}
        if voucher.get("type") == "GIFT_VOUCHER":
            balance = eligibility.gift_balance(voucher)
            return {"gift": {"balance": balance, "credits": self.credits}}
        if voucher.get("discount") is not None:
            return {"discount": dict(voucher["discount"])}
        return {}


@dataclass(slots=True)  # slots: made on every validation and redeem, without an instance dict
class Evaluation:
    """All outcomes plus the final order working set."""

    outcomes: list[Outcome]
    calc: pricing.OrderCalc

    @property
    def valid(self) -> bool:
        for outcome in self.outcomes:  # noqa: SIM110 - a loop costs less than all() over a generator
            if outcome.failure is not None:
                return False
        return True

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.applicable]


def requested_credits(request: Mapping[str, Any]) -> int | None:
    """``redeemable.gift.credits`` as int minor units, or None when absent."""
    gift = request.get("gift") or {}
    if gift.get("credits") is None:
        return None
    return pricing.to_minor(gift["credits"])


def _snapshot(calc: pricing.OrderCalc, order_level: int, items_level: int) -> dict[str, Any]:
    discount = calc.previous_discount + calc.applied
    items_discount = calc.items_previous + calc.items_applied
    return {
        "amount": calc.amount,
        "discount_amount": discount,
        "items_discount_amount": items_discount,
        "total_discount_amount": discount + items_discount,
        "total_amount": None if calc.amount is None else calc.amount - discount - items_discount,
        "applied_discount_amount": order_level,
        "items_applied_discount_amount": items_level,
        "total_applied_discount_amount": order_level + items_level,
    }


def _apply_one(
    outcome: Outcome,
    voucher: Mapping[str, Any],
    calc: pricing.OrderCalc,
    held_credits: Callable[[Mapping[str, Any]], int],
) -> Failure | None:
    """Apply an eligible voucher's effect; returns a failure for amount problems.

    ``held_credits`` is asked for gift cards only (the sessions' holds are looked up for it)."""
    vtype = voucher.get("type")
    before_order, before_items = calc.applied, calc.items_applied
    if vtype == "GIFT_VOUCHER":
        held = held_credits(voucher)
        wanted = requested_credits(outcome.request)
        failure = eligibility.check_gift(voucher, wanted, calc.amount, held)
        if failure:
            return failure
        available = eligibility.gift_balance(voucher) - held
        credits = available if wanted is None else wanted
        effect = (voucher.get("gift") or {}).get("effect")
        outcome.credits = pricing.apply_gift(calc, credits, effect)
    elif vtype == "LOYALTY_CARD":
        return Failure(
            "missing_reward",
            f"{outcome.code}: paying with loyalty points needs a reward, and rewards are "
            "not supported by the sandbox",
        )
    else:
        discount = voucher.get("discount") or {}
        applicable_to = (voucher.get("applicable_to") or {}).get("data")
        excluded = None
        if outcome.rules is not None:  # validation rules narrow the items discounted
            applicable_to = [*(applicable_to or []), *outcome.rules.applicable_to] or None
            excluded = outcome.rules.inapplicable_to
        pricing.apply_discount(calc, discount, applicable_to, excluded)
    outcome.order_level = calc.applied - before_order
    outcome.items_level = calc.items_applied - before_items
    outcome.discount = outcome.order_level + outcome.items_level
    return None


def evaluate(
    requests: Sequence[Mapping[str, Any]],
    vouchers: Sequence[Mapping[str, Any] | None],
    order: Mapping[str, Any] | None,
    now: datetime,
    held_quantity: Callable[[Mapping[str, Any]], int] = lambda v: 0,
    held_credits: Callable[[Mapping[str, Any]], int] = lambda v: 0,
    previous_discount: int = 0,
    precheck: Callable[[Mapping[str, Any]], Failure | None] = lambda v: None,
    rule_check: RuleCheck | None = None,
) -> Evaluation:
    """Check and apply each redeemable in requested order.

    ``vouchers[i]`` is the voucher for ``requests[i]`` (None: not found); for a
    promotion tier, the voucher-like view :func:`.tiers.as_redeemable` builds.
    Vouchers and promotion tiers are supported (a promotion stack is refused
    earlier, by ledger.parse_stack_request: not simulated, docs/sandbox.md).
    ``rule_check`` (see :mod:`~django_voucherify.sandbox.rule_check`) applies the voucher's
    validation rules after its own state checks.
    """
    calc = pricing.start(order, previous_discount)
    outcomes: list[Outcome] = []
    for index, (request, voucher) in enumerate(zip(requests, vouchers, strict=True)):
        outcome = Outcome(index=index, request=request, voucher=voucher)
        outcomes.append(outcome)
        kind = request.get("object", "voucher")
        if voucher is None or kind not in SIMULATED_OBJECTS:
            outcome.failure = Failure("not_found", f"Cannot find {kind} with id {outcome.code}", code=404)
            continue
        # precheck: what the voucher alone cannot tell (its campaign disabled...), first.
        if kind == tiers.KIND:  # a promotion tier: its own state checks, in a tier's words
            failure = tiers.tier_failure(precheck(voucher)) or tiers.check_tier(voucher, now)
        else:
            failure = precheck(voucher) or eligibility.check_voucher(voucher, now, held_quantity(voucher))
        if failure is None and rule_check is not None:
            outcome.rules = rule_check(voucher)
            failure = outcome.rules.failure if outcome.rules is not None else None
        if failure is None:
            failure = _apply_one(outcome, voucher, calc, held_credits)
        outcome.failure = failure
        outcome.order_after = _snapshot(calc, outcome.order_level, outcome.items_level)
    return Evaluation(outcomes=outcomes, calc=calc)


def target_list(voucher: Mapping[str, Any], name: str) -> dict[str, Any]:
    """``ApplicableToResultList`` / ``InapplicableToResultList`` of ``voucher``'s ``name``
    targets: ``{"data": [...], "total": n, "data_ref": "data", "object": "list"}``."""
    data = [dict(t) for t in (voucher.get(name) or {}).get("data") or [] if isinstance(t, Mapping)]
    return {"data": data, "total": len(data), "data_ref": "data", "object": "list"}


def _add_targets(result_list: dict[str, Any], targets: Sequence[Mapping[str, Any]]) -> None:
    result_list["data"] += [dict(t) for t in targets]
    result_list["total"] = len(result_list["data"])


def redeemable_view(outcome: Outcome, status: str, expand: bool = False) -> dict[str, Any]:
    """One entry of ``redeemables`` / ``inapplicable_redeemables`` /
    ``skipped_redeemables`` (``ValidationsRedeemable*`` schemas)."""
    voucher = outcome.voucher or {}
    view: dict[str, Any] = {
        "status": status,
        "id": outcome.code,
        "object": outcome.request.get("object", "voucher"),
    }
    if status == "APPLICABLE":
        view["order"] = dict(outcome.order_after)
        # ValidationsRedeemableApplicable: every applicable redeemable of the spec's
        # validate-stacked-discounts examples carries both lists, empty ones included.
        view["applicable_to"] = target_list(voucher, "applicable_to")
        view["inapplicable_to"] = target_list(voucher, "inapplicable_to")
        if outcome.rules is not None:
            _add_targets(view["applicable_to"], outcome.rules.applicable_to)
            _add_targets(view["inapplicable_to"], outcome.rules.inapplicable_to)
        view["result"] = outcome.result()
    elif status == "INAPPLICABLE" and outcome.failure is not None:
        error = outcome.failure.error(resource_id=outcome.code)
        view["result"] = {"error": error}
    else:
        view["result"] = {}
    view["metadata"] = dict(voucher.get("metadata") or {})
    view["categories"] = list(voucher.get("categories") or [])
    if expand and voucher:
        if voucher.get("campaign") is not None:
            view["campaign_name"] = voucher.get("campaign")
        if voucher.get("campaign_id") is not None:
            view["campaign_id"] = voucher.get("campaign_id")
    return view
