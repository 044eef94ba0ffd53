"""Who may change what: ``active`` needs ``change_voucher_state``; nothing is fetched for a 403."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from django_voucherify.models import Voucher
from tests.support.admin import login_staff
from tests.support.vouchers import VOUCHER_FORM_BLANK as BASE

pytestmark = pytest.mark.django_db
ADD = reverse("admin:django_voucherify_voucher_add")


def change_url(voucher):
    return reverse("admin:django_voucherify_voucher_change", args=[voucher.pk])


def put_bodies(sandbox):
    """Every JSON body of a PUT the sandbox receives from now on."""
    bodies: list[dict] = []
    sandbox.response_listeners.append(
        lambda exchange: exchange.request.method == "PUT" and bodies.append(json.loads(exchange.request.body))
    )
    return bodies


def test_editor_without_state_permission_cannot_toggle_active(client, sandbox, mirrored):
    (voucher,) = mirrored("PERM-A")
    puts = put_bodies(sandbox)
    login_staff(client, "view_voucher", "change_voucher")
    page = client.get(change_url(voucher))
    assert "active" not in page.context["adminform"].form.fields  # shown read-only
    data = {**BASE, "code": "PERM-A", "discount_type": "AMOUNT", "amount_off": "700", "category": "new"}
    data.pop("active")  # an unticked checkbox: "inactive" if the field were editable
    resp = client.post(change_url(voucher), data)
    assert resp.status_code == 302
    remote = sandbox.state.vouchers["PERM-A"]
    assert remote["active"] is True and remote["discount"]["amount_off"] == 700
    assert Voucher.objects.get(code="PERM-A").active is True
    (put,) = puts
    assert "active" not in put  # not even the unchanged value is sent


def test_state_permission_lets_the_form_disable(client, sandbox, mirrored):
    (voucher,) = mirrored("PERM-B")
    login_staff(client, "view_voucher", "change_voucher", "change_voucher_state")
    data = {**BASE, "code": "PERM-B", "discount_type": "AMOUNT", "amount_off": "500"}
    data.pop("active")
    assert client.post(change_url(voucher), data).status_code == 302
    assert sandbox.state.vouchers["PERM-B"]["active"] is False


def test_creator_without_state_permission_creates_active_vouchers(client, sandbox):
    login_staff(client, "view_voucher", "add_voucher")
    data = {**BASE, "code": "NEW-A", "discount_type": "AMOUNT", "amount_off": "100"}
    data.pop("active")
    assert client.post(ADD, data).status_code == 302
    assert sandbox.state.vouchers["NEW-A"]["active"] is True


def test_no_voucherify_call_for_staff_without_view_permission(client, sandbox, mirrored):
    (voucher,) = mirrored("G-9", kind="gift")
    login_staff(client)  # staff, no voucher permission at all
    sandbox.calls.calls.clear()
    assert client.get(change_url(voucher)).status_code == 403
    assert sandbox.calls.calls == []
