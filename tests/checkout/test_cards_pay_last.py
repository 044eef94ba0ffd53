"""Gift cards and loyalty cards pay last: every stack checkout sends has the discounts first (codes,
tiers given, automatic tiers, in their order), then the cards that pay, against the in-process
sandbox (Voucherify's default ``redeemables_sorting_rule: REQUESTED_ORDER`` applies a stack in
the order sent).

The demo walk that found it: a 72.47 cart, WELCOME10 (10.00 off), the gift card GIFT100 and the
automatic 10 % promotion. Sent codes first, the gift card paid the whole 62.47 left and the
promotion took 0.00 off; the card must pay 56.22 and the promotion take its 6.25."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from django_voucherify import checkout
from django_voucherify.checkout import cart
from django_voucherify.models import CheckoutRedemption, LedgerState
from tests.support.checkout import REDEEM, VALIDATE, client_for
from tests.support.vouchers import make_tier, make_voucher

pytestmark = pytest.mark.django_db

CART = 7247  # 3 x 19.99 + 12.50
ORDER = {"source_id": "ORD-GIFT", "amount": CART}
TEN_PERCENT = {"discount": {"type": "PERCENT", "percent_off": 10}}


@pytest.fixture
def walk(sandbox: Any) -> str:
    """WELCOME10 and GIFT100 (100.00 of credits) in the sandbox; the 10 % promotion's tier id."""
    make_voucher("WELCOME10", amount_off=1000)
    make_voucher("GIFT100", "gift")
    return str(make_tier("10% off", action=TEN_PERCENT)["id"])


def figures(outcome: checkout.ValidationOutcome) -> list[tuple[str, int]]:
    return [(c.code, c.discount_amount) for c in outcome.codes]


def balance(sandbox: Any, code: str) -> int:
    return int(sandbox.state.vouchers[code]["gift"]["balance"])


def test_a_gift_card_given_with_credits_pays_after_the_promotion(walk: str) -> None:
    """The library already knows this card pays (credits given): it must not go first."""
    outcome = checkout.validate(
        ["WELCOME10", checkout.Redeemable("GIFT100", gift_credits=10_000)], ORDER, tiers=[walk]
    )
    assert outcome.valid
    # Sent and applied: 10.00 off, 10 % of the 62.47 left, then the card pays the 56.22 left.
    assert figures(outcome) == [("WELCOME10", 1000), (walk, 625), ("GIFT100", 5622)]
    assert outcome.totals.total_amount == 0


def test_a_gift_card_marked_without_credits_pays_what_every_discount_leaves(walk: str) -> None:
    outcome = checkout.validate(["WELCOME10", checkout.Redeemable.gift("GIFT100")], ORDER, tiers=[walk])
    assert figures(outcome) == [("WELCOME10", 1000), (walk, 625), ("GIFT100", 5622)]
    assert [c.card for c in outcome.codes] == [None, None, cart.GIFT_CARD]


def test_automatic_tiers_go_before_the_cards_on_redeem_and_the_ledger_rolls_back(
    walk: str, sandbox: Any
) -> None:
    redeemed = checkout.redeem(
        [checkout.Redeemable.gift("GIFT100"), "WELCOME10"], ORDER, "cust-1", automatic=True
    )
    assert (redeemed.totals.discount_amount, redeemed.totals.total_amount) == (CART, 0)
    assert balance(sandbox, "GIFT100") == 10_000 - 5622  # not 10_000 - 6247
    row = redeemed.ledger
    assert (row.codes, row.tiers) == (["WELCOME10", "GIFT100"], [walk])  # the order sent
    row = checkout.rollback(row, "payment failed")
    assert row.state == LedgerState.ROLLED_BACK
    assert balance(sandbox, "GIFT100") == 10_000


def test_validate_with_automatic_sends_the_qualifying_tier_before_the_card(walk: str) -> None:
    outcome = checkout.validate([checkout.Redeemable.gift("GIFT100"), "WELCOME10"], ORDER, automatic=True)
    assert figures(outcome) == [("WELCOME10", 1000), (walk, 625), ("GIFT100", 5622)]


def test_plain_codes_keep_their_given_place(walk: str) -> None:
    """Backward compatible: a gift card given as plain text is sent where it stands (the shop
    did not say it pays), and the answer tells the shop it is one, to mark it next time."""
    first = checkout.validate(["GIFT100", "WELCOME10"], ORDER, tiers=[walk])
    assert figures(first) == [("GIFT100", CART), ("WELCOME10", 0), (walk, 0)]
    assert [c.card for c in first.codes] == [cart.GIFT_CARD, None, None]
    again = checkout.validate([c.redeemable() for c in first.codes], ORDER)
    assert figures(again) == [("WELCOME10", 1000), (walk, 625), ("GIFT100", 5622)]


def test_a_refused_marked_card_is_still_reported_as_a_card(walk: str) -> None:
    make_voucher("EMPTY", "gift", gift={"amount": 0})
    outcome = checkout.validate(["WELCOME10", checkout.Redeemable.gift("EMPTY")], ORDER)
    assert not outcome.valid
    assert [(c.code, c.applicable, c.card) for c in outcome.codes][-1] == ("EMPTY", False, cart.GIFT_CARD)


def test_the_cards_keep_their_given_order_after_the_discounts() -> None:
    items = cart.redeemables(
        [
            checkout.Redeemable.loyalty("LOYAL-1", 100),
            "A",
            checkout.Redeemable.gift("G"),
            checkout.Redeemable.tier("promo_1"),
            "B",
        ],
        tiers=["promo_2"],
    )
    assert [i.code for i in items] == ["A", "promo_1", "B", "promo_2", "LOYAL-1", "G"]
    # What Voucherify gets is unchanged: a card's amount only when one is given.
    assert [i.to_voucherify() for i in items[-2:]] == [
        {"object": "voucher", "id": "LOYAL-1", "reward": {"points": 100}},
        {"object": "voucher", "id": "G"},
    ]


@pytest.mark.parametrize(
    "item",
    [
        checkout.Redeemable("X", card="cash"),
        checkout.Redeemable("promo_x", kind=cart.PROMOTION_TIER, card=cart.GIFT_CARD),
    ],
)
def test_a_card_that_cannot_pay_is_refused_before_anything_is_sent(sandbox: Any, item: Any) -> None:
    with pytest.raises(checkout.InvalidCheckoutInput):
        checkout.validate([item], ORDER)
    assert not sandbox.calls.calls and not CheckoutRedemption.objects.exists()


# ---- the DRF endpoints ------------------------------------------------------------------------


@pytest.mark.urls("tests.checkout.urls")
def test_rest_validate_takes_gift_cards_and_says_which_code_pays(walk: str) -> None:
    body = {"codes": ["WELCOME10"], "gift_cards": ["GIFT100"], "tiers": [walk], "order": {"amount": CART}}
    response = APIClient().post(VALIDATE, body, format="json")
    assert response.status_code == 200, response.content
    codes = response.json()["codes"]
    assert [(c["code"], c["discount_amount"], c["card"]) for c in codes] == [
        ("WELCOME10", 1000, None),
        (walk, 625, None),
        ("GIFT100", 5622, "gift_card"),
    ]


@pytest.mark.urls("tests.checkout.urls")
def test_rest_redeem_takes_gift_cards_last(walk: str, shopper: Any, sandbox: Any) -> None:
    user, order = shopper  # 80.00: 10.00 off, 10 % of 70.00, the card pays the 63.00 left
    body = {
        "codes": ["WELCOME10"],
        "gift_cards": ["GIFT100"],
        "tiers": [walk],
        "order_source_id": order.source_id,
    }
    response = client_for(user).post(REDEEM, body, format="json")
    assert response.status_code == 201, response.content
    assert (response.json()["total_amount"], balance(sandbox, "GIFT100")) == (0, 10_000 - 6300)
    assert response.json()["redemption"]["codes"] == ["WELCOME10", "GIFT100"]


@pytest.mark.urls("tests.checkout.urls")
@pytest.mark.parametrize(
    "body",
    [
        {"codes": ["GIFT100"], "gift_cards": ["GIFT100"]},
        {"gift_cards": ["G", "G"]},
        {"gift_cards": "GIFT100"},
        {"loyalty_cards": [7]},
        {"gift_cards": [], "loyalty_cards": []},
    ],
)
def test_rest_refuses_bad_cards_with_a_json_400(sandbox: Any, body: dict[str, Any]) -> None:
    response = APIClient().post(VALIDATE, {**body, "order": {"amount": 100}}, format="json")
    assert response.status_code == 400, response.content
    assert set(response.json()) & {"codes", "gift_cards", "loyalty_cards"}, response.json()
    assert not sandbox.calls.calls
