"""Review 19: checkout with promotion tiers (issue 17), reproductions against the sandbox."""

from __future__ import annotations

import pytest

from django_voucherify import checkout
from django_voucherify.models import CheckoutRedemption

pytestmark = pytest.mark.django_db

ORDER = {"source_id": "ORD-R19", "amount": 10_000}


@pytest.mark.parametrize(("codes", "tiers"), [("SAVE5", ()), ([], "promo_abc"), ("SAVE5", "promo_abc")])
def test_one_string_for_the_codes_or_the_tiers_is_refused_not_split_into_characters(sandbox, codes, tiers):
    """A ``str`` is a ``Sequence[str]``: ``tiers="promo_abc"`` was sent as eight tiers "p", "r",
    "o"... (and ``redeem`` wrote a ledger row for them) instead of a clear error."""
    with pytest.raises(checkout.InvalidCheckoutInput):
        checkout.validate(codes, ORDER, tiers=tiers)
    with pytest.raises(checkout.InvalidCheckoutInput):
        checkout.redeem(codes, ORDER, tiers=tiers)
    with pytest.raises(checkout.InvalidCheckoutInput):
        checkout.redeem(codes, ORDER, tiers=tiers, automatic=True)
    assert not sandbox.calls.calls and not CheckoutRedemption.objects.exists()
