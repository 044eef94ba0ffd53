"""Reconciliation concludes "not redeemed" only from a real list: a 2xx page of the redemption
list without its ``redemptions`` (a proxy's or a gateway's ``{}``, ``null``) is no answer
(hostile review of checkout).

Old code walked such a page as an empty one: past the grace period an UNKNOWN row whose
redemption Voucherify held became FAILED ``not_redeemed``, the redemption left live (until the
late check, an hour later, if that read got through), and the late check itself cleared the
row for good on the same answer.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from django_voucherify import checkout
from django_voucherify.api.errors import InvalidResponseError
from django_voucherify.checkout import schedule
from django_voucherify.checkout.reconcile import late_check
from django_voucherify.models import CheckoutRedemption, LedgerState
from tests.support import adversary
from tests.support.checkout import live_redemptions
from tests.support.vouchers import make_voucher

pytestmark = pytest.mark.django_db(transaction=True)

ORDER = {"source_id": "ORD-LIST-SHAPE", "amount": 10_000}

NOT_A_LIST: list[Any] = [{}, {"object": "list"}, {"object": "list", "redemptions": None}]


def _unknown_row(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> CheckoutRedemption:
    """A redeem Voucherify made whose answer was a 502: UNKNOWN, no task run for it."""
    monkeypatch.setattr(schedule, "send", lambda *args, **kwargs: True)
    make_voucher("MULTI")
    sandbox.faults.add(path="/v1/redemptions", method="POST", times=1, status=502, after=True)
    with pytest.raises(checkout.CheckoutUnavailable):
        checkout.redeem(["MULTI"], ORDER, "cust-1")
    row = CheckoutRedemption.objects.get()
    assert row.state == LedgerState.UNKNOWN and len(live_redemptions(sandbox)) == 1
    return row


@pytest.mark.parametrize("body", NOT_A_LIST, ids=["empty", "no-list", "null"])
def test_a_page_without_its_list_is_no_answer_for_reconciliation(sandbox, monkeypatch, body):
    row = _unknown_row(sandbox, monkeypatch)
    interceptor = adversary.answer_gets(sandbox, "/v1/redemptions", body)
    with pytest.raises(InvalidResponseError):
        checkout.reconcile(row)  # the grace (0 s in the tests) is over
    row.refresh_from_db()
    assert row.state == LedgerState.UNKNOWN and row.reconcile_attempts == 1
    interceptor.body = None  # Voucherify's own answer gets through: found and undone
    assert checkout.reconcile(row).state == LedgerState.ROLLED_BACK
    assert live_redemptions(sandbox) == []


@pytest.mark.parametrize("body", NOT_A_LIST, ids=["empty", "no-list", "null"])
def test_a_page_without_its_list_does_not_end_the_late_check(sandbox, monkeypatch, body):
    row = _unknown_row(sandbox, monkeypatch)
    due = timezone.now() - timedelta(seconds=1)
    # As if reconciliation had concluded "not redeemed" (the request landed after it read).
    CheckoutRedemption.objects.filter(pk=row.pk).update(
        state=LedgerState.FAILED, last_error_key="not_redeemed", late_check_at=due
    )
    interceptor = adversary.answer_gets(sandbox, "/v1/redemptions", body)
    with pytest.raises(InvalidResponseError):
        late_check(row)
    row.refresh_from_db()
    assert row.state == LedgerState.FAILED and row.late_check_at == due  # still due
    interceptor.body = None
    assert late_check(row).state == LedgerState.ROLLED_BACK
    assert live_redemptions(sandbox) == []
