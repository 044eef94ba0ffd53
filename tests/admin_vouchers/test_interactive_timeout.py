"""The voucher form's create and update and the balance adjustment are made while a person
waits, so they use the interactive client (``CHECKOUT_TIMEOUT``), not ``READ_TIMEOUT`` (20 s by
default) and the retries meant for workers. A call Voucherify handled but did not answer in
time may have happened: the form says so, and what sending it again does; nothing is resent.

The sandbox hangs *after* handling the request (``after=True``) for 1 s: longer than the
interactive timeout set here (0.2 s), shorter than ``READ_TIMEOUT``, so the old code (shared
client) waited and succeeded where the interactive client gives up."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from django_voucherify.models import Voucher
from tests.support.admin import messages_after
from tests.support.balance import balance_url, rendered_source_id
from tests.support.vouchers import VOUCHER_FORM_BLANK as BASE

pytestmark = pytest.mark.django_db
ADD = reverse("admin:django_voucherify_voucher_add")
HANG = 1.0
INTERACTIVE = 0.2


@pytest.fixture
def hung(sandbox, voucherify_settings):
    """``hung(method, path)``: Voucherify handles the next such request, then hangs; returns
    the fault rule (``hits``: requests it caught; the call log only lists answered ones)."""
    with voucherify_settings(CHECKOUT_TIMEOUT=INTERACTIVE, READ_TIMEOUT=20):

        def hang(method: str, path: str) -> Any:
            return sandbox.faults.add(path=path, method=method, latency=HANG, after=True, times=1)

        yield hang


def form_errors(resp) -> str:
    return str(resp.context["adminform"].form.non_field_errors())


def test_create_times_out_and_says_the_voucher_may_exist(admin_client, sandbox, hung):
    rule = hung("POST", "/v1/vouchers/HUNG-1")
    data = {**BASE, "code": "HUNG-1", "discount_type": "AMOUNT", "amount_off": "100"}
    resp = admin_client.post(ADD, data)
    assert resp.status_code == 200  # the form again, not a redirect after waiting out the hang
    errors = form_errors(resp)
    assert "could not be reached" in errors and "may have been created" in errors
    assert "HUNG-1" in sandbox.state.vouchers  # it did happen at Voucherify
    assert not Voucher.objects.exists()  # the mirror is written only from an answer
    assert rule.hits == 1 and sandbox.calls.count("POST", "/v1/vouchers/HUNG-1") == 0  # never retried

    resp = admin_client.post(ADD, data)  # sent again: refused, not created twice
    assert resp.status_code == 200 and "already exists" in str(resp.context["adminform"].form.errors)
    assert sandbox.calls.count("POST", "/v1/vouchers/HUNG-1") == 1


def test_update_times_out_and_says_the_change_may_be_applied(admin_client, sandbox, mirrored, hung):
    (voucher,) = mirrored("HUNG-2")
    url = reverse("admin:django_voucherify_voucher_change", args=[voucher.pk])
    data = {**BASE, "code": "HUNG-2", "discount_type": "AMOUNT", "amount_off": "700"}
    hung("PUT", "/v1/vouchers/HUNG-2")
    resp = admin_client.post(url, data)
    assert resp.status_code == 200
    errors = form_errors(resp)
    assert "may have been applied" in errors and "Sending this form again is safe" in errors
    assert sandbox.state.vouchers["HUNG-2"]["discount"]["amount_off"] == 700
    voucher.refresh_from_db()
    assert voucher.amount_off != 700  # not from a guess: no answer came

    assert admin_client.post(url, data).status_code == 302  # the promised safe resend
    voucher.refresh_from_db()
    assert voucher.amount_off == 700


def test_balance_times_out_and_a_resend_is_not_applied_twice(admin_client, sandbox, mirrored, hung):
    (card,) = mirrored("HUNG-3", kind="gift")
    data = {
        "source_id": rendered_source_id(admin_client, card),
        "operation": "add",
        "amount": "250",
        "reason": "refund",
    }
    rule = hung("POST", "/v1/vouchers/HUNG-3/balance")
    resp = admin_client.post(balance_url(card), data)
    assert resp.status_code == 200
    errors = str(resp.context["form"].non_field_errors())
    assert "could not be reached" in errors and "Sending this form again is safe" in errors
    assert sandbox.state.vouchers["HUNG-3"]["gift"]["balance"] == 10250

    resp = admin_client.post(balance_url(card), data)
    assert resp.status_code == 302 and "already applied" in messages_after(admin_client, resp)[0]
    assert sandbox.state.vouchers["HUNG-3"]["gift"]["balance"] == 10250
    assert rule.hits == 1 and sandbox.calls.count("POST", "/v1/vouchers/HUNG-3/balance") == 0
