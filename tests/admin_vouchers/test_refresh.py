"""Filling the mirrors: ``voucherify_pull vouchers``, the refresh task and the admin button."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from django_voucherify import client
from django_voucherify.models import Voucher, VoucherType
from django_voucherify.tasks.vouchers import refresh_vouchers
from tests.support.voucher_pages import listed_vouchers, paged_client
from tests.support.vouchers import make_voucher

pytestmark = pytest.mark.django_db


def test_pull_command_walks_every_page_and_removes_vanished(sandbox):
    for i in range(230):
        make_voucher(f"P-{i:03d}", ["amount", "percent", "gift", "loyalty"][i % 4], category="spring")
    out, err = StringIO(), StringIO()
    call_command("voucherify_pull", "vouchers", stdout=out, stderr=err)
    assert "vouchers: 230 created, 0 updated, 0 removed" in out.getvalue()
    assert "230/230" in err.getvalue()  # the progress bar
    assert sandbox.calls.count("GET", "/v1/vouchers") >= 4  # 1 for the total + 3 pages of 100
    assert Voucher.objects.count() == 230
    gift = Voucher.objects.get(code="P-002")
    assert (gift.type, gift.gift_amount, gift.gift_balance, gift.category) == (
        VoucherType.GIFT,
        10000,
        10000,
        "spring",
    )
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


def test_pull_command_is_recorded_as_a_refresh_run(sandbox, admin_client):
    """The voucher changelist says when the vouchers were last refreshed after a pull too (the
    demo's first start pulls them), not "never been refreshed"."""
    from django.urls import reverse

    from django_voucherify.models import RefreshState, VoucherRefreshRun

    for i in range(3):
        make_voucher(f"R-{i}", "amount")
    call_command("voucherify_pull", "vouchers", "--no-progress", stdout=StringIO())
    run = VoucherRefreshRun.objects.get()
    assert (run.state, run.done, run.stats["created"]) == (RefreshState.SUCCEEDED, 3, 3)
    page = admin_client.get(reverse("admin:django_voucherify_voucher_changelist")).content.decode()
    assert "Last refreshed from Voucherify" in page and "never been refreshed" not in page


def test_failed_walk_removes_nothing(sandbox, mirrored):
    mirrored("KEEP-1", "KEEP-2")
    sandbox.faults.add(path="/v1/vouchers", method="GET", status=500, times=5)
    with pytest.raises(Exception):
        call_command("voucherify_pull", "vouchers", "--no-progress", stdout=StringIO())
    assert Voucher.objects.count() == 2


def test_refresh_button_runs_a_task_not_a_loop(admin_client, sandbox, django_capture_on_commit_callbacks):
    make_voucher("BTN-1")
    url = reverse("admin:django_voucherify_voucher_refresh")
    assert admin_client.get(url).status_code == 405  # only a POST starts it
    with django_capture_on_commit_callbacks(execute=True):  # the task is queued on commit
        admin_client.post(url)
    page = admin_client.get(reverse("admin:django_voucherify_voucher_changelist")).content.decode()
    assert "Last refreshed from Voucherify" in page  # its outcome, not "in the background"
    assert Voucher.objects.filter(code="BTN-1").exists()  # the eager task ran


def test_refresh_task_retries_on_long_rate_limit(sandbox):
    make_voucher("RL-1")
    sandbox.faults.add(path="/v1/vouchers", method="GET", status=429, retry_after=30, times=1)
    refresh_vouchers.apply()  # eager: the retry runs at once
    assert Voucher.objects.filter(code="RL-1").exists()


def test_walk_repeating_page_one_removes_nothing(db):
    from django_voucherify.vouchers.refresh import refresh_all

    Voucher.objects.bulk_create([Voucher(code=f"V{i:03d}") for i in range(250)])
    Voucher.objects.create(code="ONLY-HERE")
    stats = refresh_all(client=paged_client(listed_vouchers(250), total=250, repeat_first_page=True))
    assert stats["removed"] == 0 and stats["seen"] == 100 and "PaginationStalledError" in stats["error"]
    assert Voucher.objects.count() == 251


def test_walk_short_of_the_reported_total_removes_nothing(db):
    from django_voucherify.vouchers.refresh import refresh_all

    Voucher.objects.bulk_create([Voucher(code=f"V{i:03d}") for i in range(150)])
    stats = refresh_all(client=paged_client(listed_vouchers(120), total=150))  # 30 fell through the paging
    assert stats["removed"] == 0 and "brought 120 vouchers, Voucherify reported 150" in stats["error"]
    assert Voucher.objects.count() == 150


def test_complete_walk_removes_the_vanished(db):
    from django_voucherify.vouchers.refresh import refresh_all

    Voucher.objects.bulk_create([Voucher(code=f"V{i:03d}") for i in range(150)])
    stats = refresh_all(client=paged_client(listed_vouchers(120), total=120))
    assert (stats["removed"], stats["seen"], stats["error"]) == (30, 120, "")
    assert Voucher.objects.count() == 120


def test_pull_command_fails_on_an_incomplete_walk_and_keeps_mirrors(sandbox, mirrored, monkeypatch):
    from django.core.management.base import CommandError

    from django_voucherify.api.paging import PaginationStalledError

    mirrored("STAY-1")
    Voucher.objects.create(code="LOCAL-ONLY")  # would be removed by a complete walk

    def stalled(**params):
        yield client.vouchers.list(limit=1)["vouchers"][0]
        raise PaginationStalledError("Page 2 of vouchers repeats the previous page.")

    monkeypatch.setattr(client.vouchers, "iterate", stalled)
    out = StringIO()
    with pytest.raises(CommandError, match=r"not walked to its end .*PaginationStalledError.*no mirror"):
        call_command("voucherify_pull", "vouchers", "--no-progress", stdout=out)
    assert "0 removed" in out.getvalue() and Voucher.objects.filter(code="LOCAL-ONLY").exists()
