"""Answers whose numbers Python's JSON reader turns into an infinity (``1e999``, ``Infinity``;
the client reads Voucherify's bodies with ``json.loads``): ``int()`` of one raises
``OverflowError``, which the "answer of another shape" handlers of offers, automatic
promotions, validate and the hierarchy read did not catch (review 3 of the offers layer: a
500 from ``POST offers/`` and ``POST validate/``). Such an answer proves nothing, like any
other of the wrong shape: the outage policy applies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from django_voucherify import checkout
from django_voucherify.api.resources.misc import Validations
from django_voucherify.api.resources.qualifications import Qualifications
from tests.support.checkout import checkout_settings
from tests.support.vouchers import make_voucher

pytestmark = pytest.mark.django_db

ORDER = {"source_id": "ORD-A", "amount": 10_000}
#: What the client makes of ``"total_applied_discount_amount": 1e999`` in a body.
HUGE = json.loads("1e999")


def _qualified(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"redeemables": {"data": list(entries), "has_more": False}, "order": {"amount": 10_000}}


def _tier(tier_id: str, discount: Any) -> dict[str, Any]:
    return {
        "object": "promotion_tier",
        "id": tier_id,
        "campaign_id": "camp_1",
        "order": {"total_applied_discount_amount": discount},
    }


def test_offers_with_an_infinite_discount_is_an_outage(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        Qualifications, "check_eligibility", lambda self, body: _qualified(_tier("promo_1", HUGE))
    )
    with pytest.raises(checkout.CheckoutUnavailable):
        checkout.offers(ORDER)
    with checkout_settings(sandbox, CHECKOUT_OUTAGE_POLICY="proceed_without_discount"):
        assert checkout.offers(ORDER).unavailable


@pytest.mark.urls("tests.checkout.urls")
def test_rest_offers_with_an_infinite_discount_is_a_json_503(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        Qualifications, "check_eligibility", lambda self, body: _qualified(_tier("promo_1", HUGE))
    )
    response = APIClient().post("/api/vouchers/offers/", {"order": ORDER}, format="json")
    assert response.status_code == 503 and "detail" in response.json()


def test_automatic_promotions_with_an_infinite_discount_are_an_outage(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_voucher("FIVE", amount_off=500)
    answer = _qualified(_tier("promo_1", HUGE), _tier("promo_2", 100))
    monkeypatch.setattr(Qualifications, "check_eligibility", lambda self, body: answer)
    with pytest.raises(checkout.CheckoutUnavailable):
        checkout.validate(["FIVE"], ORDER, automatic=True)


def test_a_validation_answer_with_an_infinite_amount_is_an_outage(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_voucher("FIVE", amount_off=500)
    real = Validations.validate

    def infinite(self: Any, *args: Any, **kwargs: Any) -> Any:
        answer = dict(real(self, *args, **kwargs))
        answer["order"] = {**(answer.get("order") or {}), "total_amount": HUGE}
        return answer

    monkeypatch.setattr(Validations, "validate", infinite)
    with pytest.raises(checkout.CheckoutUnavailable):
        checkout.validate(["FIVE"], ORDER)
