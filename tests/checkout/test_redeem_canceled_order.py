"""Nothing is redeemed for an order whose ``Order`` mirror is CANCELED (hostile review of
checkout): the claim refuses it (``OrderCanceled``, 409 ``order_canceled`` at the REST door),
also when the cancellation is in flight while the redeem claims the order.

Old code redeemed a cancelled order (a shopper's own order, through ``POST redeem/``) and kept
the redemption: the cancellation's rollback had run before, when the order had no ledger row.
A cancellation saved in a transaction that had not committed when the claim ran let the claim
through the same way.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from django_voucherify import checkout
from django_voucherify.models import CheckoutRedemption, LedgerState, Order, OrderStatus
from tests.support.checkout import REDEEM, live_redemptions
from tests.support.concurrency import wait_until_another_session_waits_for_a_lock
from tests.support.vouchers import make_voucher

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("tests.checkout.urls")]


def _cancel(order: Order) -> None:
    order.status = OrderStatus.CANCELED
    order.save()


def test_the_owner_cannot_redeem_a_cancelled_order_over_rest(sandbox, shopper):
    user, order = shopper
    make_voucher("FIVE")
    _cancel(order)
    client = APIClient()
    client.force_authenticate(user)
    before = len(sandbox.calls.calls)
    response = client.post(REDEEM, {"codes": ["FIVE"], "order_source_id": order.source_id}, format="json")
    assert response.status_code == 409, response.content
    assert response.json()["key"] == "order_canceled" and "cancelled" in response.json()["detail"]
    assert not CheckoutRedemption.objects.exists() and len(sandbox.calls.calls) == before


@pytest.mark.parametrize("as_mapping", [False, True], ids=["mirror", "mapping"])
def test_the_python_api_refuses_a_cancelled_order_however_it_is_given(sandbox, shopper, as_mapping):
    _user, order = shopper
    make_voucher("FIVE")
    _cancel(order)
    given: Any = {"source_id": order.source_id, "amount": 8000} if as_mapping else order
    with pytest.raises(checkout.OrderCanceled):
        checkout.redeem(["FIVE"], given)
    assert not CheckoutRedemption.objects.exists() and live_redemptions(sandbox) == []


def test_an_order_without_a_mirror_or_not_cancelled_is_redeemed(sandbox, shopper):
    _user, order = shopper
    make_voucher("FIVE")
    assert checkout.redeem(["FIVE"], {"source_id": "NO-MIRROR", "amount": 1000}).applied
    order.status = OrderStatus.PAID
    order.save()
    assert checkout.redeem(["FIVE"], order).ledger.state == LedgerState.SUCCEEDED


def test_a_claim_during_an_uncommitted_cancellation_waits_for_it_and_is_refused(sandbox, shopper):
    _user, order = shopper
    make_voucher("FIVE")
    outcome: dict[str, Any] = {}

    def redeem() -> None:
        try:
            outcome["result"] = checkout.redeem(["FIVE"], Order.objects.get(pk=order.pk))
        except Exception as exc:  # reported to the test
            outcome["error"] = exc
        finally:
            connection.close()

    with transaction.atomic():
        # The cancellation's receiver runs here and finds no ledger row to roll back.
        _cancel(Order.objects.get(pk=order.pk))  # an UPDATE: a plain row lock
        thread = threading.Thread(target=redeem)
        thread.start()
        waited = wait_until_another_session_waits_for_a_lock(timeout=5)
    thread.join(30)
    assert waited, f"the claim did not wait for the cancellation: {outcome}"
    assert isinstance(outcome.get("error"), checkout.OrderCanceled), outcome
    assert not CheckoutRedemption.objects.exists() and live_redemptions(sandbox) == []


def test_a_cancellation_after_the_claim_still_rolls_the_redemption_back(sandbox, shopper):
    _user, order = shopper
    make_voucher("FIVE")
    checkout.redeem(["FIVE"], order)
    _cancel(order)
    row = CheckoutRedemption.objects.get()
    assert row.state == LedgerState.ROLLED_BACK and live_redemptions(sandbox) == []
