"""A 2xx redeem answer that is JSON but not Voucherify's answer (a proxy's or gateway's object, a
truncated body) is an unknown outcome, never a success (found by the review of issue 10).

Old code recorded ``{}`` as SUCCEEDED with no redemption ids (the redemption Voucherify made
stayed live and the row could not be rolled back: IndexError), and crashed with a 500 leaving
the row PENDING on a wrong-typed field.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from django_voucherify import checkout
from django_voucherify.checkout import ledger
from django_voucherify.models import CheckoutRedemption, LedgerState
from django_voucherify.tasks.checkout import checkout_sweep
from tests.support import adversary
from tests.support.checkout import live_redemptions
from tests.support.vouchers import make_voucher

pytestmark = pytest.mark.django_db(transaction=True)

ORDER = {"source_id": "ORD-SHAPE", "amount": 10_000}

BAD_ANSWERS: list[Any] = [
    {},
    {"object": "ok", "status": "accepted"},
    {"redemptions": []},
    {"redemptions": "r1"},
    {"redemptions": [1]},
    {"redemptions": [{"object": "redemption"}]},
    {"redemptions": [{"id": ""}]},
    {"redemptions": [{"id": 7}]},
    {"redemptions": [{"id": "r1"}], "order": "ord"},
    {"redemptions": [{"id": "r1"}], "order": {"amount": "lots"}},
    {"redemptions": [{"id": "r1"}], "order": {"total_amount": 1.5}},
    {"redemptions": [{"id": "r1"}], "parent_redemption": "p1"},
    {"redemptions": [{"id": "r1"}, {"id": "r2"}]},  # several without the parent to roll back
    # Ids the ledger cannot store (hostile review of checkout: recording them failed with a
    # database error after the redemption was made, the row left PENDING).
    {"redemptions": [{"id": "r\u0000"}]},
    {"redemptions": [{"id": "r1"}], "parent_redemption": {"id": "p" * 65}},
]


class ReplaceRedeemAnswer(adversary.Interceptor):
    """Voucherify handles the redeem; the caller gets ``body`` instead of its answer."""

    body: Any = None

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        response = self.inner.send(request, **kwargs)
        if request.method == "POST" and str(request.url).split("?")[0].endswith("/v1/redemptions"):
            return adversary.json_answer(request, self.body)
        return response


def _replace_answers(sandbox: Any, body: Any) -> None:
    interceptor = adversary.intercept(sandbox)
    interceptor.__class__ = ReplaceRedeemAnswer
    interceptor.body = body  # type: ignore[attr-defined]


@pytest.mark.parametrize("body", BAD_ANSWERS, ids=[json.dumps(b)[:40] for b in BAD_ANSWERS])
def test_a_2xx_redeem_answer_of_the_wrong_shape_is_an_unknown_outcome(sandbox, body):
    make_voucher("FIVE")
    _replace_answers(sandbox, body)
    with pytest.raises(checkout.CheckoutUnavailable) as unavailable:
        checkout.redeem(["FIVE"], ORDER)
    assert unavailable.value.outcome_unknown is True
    row = CheckoutRedemption.objects.get()
    assert row.state != LedgerState.SUCCEEDED
    checkout_sweep()  # reconciliation finds the redemption Voucherify made and rolls it back
    row.refresh_from_db()
    assert row.state == LedgerState.ROLLED_BACK and row.redemption_ids
    assert live_redemptions(sandbox) == []


def test_voucherifys_own_answers_pass_the_shape_check(sandbox):
    make_voucher("FIVE")
    make_voucher("TEN")
    one = checkout.redeem(["FIVE"], {"source_id": "ORD-1", "amount": 10_000})
    two = checkout.redeem(["FIVE", "TEN"], {"source_id": "ORD-2", "amount": 10_000})
    for outcome in (one, two):
        assert ledger.redeem_answer_problem(outcome.ledger.response) is None
        assert outcome.ledger.state == LedgerState.SUCCEEDED
