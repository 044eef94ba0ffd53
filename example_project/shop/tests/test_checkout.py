"""The demo shop's checkout with Django's test client, on the in-process sandbox.

Run with the shop's settings (tests/checkout/test_example_shop.py does it in a subprocess)::

    pytest --ds=example_project.settings example_project/shop/tests
"""

from __future__ import annotations

import pytest
from django.test import Client

from django_voucherify import client as voucherify
from django_voucherify.models import CheckoutRedemption, LedgerState
from example_project.shop.models import Product, ShopOrder

DEMO_PRODUCTS = [("TSHIRT-M", "T-shirt (M)", 1999), ("MUG", "Mug", 1250)]

pytestmark = pytest.mark.django_db(transaction=True)  # the checkout commits its ledger row


@pytest.fixture
def web(voucherify_sandbox, django_user_model):
    voucherify.vouchers.create("SAVE5", {"type": "DISCOUNT_VOUCHER", "redemption": {"quantity": 1},
                                         "discount": {"type": "AMOUNT", "amount_off": 500}})
    for sku, name, price in DEMO_PRODUCTS:  # transactional tests flush the data migration's rows
        Product.objects.get_or_create(sku=sku, defaults={"name": name, "price_cents": price})
    user = django_user_model.objects.create_user("ann", "ann@example.com", "pw")
    browser = Client()
    browser.force_login(user)
    browser.post("/cart/add/TSHIRT-M/")  # 1999
    browser.post("/cart/add/MUG/")       # 1250
    return browser


def test_checkout_page_shows_the_discount(web):
    page = web.post("/checkout/", {"codes": "SAVE5 NOPE", "apply": "1"})
    text = page.content.decode()
    assert page.status_code == 200 and "3249 ¢" in text
    assert "This code does not exist." in text
    page = web.post("/checkout/", {"codes": "SAVE5", "apply": "1"})
    text = page.content.decode()
    assert "\u2212500 ¢" in text and 'id="to-pay">2749 ¢' in text


def test_happy_path_redeems_and_confirms(web, voucherify_sandbox):
    web.post("/checkout/", {"codes": "SAVE5", "apply": "1"})
    response = web.post("/checkout/place/")
    assert response.status_code == 302 and "/orders/DEMO-" in response["Location"]
    order = ShopOrder.objects.get()
    assert order.status == ShopOrder.Status.PAID
    confirmation = web.get(response["Location"]).content.decode()
    assert 'id="paid">2749 ¢' in confirmation and "SAVE5" in confirmation
    row = CheckoutRedemption.objects.get(order_source_id=order.number)
    assert row.state == LedgerState.SUCCEEDED and row.discount_amount == 500
    assert voucherify_sandbox.state.vouchers["SAVE5"]["redemption"]["redeemed_quantity"] == 1


def test_failed_payment_rolls_the_voucher_back(web, voucherify_sandbox):
    web.post("/checkout/", {"codes": "SAVE5", "apply": "1"})
    response = web.post("/checkout/place/", {"fail_payment": "1"}, follow=True)
    assert "Your vouchers were released" in response.content.decode()
    order = ShopOrder.objects.get()
    assert order.status == ShopOrder.Status.CANCELLED
    row = CheckoutRedemption.objects.get(order_source_id=order.number)
    assert row.state == LedgerState.ROLLED_BACK and row.rollback_reason == "payment failed"
    assert voucherify_sandbox.state.vouchers["SAVE5"]["redemption"]["redeemed_quantity"] == 0
    # The released voucher (quantity 1) can be used by the next attempt.
    web.post("/checkout/place/")
    assert ShopOrder.objects.filter(status=ShopOrder.Status.PAID).count() == 1
