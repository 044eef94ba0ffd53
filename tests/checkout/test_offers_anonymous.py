"""``POST offers/`` for an anonymous visitor: codes meant for someone (standalone codes nobody
holds yet) are not handed out (review 18)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.support.vouchers import make_voucher

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.checkout.urls")]

OFFERS = "/api/vouchers/offers/"
CART = {
    "amount": 10_000,
    "items": [{"source_id": "sku-1", "related_object": "sku", "quantity": 1, "price": 10_000}],
}


def test_an_anonymous_visitor_is_not_handed_codes_meant_for_someone(sandbox):
    """Review 18 (major, fixed): offers/ is open to anyone and asked with scenario ALL, so an
    anonymous visitor was handed every standalone code nobody holds that fits a cart."""
    make_voucher("INFLUENCER-JANE-50", discount={"type": "PERCENT", "percent_off": 50}, quantity=1)
    answer = APIClient().post(OFFERS, {"order": CART, "limit": 50}, format="json")
    assert answer.status_code == 200, answer.content
    assert "INFLUENCER-JANE-50" not in [o["code"] for o in answer.json()["offers"]]
