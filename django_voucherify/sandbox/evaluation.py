"""The engine's check of redeemables against an order, with the state it reads: the one home of
the call that validations and qualifications share, so that a qualification's discount is, by
construction, the discount a validation of that redeemable on that cart gives.

What the state supplies to the pure engine (:func:`~.engine.stacking.evaluate`): the quantity and
gift credits held by live LOCK sessions other than ``own_key``'s, the campaign checks a voucher
cannot make alone (its campaign disabled), and the validation rules' check (built once per
request by :func:`~django_voucherify.sandbox.rule_check.checker`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django_voucherify.sandbox import campaign_store
from django_voucherify.sandbox.engine import ledger, sessions, stacking
from django_voucherify.sandbox.engine.rules import RuleCheck
from django_voucherify.sandbox.state import SandboxState


def evaluate(
    state: SandboxState,
    redeemables: Sequence[Mapping[str, Any]],
    vouchers: Sequence[Mapping[str, Any] | None],
    order: Mapping[str, Any] | None,
    *,
    now: datetime,
    rules: RuleCheck,
    previous_discount: int = 0,
    own_key: str | None = None,
) -> stacking.Evaluation:
    """:func:`~.engine.stacking.evaluate` of ``redeemables`` (resolved to ``vouchers``) on
    ``order``, as a validation without side effects."""
    held_quantity, held_credits = _holds(ledger.session_registry(state), now, own_key)
    return stacking.evaluate(
        redeemables,
        vouchers,
        order,
        now,
        held_quantity=held_quantity,
        held_credits=held_credits,
        precheck=lambda v: campaign_store.disabled_campaign(state, v),
        previous_discount=previous_discount,
        rule_check=rules,
    )


Held = Callable[[Mapping[str, Any]], int]


def _holds(reg: sessions.SessionRegistry, now: datetime, own_key: str | None) -> tuple[Held, Held]:
    """The quantity and the credits live sessions other than ``own_key``'s hold on a voucher;
    with no session holding anything, nothing is looked up per voucher."""
    if not reg.holds_anything():
        return _nothing_held, _nothing_held
    return (
        lambda v: reg.held(v["code"], now, own_key).quantity,
        lambda v: reg.held(v["code"], now, own_key).credits,
    )


def _nothing_held(voucher: Mapping[str, Any]) -> int:
    return 0
