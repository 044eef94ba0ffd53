"""The codes and tiers given to ``checkout.validate``/``redeem`` (``cart.redeemables``) are
refused before any call unless they are a list of text: one string (review 19: split into its
characters), bytes (their byte values as codes), a mapping (its keys), a tier that is not text
(its ``repr``, with a ledger row written for it), and a list too long, refused after the first
thirty-one elements rather than after checking every one."""

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
