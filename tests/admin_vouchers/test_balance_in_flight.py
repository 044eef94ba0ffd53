"""A balance change Voucherify is still applying when the interactive client gives up
(``CHECKOUT_TIMEOUT``) must not be applied a second time by the resend the form invites.

Over HTTP (the sandbox served in a thread): the request sleeps *before* it is handled, longer
than the interactive timeout, so the shop sees a timeout while Voucherify goes on and applies the
change a moment later. The resend's look-up of the form's ``source_id`` comes too early to find it.
"""

from __future__ import annotations

import time

import pytest

import django_voucherify
from django_voucherify.models import Voucher
from django_voucherify.vouchers.refresh import store
from tests.support.balance import balance_url, rendered_source_id
from tests.support.sandbox import point_at_server
from tests.support.vouchers import make_voucher

pytestmark = pytest.mark.django_db
SLOW = 1.0
INTERACTIVE = 0.3


@pytest.fixture
def live(voucherify_sandbox_server, settings):
    yield point_at_server(settings, voucherify_sandbox_server, CHECKOUT_TIMEOUT=INTERACTIVE)
    django_voucherify.reset_client()


def test_resend_while_the_first_send_is_in_flight_credits_once(admin_client, live):
    card = store(make_voucher("SLOW-1", "gift"))
    data = {
        "source_id": rendered_source_id(admin_client, card),
        "operation": "add",
        "amount": "250",
        "reason": "refund",
    }
    live.sandbox.faults.add(path="/v1/vouchers/SLOW-1/balance", method="POST", latency=SLOW, times=1)

    first = admin_client.post(balance_url(card), data)
    assert first.status_code == 200  # timed out: the form again
    assert "could not be reached" in str(first.context["form"].non_field_errors())

    second = admin_client.post(balance_url(card), data)  # the resend the form invites, at once
    assert second.status_code == 200
    assert "may still be under way" in str(second.context["form"].non_field_errors())
    time.sleep(SLOW + 0.5)  # the first send lands meanwhile

    balance = live.sandbox.state.vouchers["SLOW-1"]["gift"]["balance"]
    assert balance == 10250, f"credited twice: {balance}"

    third = admin_client.post(balance_url(card), data)  # once it landed: found, not sent
    assert third.status_code == 302
    assert live.sandbox.state.vouchers["SLOW-1"]["gift"]["balance"] == 10250


def test_a_refused_send_can_be_sent_again_at_once(admin_client, live):
    card = store(make_voucher("SLOW-2", "gift"))
    data = {
        "source_id": rendered_source_id(admin_client, card),
        "operation": "add",
        "amount": "250",
        "reason": "refund",
    }
    live.sandbox.faults.add(path="/v1/vouchers/SLOW-2/balance", method="POST", status=400, times=1)
    assert admin_client.post(balance_url(card), data).status_code == 200  # refused: nothing done
    assert admin_client.post(balance_url(card), data).status_code == 302  # not held as in flight
    assert live.sandbox.state.vouchers["SLOW-2"]["gift"]["balance"] == 10250
    assert Voucher.objects.get(code="SLOW-2").gift_balance == 10250
