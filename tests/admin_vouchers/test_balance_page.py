"""The balance page as staff read it: the card's balance in the shop's currency (or points),
capitalised labels like the rest of the admin, and a refusal said once."""

from __future__ import annotations

import pytest
from django.utils.html import escape

from tests.support.admin import messages_after
from tests.support.balance import balance_url, rendered_source_id

pytestmark = pytest.mark.django_db


def test_a_gift_card_balance_is_money_in_the_shop_currency(admin_client, mirrored, voucherify_settings):
    (card,) = mirrored("GP-1", kind="gift")
    with voucherify_settings(CURRENCY="EUR"):
        page = admin_client.get(balance_url(card)).content.decode()
        assert "Current balance: 100.00\u00a0EUR" in page  # was "Current balance: 10000"
        data = {
            "source_id": rendered_source_id(admin_client, card),
            "operation": "add",
            "amount": "250",
            "reason": "goodwill",
        }
        resp = admin_client.post(balance_url(card), data)
        assert resp.status_code == 302
        assert "Balance of GP-1 is now 102.50\u00a0EUR." in messages_after(admin_client, resp)


def test_a_loyalty_card_balance_is_points(admin_client, mirrored):
    (card,) = mirrored("LP-1", kind="loyalty")
    page = admin_client.get(balance_url(card)).content.decode()
    assert "Current balance: 100 points" in page
    data = {
        "source_id": rendered_source_id(admin_client, card),
        "operation": "add",
        "amount": "7",
        "reason": "x",
    }
    resp = admin_client.post(balance_url(card), data)
    assert "Balance of LP-1 is now 107 points." in messages_after(admin_client, resp)


def test_labels_are_capitalised_and_a_refusal_is_said_once(admin_client, mirrored):
    (card,) = mirrored("GP-2", kind="gift")
    page = admin_client.get(balance_url(card)).content.decode()
    for label in ("Operation:", "Amount:", "Reason:"):
        assert f">{label}</label>" in page
    data = {
        "source_id": rendered_source_id(admin_client, card),
        "operation": "remove",
        "amount": "999999",
        "reason": "too much",
    }
    resp = admin_client.post(balance_url(card), data)
    assert resp.status_code == 200
    (error,) = resp.context["form"].non_field_errors()
    assert resp.content.decode().count(escape(error)) == 1  # the template printed it twice
