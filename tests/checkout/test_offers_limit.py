"""``POST offers/``: ``limit`` is a JSON integer, never coerced from text or a float (review 19)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.checkout.urls")]

OFFERS = "/api/vouchers/offers/"


@pytest.mark.parametrize("limit", ["5", 5.0, "\uff15", " 5 "])
def test_offers_limit_is_a_json_integer_not_coerced(sandbox, limit):
    """Every other number of the checkout API refuses "5" and 5.0 (StrictIntegerField); offers'
    limit coerced them, a full-width five (U+FF15) too."""
    answer = APIClient().post(OFFERS, {"order": {"amount": 100}, "limit": limit}, format="json")
    assert answer.status_code == 400 and "limit" in answer.json(), answer.content
    assert sandbox.calls.count("POST", "/v1/qualifications") == 0
