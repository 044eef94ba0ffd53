"""The second redeem of ``automatic=True`` (the stack refused by an automatic tier alone is
redeemed again without it, on a new ledger row) against what changed meanwhile: the order
cancelled, the second answer lost (review 20)."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from django_voucherify import checkout
from django_voucherify.models import CheckoutRedemption, LedgerState
from tests.support.checkout import redemptions_of

pytestmark = pytest.mark.django_db

ORDER = {"source_id": "ORD-R20", "amount": 10_000}
redeem_module = importlib.import_module("django_voucherify.checkout.redeem")


def test_an_order_cancelled_during_the_refused_attempt_is_not_redeemed_again(
    sandbox: Any, monkeypatch: Any
) -> None:
    """The order is cancelled (its live row's rollback asked for) while the first redeem is in
    flight; Voucherify refuses that stack because of an automatic tier. The cancellation was
    for the order, not for that one attempt: no second attempt may redeem the order now (it
    did, on a new row nobody asked to roll back: the cancelled order kept its discount)."""
    from tests.support.vouchers import make_tier, make_voucher

    tier = make_tier("Three off", amount_off=300)
    make_voucher("FIVE", amount_off=500)
    real_automatic, real_send = redeem_module.with_automatic, redeem_module.send_redeem
    sends: list[int] = []

    def then_disable(*args: Any, **kwargs: Any) -> Any:
        found = real_automatic(*args, **kwargs)
        sandbox.state.extra["promotion_tiers"][tier["id"]]["active"] = False  # its cache: still qualified
        return found

    def cancel_first(api: Any, body: Any) -> Any:
        sends.append(1)
        if len(sends) == 1:  # the shop cancels the order while the first request is in flight
            checkout.rollback_order(ORDER["source_id"], "order canceled")
        return real_send(api, body)

    monkeypatch.setattr(redeem_module, "with_automatic", then_disable)
    monkeypatch.setattr(redeem_module, "send_redeem", cancel_first)
    with pytest.raises(checkout.CodesRefused):
        checkout.redeem(["FIVE"], ORDER, "ann", automatic=True)
    assert len(sends) == 1
    assert not CheckoutRedemption.objects.filter(state=LedgerState.SUCCEEDED).exists()
    assert redemptions_of(sandbox) == []


def test_a_lost_answer_to_the_second_attempt_is_reconciled_and_the_refused_row_left_alone(
    sandbox: Any, monkeypatch: Any
) -> None:
    """The stack is refused because of an automatic tier (row 1 FAILED), the rest is sent on
    row 2 and its answer is lost: row 2 is UNKNOWN and reconciled (its redemption found by
    its own marker and rolled back), row 1 stays FAILED with nothing to look for, and the
    order holds no redemption in the end. Nothing is sent a third time."""
    from tests.support.vouchers import make_tier, make_voucher

    tier = make_tier("Three off", amount_off=300)
    make_voucher("FIVE", amount_off=500)
    real_automatic, real_send = redeem_module.with_automatic, redeem_module.send_redeem
    sends: list[int] = []

    def then_disable(*args: Any, **kwargs: Any) -> Any:
        found = real_automatic(*args, **kwargs)
        sandbox.state.extra["promotion_tiers"][tier["id"]]["active"] = False
        return found

    def lose_second(api: Any, body: Any) -> Any:
        sends.append(1)
        if len(sends) == 2:
            sandbox.faults.add(path="/v1/redemptions", method="POST", drop=True, after=True, times=1)
        return real_send(api, body)

    monkeypatch.setattr(redeem_module, "with_automatic", then_disable)
    monkeypatch.setattr(redeem_module, "send_redeem", lose_second)
    with pytest.raises(checkout.CheckoutUnavailable) as caught:
        checkout.redeem(["FIVE"], ORDER, "ann", automatic=True)
    assert caught.value.outcome_unknown and len(sends) == 2
    first, second = CheckoutRedemption.objects.order_by("pk")
    assert (first.state, first.tiers, first.late_check_at) == (LedgerState.FAILED, [tier["id"]], None)
    assert second.state == LedgerState.UNKNOWN
    second = checkout.reconcile(second)  # what the scheduled task does after the grace period
    assert second.state == LedgerState.ROLLED_BACK and second.codes == ["FIVE"], second.state
    assert sandbox.state.vouchers["FIVE"]["redemption"]["redeemed_quantity"] == 0
    assert len(sends) == 2
