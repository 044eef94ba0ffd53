"""Codes no URL can carry are refused by the form; bad ids in admin URLs are 404s, not 500s."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from django_voucherify.models import Voucher
from django_voucherify.vouchers import editing
from tests.support.admin import post_action
from tests.support.vouchers import VOUCHER_FORM_BLANK as BASE

pytestmark = pytest.mark.django_db
ADD = reverse("admin:django_voucherify_voucher_add")
CHANGELIST = reverse("admin:django_voucherify_voucher_changelist")


@pytest.fixture
def http(admin_user):
    """An admin client that returns 500 pages instead of raising, as a browser would see them."""
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    return client


@pytest.mark.parametrize("code", [".", "..", " .. "])
def test_unaddressable_codes_are_a_form_error(http, sandbox, code):
    resp = http.post(ADD, {**BASE, "code": code, "type": "GIFT_VOUCHER", "gift_amount": "100"})
    assert resp.status_code == 200
    assert "cannot be a voucher code" in str(resp.context["adminform"].form.errors["code"])
    assert sandbox.calls.calls == [] and not Voucher.objects.exists()


def test_a_value_error_from_the_client_is_a_form_error(http, sandbox, monkeypatch):
    def refuse(*args, **kwargs):
        raise ValueError("'..' cannot be used as a Voucherify identifier in a URL path")

    monkeypatch.setattr(editing, "create", refuse)
    resp = http.post(ADD, {**BASE, "code": "OK", "type": "GIFT_VOUCHER", "gift_amount": "100"})
    assert resp.status_code == 200 and "cannot be used" in str(resp.context["adminform"].form.errors["code"])
    assert not Voucher.objects.exists()


@pytest.mark.parametrize("view", ["balance", "change"])
@pytest.mark.parametrize("object_id", ["abc", "999999", "1_2F"])
def test_unknown_or_malformed_ids(http, sandbox, view, object_id):
    resp = http.get(f"{CHANGELIST}{object_id}/{view}/")
    # the balance page answers 404; Django's change view redirects with "doesn't exist"
    assert resp.status_code == (404 if view == "balance" else 302)


def test_codes_with_url_characters_work_everywhere(http, sandbox):
    code = "A/B?C%D ü#E"
    resp = http.post(ADD, {**BASE, "code": code, "type": "GIFT_VOUCHER", "gift_amount": "100"})
    assert resp.status_code == 302 and code in sandbox.state.vouchers
    voucher = Voucher.objects.get(code=code)
    change = reverse("admin:django_voucherify_voucher_change", args=[voucher.pk])
    assert http.get(change).status_code == 200
    balance = reverse("admin:django_voucherify_voucher_balance", args=[voucher.pk])
    source_id = http.get(balance).context["form"].initial["source_id"]
    resp = http.post(balance, {"source_id": source_id, "operation": "add", "amount": "5", "reason": "x"})
    assert resp.status_code == 302 and sandbox.state.vouchers[code]["gift"]["balance"] == 105
    resp = post_action(http, CHANGELIST, "disable_selected", [voucher], post="yes", follow=True)
    assert f"Disable: done for {code}." in [str(m) for m in resp.context["messages"]]
    assert sandbox.state.vouchers[code]["active"] is False
