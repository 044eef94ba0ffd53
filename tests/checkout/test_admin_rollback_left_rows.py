"""The ledger's rollback confirmation page (the admin walked as a new user): selected rows that
cannot be rolled back (failed, already rolled back) were dropped from the page without a word;
it now says how many are left as they are, as the webhook reprocess page does."""

from __future__ import annotations

import pytest

from django_voucherify.models import LedgerState
from tests.support.admin import post_action
from tests.support.webhooks import ledger_row

pytestmark = pytest.mark.django_db
URL = "/admin/django_voucherify/checkoutredemption/"


def test_rows_that_cannot_be_rolled_back_are_counted_on_the_page(admin_client):
    rows = [
        ledger_row(LedgerState.SUCCEEDED, order_source_id="ORD-OK"),
        ledger_row(LedgerState.FAILED, order_source_id="ORD-FAILED"),
        ledger_row(LedgerState.ROLLED_BACK, order_source_id="ORD-BACK"),
    ]
    html = post_action(admin_client, URL, "rollback_selected", rows).content.decode()
    assert "This redemption will be rolled back in Voucherify" in html
    assert "ORD-OK" in html and "ORD-FAILED" not in html
    assert (
        "2 selected redemptions are not succeeded or unknown: they cannot be rolled back and are "
        "left as they are." in html
    )
    only = post_action(admin_client, URL, "rollback_selected", rows[:1]).content.decode()
    assert "left as" not in only and 'class="errornote"' not in only
