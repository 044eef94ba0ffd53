"""A 2xx validate answer of the wrong shape (a proxy's or gateway's JSON, a field of the wrong
type) is an outage under the outage policy, never a 500 or a refusal (found by the review of
issue 10).

Old code let ``AttributeError``/``ValueError`` out of ``checkout.validate`` (a 500 from the REST
endpoint) for each of these answers.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from django_voucherify import checkout
from django_voucherify.api.resources.misc import Validations
from tests.support.checkout import VALIDATE, checkout_settings

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.checkout.urls")]

ORDER = {"source_id": "ORD-V", "amount": 4000}

BAD_ANSWERS: list[Any] = [
    {"redeemables": "x"},
    {"redeemables": [1]},
    {"redeemables": [{"id": "FIVE", "status": "APPLICABLE", "order": "o"}]},
    {
        "redeemables": [
            {"id": "FIVE", "status": "APPLICABLE", "order": {"total_applied_discount_amount": "x"}}
        ]
    },
    {"inapplicable_redeemables": [{"id": "FIVE", "status": "INAPPLICABLE", "result": "no"}]},
    {"valid": True, "order": {"amount": "lots"}},
    {"valid": True, "session": "s"},
]


@pytest.fixture
def bad_answer(monkeypatch):
    def answer(body: Any) -> None:
        monkeypatch.setattr(Validations, "validate", lambda self, request: body)

    return answer


@pytest.mark.parametrize("body", BAD_ANSWERS, ids=[json.dumps(b)[:50] for b in BAD_ANSWERS])
def test_a_wrong_shaped_validate_answer_is_an_outage(sandbox, bad_answer, body):
    bad_answer(body)
    with pytest.raises(checkout.CheckoutUnavailable):
        checkout.validate(["FIVE"], ORDER)
    with checkout_settings(sandbox, CHECKOUT_OUTAGE_POLICY="proceed_without_discount"):
        outcome = checkout.validate(["FIVE"], ORDER)
    assert outcome.unavailable and not outcome.valid
    assert outcome.totals.total_amount == 4000


@pytest.mark.parametrize("body", BAD_ANSWERS[:3], ids=[json.dumps(b)[:50] for b in BAD_ANSWERS[:3]])
def test_the_rest_endpoint_answers_json_not_a_500(sandbox, bad_answer, body):
    cache.clear()
    bad_answer(body)
    response = APIClient().post(VALIDATE, {"codes": ["FIVE"], "order": ORDER}, format="json")
    assert response.status_code == 503, response.content
    assert response["Content-Type"].startswith("application/json")
