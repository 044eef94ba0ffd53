"""A redeem answer holding text the database cannot store (a NUL echoed from the shop's metadata
or from the voucher's own) is recorded with that character replaced, by the redeem and by
reconciliation alike (hostile review of checkout).

Old code: the redemption was made, then recording its answer failed (``DataError``: PostgreSQL
refuses ``\\u0000`` in JSON), so the row stayed PENDING, the order blocked; reconciliation read
the same redemption back and failed the same way on every attempt (not a Voucherify error, so
never counted nor flagged): a live redemption on a row nothing could settle.
"""

from __future__ import annotations

from typing import Any

import pytest

from django_voucherify import checkout
from django_voucherify.models import CheckoutRedemption, LedgerState
from tests.support import adversary
from tests.support.adversary import CRASH_AFTER, WorkerCrash
from tests.support.checkout import live_redemptions
from tests.support.vouchers import make_voucher

pytestmark = pytest.mark.django_db(transaction=True)

ORDER = {"source_id": "ORD-UNSTORABLE-ANSWER", "amount": 10_000}


@pytest.mark.parametrize(
    ("metadata", "voucher_metadata"),
    [({"note": "a\x00b"}, None), ({"a\x00": 1}, None), (None, {"label": "x\x00y"})],
    ids=["shop-value", "shop-key", "voucher"],
)
def test_a_nul_echoed_in_the_answer_is_recorded_replaced(sandbox, metadata, voucher_metadata):
    make_voucher("FIVE", **({"metadata": voucher_metadata} if voucher_metadata else {}))
    outcome = checkout.redeem(["FIVE"], ORDER, metadata=metadata)
    row = CheckoutRedemption.objects.get()
    assert outcome.applied and row.state == LedgerState.SUCCEEDED and row.redemption_ids
    assert "\x00" not in str(row.response) and "\ufffd" in str(row.response)
    assert checkout.rollback(row, "payment failed").state == LedgerState.ROLLED_BACK


def test_reconciliation_records_such_an_answer_too(sandbox):
    make_voucher("FIVE")
    plan: Any = adversary.intercept(sandbox)
    plan.arm(CRASH_AFTER)  # Voucherify redeemed; the worker died before recording the answer
    with pytest.raises(WorkerCrash):
        checkout.redeem(["FIVE"], ORDER, metadata={"note": "a\x00b"})
    row = checkout.reconcile(CheckoutRedemption.objects.get())  # the caller is gone (no grace)
    assert row.state == LedgerState.ROLLED_BACK and row.redemption_ids
    assert live_redemptions(sandbox) == []
