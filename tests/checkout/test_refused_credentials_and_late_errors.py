"""A refusal of the shop's credentials is never blamed on the customer's code, and failure paths
compare with what changed meanwhile (found by the review of issue 10).

- A 401/403 on validate or redeem means the shop's keys are wrong (revoked, lacking a
  permission): old code told every customer "This code cannot be used." (``CodesRefused``) and
  logged nothing. Now: Voucherify is unavailable for checkout (outage policy), an error is
  logged for staff; a redeem so refused is FAILED (not redeemed) and the order stays free.
- A refusal (4xx) arriving after reconciliation settled the row overwrote what reconciliation
  found (old code: ROLLED_BACK -> FAILED); a rollback error arriving after another worker's
  rollback was confirmed flagged the finished row for staff.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
import requests

from django_voucherify import checkout
from django_voucherify.models import CheckoutRedemption, LedgerState
from django_voucherify.tasks.checkout import checkout_sweep
from tests.support import adversary
from tests.support.checkout import checkout_settings, live_redemptions
from tests.support.vouchers import make_voucher

pytestmark = pytest.mark.django_db(transaction=True)

ORDER = {"source_id": "ORD-FP", "amount": 10_000}


class Hook(adversary.Interceptor):
    """``hook(request, forward)`` decides the answer of the first request matching ``match``."""

    match: Callable[[requests.PreparedRequest], bool]
    hook: Callable[[requests.PreparedRequest, Callable[[], requests.Response]], requests.Response]
    fired = False

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if self.fired or not self.match(request):
            return self.inner.send(request, **kwargs)
        self.fired = True
        return self.hook(request, lambda: self.inner.send(request, **kwargs))


def _hook(sandbox: Any, match: Any, hook: Any) -> None:
    interceptor = adversary.intercept(sandbox)
    interceptor.__class__ = Hook
    interceptor.match = match  # type: ignore[attr-defined]
    interceptor.hook = hook  # type: ignore[attr-defined]


def _is_redeem(request: requests.PreparedRequest) -> bool:
    return request.method == "POST" and str(request.url).split("?")[0].endswith("/v1/redemptions")


def _is_rollback(request: requests.PreparedRequest) -> bool:
    return request.method == "POST" and str(request.url).split("?")[0].endswith("/rollback")


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_at_redeem_are_an_outage_not_a_refused_code(sandbox, status, caplog):
    make_voucher("FIVE")
    refusal = sandbox.faults.add(path="/v1/redemptions", method="POST", status=status)
    with (
        caplog.at_level(logging.ERROR, logger="django_voucherify.checkout"),
        pytest.raises(checkout.CheckoutUnavailable) as unavailable,
    ):
        checkout.redeem(["FIVE"], ORDER)
    assert unavailable.value.outcome_unknown is False
    assert "credentials" in caplog.text
    assert CheckoutRedemption.objects.get().state == LedgerState.FAILED
    with checkout_settings(sandbox, CHECKOUT_OUTAGE_POLICY="proceed_without_discount"):
        outcome = checkout.redeem(["FIVE"], ORDER)
    assert outcome.applied is False and outcome.totals.total_amount == 10_000
    refusal.times = 0  # keys fixed: the order is free
    assert checkout.redeem(["FIVE"], ORDER).applied
    assert len(live_redemptions(sandbox)) == 1


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_at_validate_are_an_outage_not_a_refused_code(sandbox, status, caplog):
    make_voucher("FIVE")
    sandbox.faults.add(path="/v1/validations", method="POST", status=status)
    with (
        caplog.at_level(logging.ERROR, logger="django_voucherify.checkout"),
        pytest.raises(checkout.CheckoutUnavailable),
    ):
        checkout.validate(["FIVE"], ORDER)
    assert "credentials" in caplog.text
    with checkout_settings(sandbox, CHECKOUT_OUTAGE_POLICY="proceed_without_discount"):
        outcome = checkout.validate(["FIVE"], ORDER)
    assert outcome.unavailable and not outcome.valid


def test_a_refusal_arriving_after_reconciliation_does_not_overwrite_what_it_found(sandbox, clock):
    """Voucherify redeemed; the answer was held past the grace period; the sweep found the
    redemption and rolled it back; then a gateway's 4xx arrives for the request. The row stays
    ROLLED_BACK (old code: FAILED, with the rollback ids of a redemption it says never was)."""
    make_voucher("FIVE")

    def held_then_refused(request: Any, forward: Any) -> requests.Response:
        forward()  # Voucherify redeemed
        clock.advance(600)
        checkout_sweep()  # caller gone: reconciled, found, rolled back
        return adversary.json_answer(
            request, status=409, body={"code": 409, "key": "conflict", "message": "Conflict"}
        )

    _hook(sandbox, _is_redeem, held_then_refused)
    with pytest.raises(checkout.CodesRefused):
        checkout.redeem(["FIVE"], ORDER)
    row = CheckoutRedemption.objects.get()
    assert row.state == LedgerState.ROLLED_BACK and row.rollback_ids
    assert live_redemptions(sandbox) == []


def test_a_rollback_error_after_another_worker_confirmed_it_flags_nothing(sandbox):
    """Two workers roll one row back: B's is confirmed while A waits; A then gets a 401 (keys
    rotated in between). The row is ROLLED_BACK; old code flagged it for staff and kept A's
    error on it as if the rollback were still failing."""
    make_voucher("FIVE")
    outcome = checkout.redeem(["FIVE"], ORDER)

    def other_worker_first(request: Any, forward: Any) -> requests.Response:
        checkout.rollback(outcome.ledger.pk, "worker B")  # goes through: confirmed
        return adversary.json_answer(
            request, status=401, body={"code": 401, "key": "unauthorized", "message": "Unauthorized"}
        )

    _hook(sandbox, _is_rollback, other_worker_first)
    with pytest.raises(checkout.RollbackFailed):
        checkout.rollback(outcome.ledger.pk, "worker A")
    row = CheckoutRedemption.objects.get()
    assert row.state == LedgerState.ROLLED_BACK
    assert not row.needs_attention and row.rollback_error == ""
