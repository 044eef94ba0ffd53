"""A 2xx rollback answer that does not prove the rollback (a proxy's or a gateway's JSON, an
object naming no rollback, a rollback reported FAILURE) leaves the rollback asked for, to be
retried, never ROLLED_BACK (hostile review of checkout).

Old code recorded any JSON object as ROLLED_BACK (``rollback_ids`` empty): the redemption stayed
live in Voucherify and nothing would ever send its rollback again.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from django_voucherify import checkout
from django_voucherify.models import CheckoutRedemption, LedgerState
from tests.support import adversary
from tests.support.checkout import live_redemptions
from tests.support.vouchers import make_voucher

pytestmark = pytest.mark.django_db(transaction=True)

ORDER = {"source_id": "ORD-ROLLBACK-SHAPE", "amount": 10_000}

BAD_ANSWERS: list[Any] = [
    {},
    {"status": "ok"},
    {"object": "redemption_rollback"},
    {"id": ""},
    {"id": 7},
    {"id": "rr_1", "result": "FAILURE"},
    {"rollbacks": []},
    {"parent_rollback": {}},
    {"parent_rollback": "rr_1"},
    {"parent_rollback": {"id": "rr_1", "result": "FAILURE"}},
    {"parent_rollback": {"id": "rr_1"}, "rollbacks": [{"id": "rr_2", "result": "FAILURE"}]},
    {"parent_rollback": {"id": "rr_1"}, "rollbacks": "rr_2"},
    {"id": "rr\u0000"},  # an id the ledger cannot store: recording it was a database error
    {"parent_rollback": {"id": "rr\u0000"}},
    # A child rollback that is no rollback (review 2): recording it raised AttributeError (null,
    # a bare id) or a database error (a NUL), after Voucherify rolled back.
    {"parent_rollback": {"id": "rr_1"}, "rollbacks": [None]},
    {"parent_rollback": {"id": "rr_1"}, "rollbacks": ["rr_2"]},
    {"parent_rollback": {"id": "rr_1"}, "rollbacks": [{"id": "rr\u0000"}]},
    {"parent_rollback": {"id": "rr_1"}, "rollbacks": [{"result": "SUCCESS"}]},
]


class ReplaceRollbackAnswer(adversary.Interceptor):
    """While ``body`` is set, the caller gets it instead of Voucherify's rollback answer;
    ``handled``: Voucherify rolled back first (only the answer is replaced)."""

    body: Any = None
    handled = False

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        path = str(request.url).split("?")[0]
        if self.body is None or request.method != "POST" or "/rollback" not in path:
            return self.inner.send(request, **kwargs)
        if self.handled:
            self.inner.send(request, **kwargs)
        return adversary.json_answer(request, self.body)


def _replace_answers(sandbox: Any, body: Any, *, handled: bool) -> ReplaceRollbackAnswer:
    interceptor = adversary.intercept(sandbox)
    interceptor.__class__ = ReplaceRollbackAnswer
    assert isinstance(interceptor, ReplaceRollbackAnswer)
    interceptor.body, interceptor.handled = body, handled
    return interceptor


@pytest.mark.parametrize("handled", [False, True], ids=["not-handled", "handled"])
@pytest.mark.parametrize("codes", [["FIVE"], ["FIVE", "TEN"]], ids=["single", "stacked"])
@pytest.mark.parametrize("body", BAD_ANSWERS, ids=[json.dumps(b)[:48] for b in BAD_ANSWERS])
def test_a_rollback_answer_that_proves_nothing_keeps_the_rollback_asked_for(sandbox, body, codes, handled):
    make_voucher("FIVE")
    make_voucher("TEN")
    outcome = checkout.redeem(codes, ORDER)
    interceptor = _replace_answers(sandbox, body, handled=handled)
    with pytest.raises(checkout.RollbackFailed) as failed:
        checkout.rollback(outcome.ledger, "payment failed")
    assert failed.value.refused is False  # an outage, not a refusal: retried with backoff
    row = CheckoutRedemption.objects.get()
    assert row.state == LedgerState.SUCCEEDED and row.rollback_pending
    assert "rollback answered 2xx but" in row.rollback_error and not row.rollback_ids
    assert len(live_redemptions(sandbox)) == (0 if handled else len(codes))
    # The retry, once Voucherify's own answer gets through, ends it whichever way it went.
    interceptor.body = None
    done = checkout.rollback(row)
    assert done.state == LedgerState.ROLLED_BACK and not done.rollback_pending
    assert live_redemptions(sandbox) == []
