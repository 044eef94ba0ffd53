"""End to end over real HTTP: the sandbox announces every change to a live Django server, with
duplicates, reordering (random delays) and failed attempts injected; the mirrors and the
ledger converge to the sandbox's state."""

from __future__ import annotations

from typing import Any

import pytest

from django_voucherify import checkout
from django_voucherify import client as shared_client
from django_voucherify.models import CheckoutRedemption, Customer, LedgerState, Voucher, WebhookEvent
from django_voucherify.vouchers import refresh_all
from tests.support.vouchers import make_voucher
from tests.support.webhooks import SECRETS, URL

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def no_http() -> None:
    """Here the client talks to the in-process sandbox (no socket); allowed."""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mirrors_and_ledger_converge_despite_duplicates_reordering_and_failures(
    seed: int, live_server: Any, voucherify_sandbox: Any, voucherify_sandbox_webhooks: Any, settings: Any
) -> None:
    sender = voucherify_sandbox_webhooks(
        voucherify_sandbox, [live_server.url + URL], SECRETS[0], duplicate=0.5, delay=0.3, fail=0.3, seed=seed
    )
    make_voucher("SUMMER")
    make_voucher("WINTER")
    make_voucher("GIFT", "gift")
    refresh_all()
    shared_client.customers.create({"source_id": "cust-1", "name": "Ann", "email": "ann@example.com"})
    # Changes made "in Voucherify" (its dashboard, another system): the shop must learn them.
    shared_client.vouchers.disable("SUMMER")
    shared_client.vouchers.update("WINTER", {"metadata": {"season": "cold"}})
    shared_client.vouchers.enable("SUMMER")
    shared_client.vouchers.disable("SUMMER")
    shared_client.vouchers.update_balance("GIFT", 2500)
    shared_client.customers.update("cust-1", {"name": "Ann Updated"})
    shared_client.vouchers.delete("WINTER", force=True)
    row = checkout.redeem(["GIFT"], {"source_id": "ORD-1", "amount": 1000}).ledger
    assert row.state == LedgerState.SUCCEEDED
    # Support rolls the redemption back in Voucherify's dashboard.
    shared_client.redemptions.rollback(row.redemption_ids[0], reason="support")
    # A gift-card redemption that stays, and credits removed: the balance moves down too.
    assert checkout.redeem(["GIFT"], {"source_id": "ORD-2", "amount": 700}).applied
    shared_client.vouchers.update_balance("GIFT", -300)
    assert sender.flush(timeout=60), "deliveries still pending"
    assert sender.given_up == 0 and sender.delivered >= 9
    state = voucherify_sandbox.state
    summer = Voucher.objects.get(code="SUMMER")
    assert summer.active is state.vouchers["SUMMER"]["active"] is False
    assert not Voucher.objects.filter(code="WINTER").exists()
    assert Voucher.objects.get(code="GIFT").gift_balance == state.vouchers["GIFT"]["gift"]["balance"]
    assert Customer.objects.get(source_id="cust-1").name == "Ann Updated"
    row.refresh_from_db()
    assert row.state == LedgerState.ROLLED_BACK
    assert not WebhookEvent.objects.filter(state="pending").exists()
    assert not WebhookEvent.objects.filter(state="parked").exists()
    assert CheckoutRedemption.objects.count() == 2
