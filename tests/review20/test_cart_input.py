"""Review 20: the one-string guard of ``cart.redeemables`` (review 19) let other iterables of
the wrong kind through: bytes became their byte values as codes ("83", "65"...), a mapping its
keys, and a tier that is not text its ``repr`` (a ledger row written for it)."""

from __future__ import annotations

import pytest

from django_voucherify import checkout
from django_voucherify.models import CheckoutRedemption

pytestmark = pytest.mark.django_db

ORDER = {"source_id": "ORD-R20-IN", "amount": 10_000}


@pytest.mark.parametrize(
    ("codes", "tiers"),
    [
        (b"SAVE5", ()),
        (bytearray(b"SAVE5"), ()),
        ({"SAVE5": 1}, ()),
        ([], b"promo_abc"),
        ([], {"promo_abc": 1}),
        ([], [checkout.Redeemable.tier("promo_abc")]),
        ([], [7]),
    ],
)
def test_codes_and_tiers_of_the_wrong_kind_are_refused_before_any_call(sandbox, codes, tiers):
    with pytest.raises(checkout.InvalidCheckoutInput):
        checkout.validate(codes, ORDER, tiers=tiers)
    with pytest.raises(checkout.InvalidCheckoutInput):
        checkout.redeem(codes, ORDER, tiers=tiers)
    with pytest.raises(checkout.InvalidCheckoutInput):
        checkout.redeem(codes, ORDER, tiers=tiers, automatic=True)
    assert not sandbox.calls.calls and not CheckoutRedemption.objects.exists()
