"""A redeem answer holding text the database cannot store (a NUL echoed from the shop's metadata
or from the voucher's own) is recorded with that character replaced, by the redeem and by
reconciliation alike (hostile review of checkout).

Old code: the redemption was made, then recording its answer failed (``DataError``: PostgreSQL
refuses ``\\u0000`` in JSON), so the row stayed PENDING, the order blocked; reconciliation read
the same redemption back and failed the same way on every attempt (not a Voucherify error, so
never counted nor flagged): a live redemption on a row nothing could settle.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from requests.adapters import BaseAdapter

from django_voucherify import checkout
from django_voucherify.checkout.cart import checkout_client
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


class _AnswerWithInfinity(BaseAdapter):
    """The redeem's 2xx answer holds ``1e999`` in its metadata: valid JSON, which ``json.loads``
    reads as infinity (a voucher's metadata number too big for a double)."""

    def __init__(self, inner: Any) -> None:
        super().__init__()
        self.inner = inner

    def send(self, request: Any, **kwargs: Any) -> Any:
        response = self.inner.send(request, **kwargs)
        if request.method == "POST" and str(request.url).endswith("/v1/redemptions"):
            response._content = response.content.replace(b'"metadata":{', b'"metadata":{"big":1e999,', 1)
            response.headers.pop("Content-Length", None)
        return response

    def close(self) -> None:
        self.inner.close()


def test_a_number_json_reads_as_infinity_is_recorded_as_null(sandbox):
    """Old code: ``DataError`` (PostgreSQL refuses ``Infinity`` in JSON) after Voucherify
    redeemed: the row stayed PENDING (the order blocked until reconciled), a 500 for the shop."""
    make_voucher("FIVE")
    session = checkout_client().transport.session
    inner = sandbox.mount(session)
    for prefix, adapter in list(session.adapters.items()):
        if adapter is inner:
            session.mount(prefix, _AnswerWithInfinity(inner))
    outcome = checkout.redeem(["FIVE"], ORDER)
    row = CheckoutRedemption.objects.get()
    assert outcome.applied and row.state == LedgerState.SUCCEEDED and row.redemption_ids
    assert '"big": null' in json.dumps(row.response, allow_nan=False)
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
