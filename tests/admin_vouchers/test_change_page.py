"""The change page: transactions, redemptions, gift-card balance adjustment; the changelist."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from django_voucherify import client
from django_voucherify.models import Voucher
from tests.support.balance import balance_url

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:django_voucherify_voucher_changelist")


def adjust(http, voucher, source_id=None, **data):
    """POST the balance form as a browser does: with the ``source_id`` of a freshly rendered form."""
    if source_id is None:
        source_id = http.get(balance_url(voucher)).context["form"].initial["source_id"]
    return http.post(balance_url(voucher), {"source_id": source_id, **data})


def test_balance_add_and_remove_with_reason(admin_client, sandbox, mirrored):
    (gift,) = mirrored("CARD-1", kind="gift")
    resp = adjust(admin_client, gift, operation="add", amount="2500", reason="goodwill")
    resp = admin_client.get(resp.url)
    assert "Balance of CARD-1 is now 12500." in [str(m) for m in resp.context["messages"]]
    adjust(admin_client, gift, operation="remove", amount="500", reason="correction")
    assert sandbox.state.vouchers["CARD-1"]["gift"]["balance"] == 12000
    gift.refresh_from_db()
    assert gift.gift_balance == 12000
    page = admin_client.get(reverse("admin:django_voucherify_voucher_change", args=[gift.pk]))
    html = page.content.decode()
    assert page.status_code == 200 and "goodwill" in html and "correction" in html
    assert [t["reason"] for t in page.context["activity"].transactions] == ["correction", "goodwill"]


def test_removing_more_than_the_balance_is_a_form_error(admin_client, sandbox, mirrored):
    (gift,) = mirrored("CARD-2", kind="gift")
    resp = adjust(admin_client, gift, operation="remove", amount="999999", reason="x")
    assert resp.status_code == 200
    assert "does not hold that much balance" in str(resp.context["form"].non_field_errors())
    assert sandbox.state.vouchers["CARD-2"]["gift"]["balance"] == 10000


def test_balance_form_validates_before_calling(admin_client, sandbox, mirrored):
    (gift,) = mirrored("CARD-3", kind="gift")
    source_id = admin_client.get(balance_url(gift)).context["form"].initial["source_id"]
    sandbox.calls.calls.clear()
    resp = adjust(admin_client, gift, source_id, operation="add", amount="0", reason="")
    assert resp.status_code == 200 and set(resp.context["form"].errors) == {"amount", "reason"}
    assert sandbox.calls.calls == []


def test_discount_vouchers_have_no_balance_page(admin_client, sandbox, mirrored):
    (voucher,) = mirrored("DISC-1")
    assert admin_client.get(balance_url(voucher)).status_code == 403


def test_balance_needs_the_adjust_balance_permission(client, sandbox, mirrored):
    (gift,) = mirrored("CARD-4", kind="gift")
    staff = User.objects.create_user("editor", password="pw", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_voucher", "change_voucher"]))
    client.force_login(staff)
    change_page = client.get(reverse("admin:django_voucherify_voucher_change", args=[gift.pk]))
    assert change_page.status_code == 200 and "adjust-balance" not in change_page.content.decode()
    assert client.get(balance_url(gift)).status_code == 403
    resp = client.post(
        balance_url(gift),
        {"source_id": f"admin-1-{'a' * 32}", "operation": "add", "amount": "5", "reason": "x"},
    )
    assert resp.status_code == 403 and sandbox.state.vouchers["CARD-4"]["gift"]["balance"] == 10000

    staff.user_permissions.add(Permission.objects.get(codename="adjust_voucher_balance"))
    client.force_login(User.objects.get(pk=staff.pk))  # drop the permission cache
    assert (
        "adjust-balance"
        in client.get(reverse("admin:django_voucherify_voucher_change", args=[gift.pk])).content.decode()
    )
    assert adjust(client, gift, operation="add", amount="5", reason="x").status_code == 302
    assert sandbox.state.vouchers["CARD-4"]["gift"]["balance"] == 10005


def test_change_page_lists_redemptions(admin_client, sandbox, mirrored):
    (voucher,) = mirrored("USED-1")
    client.redemptions.redeem(
        {
            "redeemables": [{"object": "voucher", "id": "USED-1"}],
            "order": {"source_id": "order-77", "amount": 5000},
        }
    )
    page = admin_client.get(reverse("admin:django_voucherify_voucher_change", args=[voucher.pk]))
    assert page.status_code == 200
    (entry,) = page.context["activity"].redemptions
    assert entry["result"] == "SUCCESS" and "order-77" in page.content.decode()


def test_change_page_survives_voucherify_errors(admin_client, sandbox, mirrored):
    (voucher,) = mirrored("FLAKY-1", kind="loyalty")
    sandbox.faults.add(path="/v1/vouchers/FLAKY-1/*", method="GET", status=503, times=2)
    page = admin_client.get(reverse("admin:django_voucherify_voucher_change", args=[voucher.pk]))
    assert page.status_code == 200 and len(page.context["activity"].errors) == 2


def test_changelist_columns_search_and_filters(admin_client, sandbox, mirrored):
    mirrored("SPRING-5", kind="percent", category="spring")
    mirrored("GIFT-9", kind="gift", redemption={"quantity": 3})
    Voucher.objects.filter(code="GIFT-9").update(campaign="Xmas")
    html = admin_client.get(CHANGELIST).content.decode()
    for text in ("SPRING-5", "max 1000</span>", "GIFT-9", "10000", "0 / 3", "0 / ∞", "Gift card"):
        assert text in html, text
    found = admin_client.get(CHANGELIST, {"q": "spring"}).context["cl"].result_list
    assert [v.code for v in found] == ["SPRING-5"]
    for params, codes in (
        ({"type__exact": "GIFT_VOUCHER"}, ["GIFT-9"]),
        ({"category": "spring"}, ["SPRING-5"]),
        ({"campaign": "Xmas"}, ["GIFT-9"]),
        ({"active__exact": "0"}, []),
    ):
        assert [v.code for v in admin_client.get(CHANGELIST, params).context["cl"].result_list] == codes


def test_changelist_shows_amounts_in_the_shops_currency_and_short_expiry(
    admin_client, sandbox, mirrored, settings
):
    settings.VOUCHERIFY = {**settings.VOUCHERIFY, "CURRENCY": "EUR"}
    mirrored("SPRING-5", kind="percent")
    mirrored("GIFT-9", kind="gift")
    mirrored("LOYAL-2", kind="loyalty")
    Voucher.objects.filter(code="GIFT-9").update(expiration_date="2030-12-31T23:00:00Z")
    html = admin_client.get(CHANGELIST).content.decode()
    # A card's balance and a percentage's limit under the value (no column of their own: the
    # list fits at 1280 px with the sidebars open).
    balance = '100.00\u00a0EUR<br><span class="voucherify-quiet">balance 100.00\u00a0EUR</span>'
    limit = '20%<br><span class="voucherify-quiet">max 10.00\u00a0EUR</span>'
    for text in (limit, balance):
        assert text in html, text
    assert "EUR" not in html.split("LOYAL-2", 2)[2].split("</tr>")[0]  # points stay points
    assert ">12/31/2030</span>" in html and "11 p.m." in html  # the time in the title


def test_a_sync_error_is_a_mark_beside_the_code_and_a_filter(admin_client, sandbox, mirrored):
    """The "last error key" column (mostly "-") pushed the list off-screen at 1280 px: the error
    is a mark with the key in its title, and the filter finds every voucher that has one."""
    mirrored("FINE-1", "BROKEN-1")
    Voucher.objects.filter(code="BROKEN-1").update(last_error_key="rate_limited")
    html = admin_client.get(CHANGELIST).content.decode()
    assert 'title="Last Voucherify error: rate_limited">⚠</span>' in html
    assert html.count("Last Voucherify error:") == 1 and "column-last_error_key" not in html
    listed = admin_client.get(CHANGELIST, {"last_error_key__isempty": "0"}).context["cl"].result_list
    assert [v.code for v in listed] == ["BROKEN-1"]
