"""PostgreSQL, threads with their own connections, the sandbox served over HTTP: 50 checkouts
race for a voucher with quantity 10; a double click races for one order."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.db import connection

import django_voucherify
from django_voucherify import checkout
from django_voucherify.models import CheckoutRedemption, LedgerState
from tests.support.checkout import over_http
from tests.support.concurrency import closing_connections

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def http_sandbox(voucherify_sandbox_server, eager_celery):
    with over_http(voucherify_sandbox_server, POOL_SIZE=50, CHECKOUT_TIMEOUT=10.0) as sandbox:
        django_voucherify.client.vouchers.create(
            "TEN",
            {
                "type": "DISCOUNT_VOUCHER",
                "discount": {"type": "AMOUNT", "amount_off": 500},
                "redemption": {"quantity": 10},
            },
        )
        yield sandbox


def test_fifty_concurrent_checkouts_on_quantity_ten(http_sandbox):
    assert connection.vendor == "postgresql"
    start = threading.Barrier(50)

    def place(n):
        start.wait()
        try:
            outcome = checkout.redeem(["TEN"], {"source_id": f"ORD-{n}", "amount": 2000}, f"cust-{n}")
            return ("ok", outcome.ledger.pk)
        except checkout.CodesRefused as refused:
            return ("refused", refused.key, refused.message)

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(lambda n: closing_connections(place, n), range(50)))
    kinds = Counter(r[0] for r in results)
    assert kinds == {"ok": 10, "refused": 40}
    assert {r[1:] for r in results if r[0] == "refused"} == {
        ("quantity_exceeded", "This code has been used up.")
    }
    states = Counter(CheckoutRedemption.objects.values_list("state", flat=True))
    assert states == {LedgerState.SUCCEEDED: 10, LedgerState.FAILED: 40}
    # The ledger matches Voucherify's list of redemptions, read through the API.
    listed = list(django_voucherify.client.redemptions.iterate(result="SUCCESS"))
    ledger_ids = sorted(
        i
        for row in CheckoutRedemption.objects.filter(state=LedgerState.SUCCEEDED)
        for i in row.redemption_ids
    )
    assert sorted(r["id"] for r in listed) == ledger_ids
    assert http_sandbox.state.vouchers["TEN"]["redemption"]["redeemed_quantity"] == 10


def test_double_click_sends_one_redeem(http_sandbox):
    sent = []
    http_sandbox.response_listeners.append(
        lambda ex: sent.append(ex.request.path) if ex.request.method == "POST" else None
    )
    start = threading.Barrier(8)

    def click(_):
        start.wait()
        try:
            return checkout.redeem(["TEN"], {"source_id": "ORD-SAME", "amount": 2000}).ledger.state
        except checkout.AlreadyRedeemed:
            return "already"

    with ThreadPoolExecutor(8) as pool:
        results = Counter(pool.map(lambda n: closing_connections(click, n), range(8)))
    assert results == {LedgerState.SUCCEEDED: 1, "already": 7}
    assert sent.count("/v1/redemptions") == 1
    assert CheckoutRedemption.objects.count() == 1
    assert http_sandbox.state.vouchers["TEN"]["redemption"]["redeemed_quantity"] == 1
    assert settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
