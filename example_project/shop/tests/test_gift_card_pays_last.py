"""A gift card pays what every discount leaves, against the sandbox (the demo walk that found it):
a 72.47 cart, WELCOME10 (10.00 off), the gift card GIFT100 and the automatic 10 % promotion.
The shop sent the codes first and Voucherify applies a stack in the order sent, so the gift card
paid the whole 62.47 left and the promotion, shown "applied", took 0.00 off. The card must pay
56.22 and the promotion take its 6.25."""

from __future__ import annotations

import re

import pytest

from django_voucherify import client as voucherify
from django_voucherify.models import CheckoutRedemption
from example_project.shop.models import ShopOrder
from example_project.shop.tests.shopping import big_cart, place

pytestmark = pytest.mark.django_db(transaction=True)  # the checkout commits its ledger row


def apply(browser, code: str) -> str:
    return browser.post("/checkout/", {"code": code, "apply": "1"}).content.decode()


def line_of(page: str, code: str) -> str:
    match = re.search(rf'<span class="code">{code}</span>: <span class="discount">([^<]*)</span>', page)
    assert match, page
    return match.group(1)


def automatic_of(page: str) -> str:
    match = re.search(r'<p id="automatic-promotion">.*?<span class="discount">([^<]*)</span>', page)
    assert match, page
    return match.group(1)


@pytest.mark.parametrize("typed", [("WELCOME10", "GIFT100"), ("GIFT100", "WELCOME10")])
def test_the_gift_card_pays_after_the_code_and_the_promotion(web, seeded, typed):
    big_cart(web)  # 72.47
    for code in typed:
        apply(web, code)
    page = web.get("/checkout/").content.decode()
    assert automatic_of(page) == "\u2212€6.25"  # 10 % of the 62.47 the code leaves
    assert (line_of(page, "WELCOME10"), line_of(page, "GIFT100")) == ("\u2212€10.00", "\u2212€56.22")
    assert 'id="to-pay">€0.00' in page

    response = place(web)
    assert response.status_code == 302, response.content.decode()
    order = ShopOrder.objects.get()
    assert (order.status, order.paid_cents) == (ShopOrder.Status.PAID, 0)
    # The card paid 56.22 of its 100.00, not 62.47.
    assert voucherify.vouchers.get("GIFT100")["gift"]["balance"] == 10_000 - 5622
    row = CheckoutRedemption.objects.get()
    assert (row.codes, row.tiers) == (["WELCOME10", "GIFT100"], [seeded["id"]])
    assert (row.discount_amount, row.total_amount) == (7247, 0)
