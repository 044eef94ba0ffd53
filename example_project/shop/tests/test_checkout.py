"""The demo shop's checkout with Django's test client, on the in-process sandbox.

Run with the shop's settings (tests/checkout/test_example_shop.py does it in a subprocess)::

    pytest --ds=example_project.settings example_project/shop/tests
"""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from django_voucherify.models import CheckoutRedemption, LedgerState
from example_project.shop.models import ShopOrder
from example_project.shop.tests.shopping import place, token

pytestmark = pytest.mark.django_db(transaction=True)  # the checkout commits its ledger row


def test_checkout_page_shows_the_discount(web):
    web.post("/checkout/", {"code": "SAVE5", "apply": "1"})
    page = web.post("/checkout/", {"code": "NOPE", "apply": "1"})
    text = page.content.decode()
    assert page.status_code == 200 and 'id="subtotal">€32.49' in text
    assert "NOPE: This code does not exist." in text
    # The unknown code is dropped; the good one applies on its own.
    assert "\u2212€5.00" in text and 'id="to-pay">€27.49' in text


def test_happy_path_redeems_and_confirms(web, voucherify_sandbox):
    web.post("/checkout/", {"code": "SAVE5", "apply": "1"})
    response = place(web)
    assert response.status_code == 302 and "/orders/DEMO-" in response["Location"]
    order = ShopOrder.objects.get()
    assert order.status == ShopOrder.Status.PAID
    confirmation = web.get(response["Location"]).content.decode()
    assert 'id="paid">€27.49' in confirmation and "SAVE5" in confirmation
    assert order.paid_cents == 2749
    # Signed in again (a new session): the amount paid, not the total before the discount.
    web.logout()
    web.force_login(order.user)
    assert 'id="paid">€27.49' in web.get(response["Location"]).content.decode()
    assert "€27.49" in web.get("/orders/").content.decode()
    row = CheckoutRedemption.objects.get(order_source_id=order.number)
    assert row.state == LedgerState.SUCCEEDED and row.discount_amount == 500
    assert voucherify_sandbox.state.vouchers["SAVE5"]["redemption"]["redeemed_quantity"] == 1


def test_failed_payment_rolls_the_voucher_back(web, voucherify_sandbox):
    web.post("/checkout/", {"code": "SAVE5", "apply": "1"})
    response = web.post("/checkout/place/", {"fail_payment": "1", "checkout_token": token(web)}, follow=True)
    assert "Your vouchers were released" in response.content.decode()
    order = ShopOrder.objects.get()
    assert order.status == ShopOrder.Status.CANCELLED
    row = CheckoutRedemption.objects.get(order_source_id=order.number)
    assert row.state == LedgerState.ROLLED_BACK and row.rollback_reason == "payment failed"
    assert voucherify_sandbox.state.vouchers["SAVE5"]["redemption"]["redeemed_quantity"] == 0
    # The released voucher (quantity 1) can be used by the next attempt.
    place(web)
    assert ShopOrder.objects.filter(status=ShopOrder.Status.PAID).count() == 1


def test_double_submit_places_one_order_and_redeems_once(web, voucherify_sandbox):
    web.post("/checkout/", {"code": "SAVE5", "apply": "1"})
    form = {"checkout_token": token(web)}
    first = web.post("/checkout/place/", form)
    second = web.post("/checkout/place/", form)  # the same form submitted again
    order = ShopOrder.objects.get()
    assert order.status == ShopOrder.Status.PAID
    assert first["Location"] == second["Location"] == f"/orders/{order.number}/"
    assert CheckoutRedemption.objects.count() == 1
    assert voucherify_sandbox.state.vouchers["SAVE5"]["redemption"]["redeemed_quantity"] == 1


def test_concurrent_submits_of_one_form_create_one_order(web, voucherify_sandbox, django_user_model):
    """Two requests racing with the same token (a double click): the unique token makes the
    second one find the first one's order."""
    web.post("/checkout/", {"code": "SAVE5", "apply": "1"})
    form = {"checkout_token": token(web)}
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def submit() -> None:
        try:
            barrier.wait()
            statuses.append(web.post("/checkout/place/", form).status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [302, 302]
    assert ShopOrder.objects.count() == 1 and CheckoutRedemption.objects.count() == 1
    assert voucherify_sandbox.state.vouchers["SAVE5"]["redemption"]["redeemed_quantity"] == 1


def test_submit_without_a_token_places_nothing(web):
    response = web.post("/checkout/place/", follow=True)
    assert "Your checkout page has expired" in response.content.decode()
    assert not ShopOrder.objects.exists()


def test_invalid_code_gets_a_message_not_an_error_page(web):
    page = web.post("/checkout/", {"code": "SAVE\u200b5", "apply": "1"})
    assert page.status_code == 200
    assert "A voucher code cannot contain invisible or control characters." in page.content.decode()
