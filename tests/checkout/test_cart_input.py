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


@pytest.mark.parametrize(
    ("codes", "tiers"),
    [
        ([], [f"promo_{i}" for i in range(100_000)]),
        ([f"C{i}" for i in range(100_000)], []),
        (["SAME"] * 100_000, []),
    ],
)
def test_a_huge_list_is_refused_after_the_first_thirty_one_not_after_checking_all(
    sandbox, monkeypatch, codes, tiers
):
    """Every element was checked against the code rule before the count was: 200,000 tier ids
    took over 20 s of CPU to be refused (and duplicates of one code were each checked)."""
    from django_voucherify.checkout import cart

    checked: list[str] = []
    real = cart.code_problem
    monkeypatch.setattr(cart, "code_problem", lambda code: checked.append(code) or real(code))
    if len(set(codes)) == 1:
        assert [r.code for r in cart.redeemables(codes, tiers)] == ["SAME"]
    else:
        with pytest.raises(checkout.InvalidCheckoutInput):
            cart.redeemables(codes, tiers)
    assert len(checked) <= cart.MAX_REDEEMABLES + 1
