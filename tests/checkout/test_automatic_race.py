"""One order redeemed with ``automatic=True`` by 8 callers at once (PostgreSQL, 8 threads with
their own connections, the sandbox over HTTP) while an automatic tier refuses the stack (a
first-order tier the customer has used: qualifications ignore that rule), so every attempt
that gets a row goes FAILED and is redeemed again on a new row. At most one redemption of the
order, whatever the interleaving; the ledger matches Voucherify (review 20)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from django_voucherify import checkout
from django_voucherify.models import CheckoutRedemption, LedgerState
from tests.support.checkout import over_http, redemptions_of
from tests.support.concurrency import closing_connections

pytestmark = pytest.mark.django_db(transaction=True)

ORDER = {"source_id": "ORD-RACE", "amount": 10_000}


@pytest.fixture
def http_sandbox(voucherify_sandbox_server, eager_celery):
    with over_http(voucherify_sandbox_server, POOL_SIZE=20, CHECKOUT_TIMEOUT=10.0) as sandbox:
        from tests.support.vouchers import make_tier, make_voucher, once_per_customer_rule

        make_tier("First order 3 off", amount_off=300, validation_rules=once_per_customer_rule())
        make_voucher("FIVE", amount_off=500)
        checkout.redeem([], {"source_id": "ORD-FIRST", "amount": 10_000}, "ann", automatic=True)
        yield sandbox


@pytest.mark.parametrize("stagger", [0.0, 0.01, 0.03])
def test_eight_automatic_redeems_of_one_order_redeem_it_once(http_sandbox, stagger):
    assert connection.vendor == "postgresql"
    start = threading.Barrier(8)

    def place(n):
        start.wait()
        time.sleep(n * stagger)  # spread the callers over the refused attempt and the new row
        try:
            outcome = checkout.redeem(["FIVE"], ORDER, "ann", automatic=True)
            return ("ok", outcome.ledger.pk)
        except checkout.AlreadyRedeemed:
            return ("already", None)
        except checkout.CodesRefused as refused:
            return ("refused", refused.key)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda n: closing_connections(place, n), range(8)))
    kinds = Counter(kind for kind, _ in results)
    assert kinds["ok"] == 1, results
    rows = CheckoutRedemption.objects.filter(order_source_id=ORDER["source_id"])
    states = Counter(rows.values_list("state", flat=True))
    assert states[LedgerState.SUCCEEDED] == 1 and set(states) <= {LedgerState.SUCCEEDED, LedgerState.FAILED}
    won = rows.get(state=LedgerState.SUCCEEDED)
    assert (won.codes, won.tiers) == (["FIVE"], [])
    # Voucherify holds exactly the one redemption of the order the ledger knows of.
    held = [r for r in redemptions_of(http_sandbox) if (r.get("order") or {}).get("source_id") == "ORD-RACE"]
    assert sorted(r["id"] for r in held) == sorted(won.redemption_ids)
    assert http_sandbox.state.vouchers["FIVE"]["redemption"]["redeemed_quantity"] == 1
    # The race was run: refused attempts went FAILED before the winning row was written.
    assert states[LedgerState.FAILED] >= 1
