"""Filling the mirrors: ``voucherify_pull vouchers``, the refresh task and the admin button."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from django_voucherify import client
from django_voucherify.models import Voucher, VoucherType
from django_voucherify.tasks.vouchers import refresh_vouchers

from .conftest import make

pytestmark = pytest.mark.django_db


def test_pull_command_walks_every_page_and_removes_vanished(sandbox):
    for i in range(230):
        make(client, f"P-{i:03d}", ["amount", "percent", "gift", "loyalty"][i % 4], category="spring")
    out, err = StringIO(), StringIO()
    call_command("voucherify_pull", "vouchers", stdout=out, stderr=err)
    assert "vouchers: 230 created, 0 updated, 0 removed" in out.getvalue()
    assert "230/230" in err.getvalue()  # the progress bar
    assert sandbox.calls.count("GET", "/v1/vouchers") >= 4  # 1 for the total + 3 pages of 100
    assert Voucher.objects.count() == 230
    gift = Voucher.objects.get(code="P-002")
    assert (gift.type, gift.gift_amount, gift.gift_balance, gift.category) == (
        VoucherType.GIFT, 10000, 10000, "spring")
    pct = Voucher.objects.get(code="P-001")
    assert (pct.discount_type, pct.percent_off, pct.amount_limit) == ("PERCENT", 20, 1000)
    assert pct.remote_payload["code"] == "P-001" and pct.refreshed_at is not None

    client.vouchers.delete("P-000", force=True)
    client.vouchers.disable("P-004")
    out = StringIO()
    call_command("voucherify_pull", "vouchers", "--no-progress", stdout=out)
    assert "0 created, 229 updated, 1 removed" in out.getvalue()
    assert not Voucher.objects.filter(code="P-000").exists()
    assert Voucher.objects.get(code="P-004").active is False


def test_failed_walk_removes_nothing(sandbox, mirrored):
    mirrored("KEEP-1", "KEEP-2")
    sandbox.faults.add(path="/v1/vouchers", method="GET", status=500, times=5)
    with pytest.raises(Exception):
        call_command("voucherify_pull", "vouchers", "--no-progress", stdout=StringIO())
    assert Voucher.objects.count() == 2


def test_refresh_button_runs_a_task_not_a_loop(admin_client, sandbox):
    make(client, "BTN-1")
    url = reverse("admin:django_voucherify_voucher_refresh")
    assert admin_client.get(url).status_code == 405  # only a POST starts it
    page = admin_client.post(url, follow=True).content.decode()
    assert "Refreshing vouchers from Voucherify in the background" in page
    assert Voucher.objects.filter(code="BTN-1").exists()  # the eager task ran


def test_refresh_task_retries_on_long_rate_limit(sandbox):
    make(client, "RL-1")
    sandbox.faults.add(path="/v1/vouchers", method="GET", status=429, retry_after=30, times=1)
    refresh_vouchers.apply()  # eager: the retry runs at once
    assert Voucher.objects.filter(code="RL-1").exists()
