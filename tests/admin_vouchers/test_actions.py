"""Enable, disable, delete, delete permanently: confirmation, per-voucher results, 429, Celery."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from django_voucherify import client
from django_voucherify.models import Voucher
from tests.support.admin import post_action

pytestmark = pytest.mark.django_db
# Requests commit as in production (no test transaction around them): the task is queued when
# the request's transaction commits, and the page's message is written then.
committing = pytest.mark.django_db(transaction=True)
CHANGELIST = reverse("admin:django_voucherify_voucher_changelist")


def act(http, action, vouchers, confirm=True):
    confirmed = {"post": "yes"} if confirm else {}
    return post_action(http, CHANGELIST, action, vouchers, follow=confirm, **confirmed)


def messages_of(resp):
    return [str(m) for m in resp.context["messages"]]


@pytest.mark.parametrize(
    ("action", "change"),
    [
        ("disable_selected", "active → inactive"),
        ("enable_selected", "already active, stays active"),
        ("delete_selected_remote", "moved to Voucherify's bin"),
        ("delete_permanently_selected", "cannot be undone"),
    ],
)
def test_every_action_asks_for_confirmation_first(admin_client, sandbox, mirrored, action, change):
    vouchers = mirrored("C-1", "C-2")
    sandbox.calls.calls.clear()
    page = act(admin_client, action, vouchers, confirm=False)
    html = page.content.decode().replace("&#x27;", "'")
    assert page.status_code == 200 and "C-1" in html and "C-2" in html and change in html
    assert sandbox.calls.calls == []  # nothing sent before confirmation
    assert all(sandbox.state.vouchers[c]["active"] for c in ("C-1", "C-2"))


def test_disable_then_enable(admin_client, sandbox, mirrored):
    vouchers = mirrored("D-1", "D-2")
    resp = act(admin_client, "disable_selected", vouchers)
    assert "Disable: done for D-1, D-2." in messages_of(resp)
    assert not sandbox.state.vouchers["D-1"]["active"] and not Voucher.objects.get(code="D-2").active
    resp = act(admin_client, "enable_selected", vouchers)
    assert "Enable: done for D-1, D-2." in messages_of(resp)
    assert sandbox.state.vouchers["D-2"]["active"] and Voucher.objects.get(code="D-1").active


def test_delete_to_bin_keeps_code_taken_and_permanent_frees_it(admin_client, sandbox, mirrored):
    (a,) = mirrored("BIN-1")
    (b,) = mirrored("PERM-1")
    act(admin_client, "delete_selected_remote", [a])
    act(admin_client, "delete_permanently_selected", [b])
    assert "BIN-1" in sandbox.state.bin and "PERM-1" not in sandbox.state.bin
    assert not Voucher.objects.exists()
    client.vouchers.create("PERM-1", {"type": "GIFT_VOUCHER", "gift": {"amount": 1}})  # code free again


def test_voucher_deleted_meanwhile_gets_its_own_error(admin_client, sandbox, mirrored):
    vouchers = mirrored("OK-1", "GONE-1", "OK-2")
    client.vouchers.delete("GONE-1", force=True)
    msgs = messages_of(act(admin_client, "disable_selected", vouchers))
    assert "Disable: done for OK-1, OK-2." in msgs
    (error,) = [m for m in msgs if "GONE-1" in m]
    assert "Disable failed for GONE-1: Voucherify has no such voucher" in error and "request id" in error
    assert not Voucher.objects.filter(code="GONE-1").exists()  # the stale mirror is gone


def test_short_429_is_waited_out_in_the_request(admin_client, sandbox, mirrored):
    vouchers = mirrored("R-1", "R-2", "R-3")
    rule = sandbox.faults.add(path="/v1/vouchers/R-2/disable", status=429, retry_after=0.01, times=2)
    msgs = messages_of(act(admin_client, "disable_selected", vouchers))
    assert msgs == ["Disable: done for R-1, R-2, R-3."] and rule.hits == 2
    assert not any(sandbox.state.vouchers[c]["active"] for c in ("R-1", "R-2", "R-3"))


@committing
def test_long_429_hands_the_rest_to_celery(admin_client, sandbox, mirrored):
    vouchers = mirrored("L-1", "L-2", "L-3")
    sandbox.faults.add(path="/v1/vouchers/L-2/disable", status=429, retry_after=60, times=1)
    msgs = messages_of(act(admin_client, "disable_selected", vouchers))
    assert "Disable: done for L-1." in msgs
    assert any("continues in the background in 60.0 s" in m and "L-2, L-3" in m for m in msgs)
    # eager Celery ran the hand-over at once: the rest is done
    assert not any(sandbox.state.vouchers[c]["active"] for c in ("L-1", "L-2", "L-3"))


@committing
def test_large_selection_runs_in_celery_with_per_voucher_errors(
    admin_client, sandbox, mirrored, voucherify_settings
):
    vouchers = mirrored("B-1", "B-2", "B-3")
    sandbox.faults.add(path="/v1/vouchers/B-3/disable", status=400, key="invalid_payload", times=1)
    sandbox.faults.add(path="/v1/vouchers/B-1/disable", status=429, retry_after=30, times=1)
    with voucherify_settings(VOUCHER_ACTION_INLINE_LIMIT=2):
        msgs = messages_of(act(admin_client, "disable_selected", vouchers))
    assert any("of 3 vouchers runs in the background" in m for m in msgs)
    assert not sandbox.state.vouchers["B-1"]["active"] and not sandbox.state.vouchers["B-2"]["active"]
    failed = Voucher.objects.get(code="B-3")
    assert failed.active and failed.last_error_key == "invalid_payload" and failed.last_request_id
    page = admin_client.get(CHANGELIST).content.decode()
    assert "invalid_payload" in page


def test_staff_without_custom_permissions_cannot_run_actions(client, sandbox, mirrored):
    vouchers = mirrored("P-1")
    staff = User.objects.create_user("clerk", password="pw", is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_voucher", "change_voucher", "add_voucher"])
    )
    client.force_login(staff)
    page = client.get(CHANGELIST).content.decode()
    assert "P-1" in page and "disable_selected" not in page and "delete_permanently_selected" not in page
    for action in (
        "enable_selected",
        "disable_selected",
        "delete_selected_remote",
        "delete_permanently_selected",
    ):
        act(client, action, vouchers)
    assert sandbox.state.vouchers["P-1"]["active"] and Voucher.objects.filter(code="P-1").exists()
    assert not [c for c in sandbox.calls.calls if c[0] in ("DELETE",) or "able" in c[1]]

    staff.user_permissions.add(Permission.objects.get(codename="change_voucher_state"))
    staff = User.objects.get(pk=staff.pk)  # drop the permission cache
    client.force_login(staff)
    act(client, "disable_selected", vouchers)
    assert not sandbox.state.vouchers["P-1"]["active"]
    act(client, "delete_selected_remote", vouchers)  # still lacks delete_voucher_remote
    assert "P-1" in sandbox.state.vouchers


def test_no_take_me_back_returns_to_the_filtered_list(admin_client, sandbox, mirrored):
    """The demo walked as staff: search "SPRING-", select all, Disable, then "No, take me back"
    opened the whole unfiltered list (the search and filters the action was chosen on were
    lost). The link now returns to the list as it was."""
    vouchers = mirrored("BACK-1", "BACK-2")
    page = post_action(admin_client, CHANGELIST + "?q=BACK-&active__exact=1", "disable_selected", vouchers)
    html = page.content.decode()
    assert f'<a href="{CHANGELIST}?q=BACK-&amp;active__exact=1" class="button cancel-link">' in html
    plain = post_action(admin_client, CHANGELIST, "disable_selected", vouchers).content.decode()
    assert f'<a href="{CHANGELIST}" class="button cancel-link">' in plain


def test_the_breadcrumb_returns_to_the_filtered_list(admin_client, sandbox, mirrored):
    """The confirmation page's breadcrumb linked the whole unfiltered list while "No, take me
    back" kept the search and filters: both return to the list as it was."""
    vouchers = mirrored("CRUMB-1", "CRUMB-2")
    page = post_action(admin_client, CHANGELIST + "?q=CRUMB-&active__exact=1", "disable_selected", vouchers)
    crumbs = page.content.decode().split('class="breadcrumbs"', 1)[1].split("</ol>", 1)[0]
    assert f'<a href="{CHANGELIST}?q=CRUMB-&amp;active__exact=1">Vouchers</a>' in crumbs
    plain = post_action(admin_client, CHANGELIST, "disable_selected", vouchers).content.decode()
    assert f'<a href="{CHANGELIST}">Vouchers</a>' in plain.split('class="breadcrumbs"', 1)[1]


def test_enable_confirmation_counts_only_the_vouchers_that_change(admin_client, sandbox, mirrored):
    """Walked as a new user: "select all", Enable, and the page said "these 3 vouchers will
    change in Voucherify" above rows reading "already active, stays active". The headline counts
    the vouchers that change; a note says how many stay as they are (as the webhook reprocess
    page does)."""
    vouchers = mirrored("STAY-1", "STAY-2", "STAY-3")
    Voucher.objects.filter(code="STAY-3").update(active=False)
    page = post_action(
        admin_client, CHANGELIST + "?q=STAY-", "enable_selected", vouchers[:1], select_across="1"
    )
    html = page.content.decode()
    assert "Enable: this voucher will change in Voucherify:" in html
    assert "these 3 vouchers" not in html
    assert "2 selected vouchers are already active and are left as they are." in html
    Voucher.objects.filter(code="STAY-3").update(active=True)
    page = post_action(admin_client, CHANGELIST, "enable_selected", vouchers)
    html = page.content.decode()
    assert "Enable: none of the selected vouchers will change in Voucherify." in html
    assert "3 selected vouchers are already active and are left as they are." in html
    disable = post_action(admin_client, CHANGELIST, "disable_selected", vouchers).content.decode()
    assert "these 3 vouchers will change" in disable and "left as" not in disable
