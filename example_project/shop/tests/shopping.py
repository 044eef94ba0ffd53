"""The shop as a shopper's browser (Django's test client) uses it, for the shop's tests: the
checkout form's one-time token, placing the order, a cart over the promotion's 50.00."""

from __future__ import annotations

import re

from django.test import Client


def token(browser) -> str:
    """The one-time token of the checkout form, as a browser would submit it."""
    match = re.search(r'name="checkout_token" value="([^"]+)"', browser.get("/checkout/").content.decode())
    assert match
    return match.group(1)


def place(browser, **data):
    """Submit the checkout form (with its one-time token) as the shopper ``browser``."""
    return browser.post("/checkout/place/", {"checkout_token": token(browser), **data})


def big_cart(browser: Client) -> None:
    """Two more T-shirts: 3 x 19.99 + 12.50 = 72.47, over 50."""
    browser.post("/cart/add/TSHIRT-M/")
    browser.post("/cart/add/TSHIRT-M/")
