"""A balance change is reported from Voucherify's balance answer and applied once per form."""

from __future__ import annotations

import pytest

from django_voucherify import client
from django_voucherify.admin.voucher_forms import BalanceForm
from django_voucherify.models import Voucher
from tests.support.admin import messages_after
from tests.support.balance import balance_posts, balance_url, rendered_source_id

pytestmark = pytest.mark.django_db


def test_failing_reread_still_reports_the_credit_and_a_resubmit_is_not_sent(admin_client, sandbox, mirrored):
    (card,) = mirrored("GB-1", kind="gift")
    source_id = rendered_source_id(admin_client, card)
    sandbox.faults.add(path="/v1/vouchers/GB-1", method="GET", status=500, times=5)
    data = {"source_id": source_id, "operation": "add", "amount": "100", "reason": "goodwill"}

    resp = admin_client.post(balance_url(card), data)
    assert resp.status_code == 302  # success, although re-reading the card failed
    assert "Balance of GB-1 is now 10100." in messages_after(admin_client, resp)
    assert sandbox.state.vouchers["GB-1"]["gift"]["balance"] == 10100
    assert Voucher.objects.get(code="GB-1").gift_balance == 10100  # from the balance answer

    resp = admin_client.post(balance_url(card), data)  # the same form sent again
    assert resp.status_code == 302
    (text,) = messages_after(admin_client, resp)
    assert "already applied" in text and "not sent again" in text
    assert sandbox.state.vouchers["GB-1"]["gift"]["balance"] == 10100
    assert balance_posts(sandbox, "GB-1") == 1


def test_answer_lost_then_resubmitted_credits_once(admin_client, sandbox, mirrored):
    (card,) = mirrored("GB-2", kind="gift")
    source_id = rendered_source_id(admin_client, card)
    sandbox.faults.add(path="/v1/vouchers/GB-2/balance", method="POST", drop=True, after=True, times=1)
    data = {"source_id": source_id, "operation": "add", "amount": "250", "reason": "refund"}

    resp = admin_client.post(balance_url(card), data)
    assert resp.status_code == 200  # outcome unknown: the form comes back with the same source_id
    errors = str(resp.context["form"].non_field_errors())
    assert "could not be reached" in errors and "Sending this form again is safe" in errors
    assert f'value="{source_id}"' in resp.content.decode()
    assert sandbox.state.vouchers["GB-2"]["gift"]["balance"] == 10250  # it did go through

    resp = admin_client.post(balance_url(card), data)
    assert resp.status_code == 302 and "already applied" in messages_after(admin_client, resp)[0]
    assert sandbox.state.vouchers["GB-2"]["gift"]["balance"] == 10250


def test_each_rendered_form_is_a_new_change(admin_client, sandbox, mirrored):
    (card,) = mirrored("LOY-1", kind="loyalty")
    for _ in range(2):
        resp = admin_client.post(
            balance_url(card),
            {
                "source_id": rendered_source_id(admin_client, card),
                "operation": "add",
                "amount": "7",
                "reason": "x",
            },
        )
        assert resp.status_code == 302
    assert sandbox.state.vouchers["LOY-1"]["loyalty_card"]["balance"] == 114
    assert Voucher.objects.get(code="LOY-1").loyalty_balance == 114
    listed = client.vouchers.list_transactions("LOY-1", limit=10)["data"]
    assert len({t["source_id"] for t in listed if t.get("source_id")}) == 2


@pytest.mark.parametrize("source_id", ["", "admin-x", "made-up-by-hand", f"admin-1-{'g' * 32}"])
def test_a_damaged_form_is_refused_before_any_call(admin_client, sandbox, mirrored, source_id):
    (card,) = mirrored("GB-3", kind="gift")
    sandbox.calls.calls.clear()
    resp = admin_client.post(
        balance_url(card), {"source_id": source_id, "operation": "add", "amount": "5", "reason": "x"}
    )
    assert resp.status_code == 200 and "reload the page" in resp.content.decode()
    assert sandbox.calls.calls == []


def test_source_ids_differ_per_form():
    assert BalanceForm().initial["source_id"] != BalanceForm().initial["source_id"]
