"""The ledger admin's amounts as staff read them (the demo walked as staff): the changelist's
"total discount" and "amount to pay" columns and the rollback's confirmation page showed
Voucherify's minor units (``410``) where every other page of the admin says ``4.10 EUR``."""

from __future__ import annotations

import pytest

from django_voucherify import checkout
from tests.support.admin import post_action
from tests.support.vouchers import make_voucher

URL = "/admin/django_voucherify/checkoutredemption/"


@pytest.mark.django_db(transaction=True)
@pytest.mark.urls("tests.checkout.urls")
def test_the_ledger_shows_amounts_in_the_currency(sandbox, admin_client, settings):
    settings.VOUCHERIFY = {**settings.VOUCHERIFY, "CURRENCY": "EUR"}
    make_voucher("SHOWN-1")
    row = checkout.redeem(["SHOWN-1"], {"source_id": "ORD-SHOWN", "amount": 123456}).ledger
    assert row.discount_amount and row.total_amount
    discount = f"{row.discount_amount / 100:,.2f}\u00a0EUR"
    to_pay = f"{row.total_amount / 100:,.2f}\u00a0EUR"

    listed = admin_client.get(URL).content.decode()
    assert discount in listed and to_pay in listed
    assert f">{row.discount_amount}<" not in listed and f">{row.total_amount}<" not in listed

    page = post_action(admin_client, URL, "rollback_selected", [row]).content.decode()
    assert page.count(discount) == 1 and f"<td>{row.discount_amount}</td>" not in page
