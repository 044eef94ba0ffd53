"""``checkout.redeem(..., automatic=True)`` when a qualifications answer (a 2xx of the wrong
shape) names a tier id no tier can have: a NUL (PostgreSQL's jsonb refuses ``\\u0000``), an empty
id, one of 10,000 characters. It is an outage of the look-up with nothing written or sent.
Review 20 found such ids went into the redeem body and the ledger row (``tiers``, a JSON
column) without the rule every other tier id meets: a DataError (a 500 at ``redeem/``)."""

from __future__ import annotations

from typing import Any

import pytest

from django_voucherify import checkout
from django_voucherify.api.resources.qualifications import Qualifications
from django_voucherify.models import CheckoutRedemption
from tests.support.vouchers import make_voucher

pytestmark = pytest.mark.django_db

ORDER = {"source_id": "ORD-R20-Q", "amount": 10_000}


@pytest.mark.parametrize("bad_id", ["promo_\x00x", "", "promo_" + "x" * 10_000])
def test_a_qualified_tier_id_no_tier_can_have_is_an_outage_of_the_lookup(
    sandbox: Any, monkeypatch, bad_id
) -> None:
    make_voucher("FIVE", amount_off=500)
    answer = {"redeemables": {"data": [{"object": "promotion_tier", "id": bad_id, "order": {}}]}}
    monkeypatch.setattr(Qualifications, "check_eligibility", lambda self, request: answer)
    with pytest.raises(checkout.CheckoutUnavailable) as caught:
        checkout.redeem(["FIVE"], ORDER, "ann", automatic=True)
    assert not caught.value.outcome_unknown
    assert not CheckoutRedemption.objects.exists()
    assert sandbox.calls.count("POST", "/v1/redemptions") == 0
