"""Review 19: the voucher change page asks Voucherify for the card's transactions and its
redemptions inside the admin request. While Voucherify hung it took 41 s in the demo (two GETs,
each the shared client's 20 s read timeout): longer than a WSGI server's worker timeout (30 s in
gunicorn), so staff got a 502 instead of the page. The page's look-ups now use the short
interactive timeout (``CHECKOUT_TIMEOUT``) and stop at the first "could not be reached"."""

from __future__ import annotations

import pytest
from django.urls import reverse

from django_voucherify import conf
from django_voucherify.api.errors import RequestTimeout
from django_voucherify.api.resources.redemptions import Redemptions
from django_voucherify.api.resources.vouchers import Vouchers

pytestmark = pytest.mark.django_db


def test_a_hanging_voucherify_costs_the_change_page_one_short_timeout(
    admin_client, sandbox, mirrored, monkeypatch
):
    (voucher,) = mirrored("HANG-1", kind="loyalty")
    asked: list[tuple[str, float]] = []

    def hang(name: str):
        def call(self, code, **params):
            asked.append((name, self._transport.timeout[1]))
            raise RequestTimeout("Voucherify read timeout", method="GET", path=f"/v1/vouchers/{code}/...")

        return call

    monkeypatch.setattr(Vouchers, "list_transactions", hang("transactions"))
    monkeypatch.setattr(Redemptions, "for_voucher", hang("redemptions"))
    page = admin_client.get(reverse("admin:django_voucherify_voucher_change", args=[voucher.pk]))
    assert page.status_code == 200
    assert [name for name, _ in asked] == ["transactions"]  # the second look-up is not waited for
    assert asked[0][1] == conf.settings().checkout_timeout < conf.settings().read_timeout
    (error,) = page.context["activity"].errors
    assert "could not be reached" in error


def test_a_refusal_still_lets_the_other_look_up_run(admin_client, sandbox, mirrored):
    (voucher,) = mirrored("FLAKY-2", kind="loyalty")
    sandbox.faults.add(path="/v1/vouchers/FLAKY-2/transactions", method="GET", status=503, times=1)
    page = admin_client.get(reverse("admin:django_voucherify_voucher_change", args=[voucher.pk]))
    activity = page.context["activity"]
    assert page.status_code == 200 and len(activity.errors) == 1 and activity.redeemed_quantity is not None
