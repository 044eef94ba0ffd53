"""A redeem whose request cannot be encoded as JSON (a ``datetime`` or ``Decimal`` in the
metadata, the order's items or the customer mapping; a NaN) is refused before its ledger row is
written (hostile review of checkout). Old code claimed the order first and then failed to encode
the body: a raw ``TypeError``/``ValueError`` and a PENDING row that nothing would send, so the
order answered "already applied" until the grace period ran out and reconciliation read it back.
"""

from __future__ import annotations

import datetime
import decimal
from typing import Any

import pytest

from django_voucherify import checkout
from django_voucherify.models import CheckoutRedemption, LedgerState
from tests.support.vouchers import make_voucher

pytestmark = pytest.mark.django_db(transaction=True)

ORDER = {"source_id": "ORD-UNENCODABLE", "amount": 10_000}

UNENCODABLE: list[dict[str, Any]] = [
    {"metadata": {"placed_at": datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)}},
    {"metadata": {"score": float("nan")}},
    {"metadata": {"ratio": float("inf")}},
    {"order": {**ORDER, "items": [{"source_id": "SKU-1", "quantity": 1, "price": decimal.Decimal("10")}]}},
    {"customer": {"source_id": "cust-1", "metadata": {"born": datetime.date(2000, 1, 1)}}},
]


IDS = ["datetime", "nan", "inf", "decimal-item", "date-customer"]


@pytest.mark.parametrize("given", UNENCODABLE, ids=IDS)
def test_an_unencodable_redeem_writes_nothing_and_leaves_the_order_free(sandbox, given):
    make_voucher("FIVE")
    options = dict(given)
    order = options.pop("order", ORDER)
    before = len(sandbox.calls.calls)
    with pytest.raises(checkout.InvalidCheckoutInput, match="cannot be sent as JSON"):
        checkout.redeem(["FIVE"], order, **options)
    assert not CheckoutRedemption.objects.exists()
    assert len(sandbox.calls.calls) == before  # nothing sent
    # The order is free: the same redeem with plain values goes through at once.
    outcome = checkout.redeem(["FIVE"], ORDER, "cust-1")
    assert outcome.applied and outcome.ledger.state == LedgerState.SUCCEEDED


def test_the_reference_sent_is_the_rows(sandbox):
    make_voucher("FIVE")
    outcome = checkout.redeem(["FIVE"], ORDER, metadata={"channel": "web"})
    sent = [r for r in sandbox.state.redemptions.values() if r.get("result") == "SUCCESS"]
    assert [r["metadata"] for r in sent] == [{"channel": "web", **outcome.ledger.metadata_marker()}]
