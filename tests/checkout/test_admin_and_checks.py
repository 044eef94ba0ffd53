"""Ledger admin (rollback behind a confirmation page) and the checkout system checks."""

from __future__ import annotations

from functools import partial

import pytest
from django.test import override_settings

from django_voucherify import checkout
from django_voucherify.models import CheckoutRedemption, LedgerState
from tests.support.admin import post_action
from tests.support.checkout import checkout_checks
from tests.support.vouchers import make_voucher

URL = "/admin/django_voucherify/checkoutredemption/"


@pytest.mark.django_db
@pytest.mark.urls("tests.checkout.urls")
def test_rollback_action_asks_for_confirmation_first(sandbox, admin_client):
    make_voucher("FIVE")
    row = checkout.redeem(["FIVE"], {"source_id": "ORD-A", "amount": 1000}).ledger
    assert admin_client.get(URL).status_code == 200
    assert admin_client.get(f"{URL}{row.pk}/change/").status_code == 200
    rollback = partial(post_action, admin_client, URL, "rollback_selected", [row])
    page = rollback()
    assert page.status_code == 200 and b"confirm-rollback" in page.content
    assert CheckoutRedemption.objects.get().state == LedgerState.SUCCEEDED  # nothing yet
    done = rollback(post="yes", reason="goodwill", follow=True)
    row.refresh_from_db()
    assert row.state == LedgerState.ROLLED_BACK and row.rollback_reason == "goodwill"
    assert b"1 redemption rolled back." in done.content


@pytest.mark.parametrize(
    ("overrides", "ids"),
    [
        ({}, []),
        ({"CHECKOUT_OUTAGE_POLICY": "ignore"}, ["voucherify.E020"]),
        ({"CHECKOUT_TIMEOUT": 0}, ["voucherify.E021"]),
        ({"CHECKOUT_TIMEOUT": 60}, ["voucherify.W020", "voucherify.E024"]),
        ({"CHECKOUT_RECONCILE_GRACE": -1}, ["voucherify.E022"]),
        ({"CHECKOUT_ATTENTION_INTERVAL": "hourly"}, ["voucherify.E022"]),
        ({"CHECKOUT_RECONCILE_MAX_ATTEMPTS": 0}, ["voucherify.E023"]),
        ({"CHECKOUT_RECONCILE_MAX_ATTEMPTS": 2.5}, ["voucherify.E023"]),
    ],
)
def test_checkout_settings_checks(settings, overrides, ids):
    with override_settings(VOUCHERIFY={**settings.VOUCHERIFY, **overrides}):
        assert [m.id for m in checkout_checks()] == ids


@pytest.mark.django_db
@pytest.mark.urls("tests.checkout.urls")
def test_rows_needing_attention_are_listed_for_staff(admin_client):
    CheckoutRedemption.objects.create(order_source_id="ORD-OK", codes=["A"], state=LedgerState.FAILED)
    CheckoutRedemption.objects.create(
        order_source_id="ORD-STUCK",
        codes=["B"],
        state=LedgerState.UNKNOWN,
        needs_attention=True,
        attention_reason="outcome still unknown after 10 reads",
    )
    page = admin_client.get(URL, {"needs_attention__exact": "1"}).content.decode()
    assert "ORD-STUCK" in page and "ORD-OK" not in page
    row = CheckoutRedemption.objects.get(order_source_id="ORD-STUCK")
    detail = admin_client.get(f"{URL}{row.pk}/change/").content.decode()
    assert "outcome still unknown after 10 reads" in detail and "Due at" in detail


@pytest.mark.django_db
@pytest.mark.urls("tests.checkout.urls")
def test_the_rollback_confirmation_posts_back_pks_unlocalised(sandbox, admin_client, settings):
    """With thousand separators on, the confirmation page wrote ledger row 12345 as ``12,345``
    in its hidden input: confirming rolled back nothing from the 1000th row on (the admin review)."""
    settings.USE_THOUSAND_SEPARATOR = True
    make_voucher("SEP")
    row = checkout.redeem(["SEP"], {"source_id": "ORD-SEP", "amount": 1000}).ledger
    CheckoutRedemption.objects.filter(pk=row.pk).update(id=12345)
    page = post_action(admin_client, URL, "rollback_selected", [12345]).content.decode()
    form = page[page.index('<form method="post">') :]
    assert 'name="_selected_action" value="12345"' in form
    post_action(admin_client, URL, "rollback_selected", [12345], post="yes", reason="goodwill")
    assert CheckoutRedemption.objects.get(pk=12345).state == LedgerState.ROLLED_BACK
