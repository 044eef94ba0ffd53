"""A "select all" voucher action runs in Celery chunk by chunk, each rebuilding the selection
with its user's permissions checked again. The admin's own door is ``is_active and is_staff``
(``AdminSite.has_permission``); the task checked ``is_active`` and the model permission only,
so a clerk whose staff status was withdrawn mid-run (a leaver) kept disabling or deleting
vouchers for the rest of the selection (the admin review). A list of codes (a ticked page, what a
429 left over) carried no user at all: it now carries one, checked the same way."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User

from django_voucherify.admin import voucher_tasks

pytestmark = pytest.mark.django_db


def _clerk(*codenames: str, is_staff: bool) -> User:
    user = User.objects.create_user("leaver", password="pw", is_staff=is_staff)
    perms = Permission.objects.filter(content_type__app_label="django_voucherify", codename__in=codenames)
    user.user_permissions.add(*perms)
    return user


@pytest.mark.parametrize("is_staff", [True, False], ids=["staff", "staff status withdrawn"])
def test_a_selection_runs_only_while_its_user_is_still_staff(sandbox, mirrored, is_staff):
    vouchers = mirrored("S-1", "S-2", category="leaver")
    user = _clerk("view_voucher", "change_voucher_state", is_staff=is_staff)
    selection = {"changelist": "category=leaver", "user": user.pk, "site": "admin"}
    posts = sandbox.calls.count("POST")
    voucher_tasks.run_voucher_action.apply(args=("disable", selection))
    disabled = [not sandbox.state.vouchers[v.code]["active"] for v in vouchers]
    if is_staff:
        assert all(disabled)
    else:
        assert not any(disabled) and sandbox.calls.count("POST") == posts  # nothing sent


@pytest.fixture
def withdrawn_after_first_run(monkeypatch):
    """``withdrawn_after_first_run(user)``: the user's staff status is withdrawn (permissions
    kept) once the task has run its first chunk (or its first attempt, when a 429 cut it)."""

    def arm(user: User) -> None:
        original = voucher_tasks.actions.run

        def run_then_withdraw(*args, **kwargs):
            try:
                return original(*args, **kwargs)
            finally:
                User.objects.filter(pk=user.pk).update(is_staff=False)

        monkeypatch.setattr(voucher_tasks.actions, "run", run_then_withdraw)

    return arm


def test_a_list_of_codes_stops_at_the_next_chunk_when_its_user_is_no_longer_staff(
    sandbox, mirrored, monkeypatch, withdrawn_after_first_run
):
    # A ticked page past VOUCHER_ACTION_INLINE_LIMIT runs as a list of codes: it carried no
    # user, so its chunks went on for a clerk whose staff status was withdrawn.
    mirrored("L-1", "L-2", "L-3")
    user = _clerk("view_voucher", "change_voucher_state", is_staff=True)
    monkeypatch.setattr(voucher_tasks, "SELECTION_CHUNK", 1)
    withdrawn_after_first_run(user)
    selection = {"codes": ["L-1", "L-2", "L-3"], "user": user.pk, "site": "admin"}
    voucher_tasks.run_voucher_action.apply(args=("disable", selection))
    active = {code: sandbox.state.vouchers[code]["active"] for code in ("L-1", "L-2", "L-3")}
    assert active == {"L-1": False, "L-2": True, "L-3": True}
    assert not any("/L-2/" in call or "/L-3/" in call for call in map(str, sandbox.calls.calls))


def test_what_a_429_left_over_stops_at_its_retry_when_its_user_is_no_longer_staff(
    sandbox, mirrored, withdrawn_after_first_run
):
    # The vouchers a long 429 leaves over are retried after Voucherify's Retry-After: the
    # clerk may have left meanwhile.
    mirrored("W-1", "W-2")
    user = _clerk("view_voucher", "change_voucher_state", is_staff=True)
    sandbox.faults.add(path="/v1/vouchers/W-2/disable", status=429, retry_after=1, times=1)
    withdrawn_after_first_run(user)
    selection = {"codes": ["W-1", "W-2"], "user": user.pk, "site": "admin"}
    voucher_tasks.run_voucher_action.apply(args=("disable", selection))
    assert sandbox.state.vouchers["W-1"]["active"] is False
    assert sandbox.state.vouchers["W-2"]["active"] is True
    assert sum("/W-2/" in str(call) for call in sandbox.calls.calls) == 1  # the 429, not again


def test_the_admin_queues_a_ticked_page_and_a_429_rest_with_its_user(
    client, sandbox, mirrored, voucherify_settings, monkeypatch, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    from tests.support.admin import post_action

    queued: list = []
    monkeypatch.setattr(
        voucher_tasks.run_voucher_action, "apply_async", lambda args=None, **kw: queued.append(args)
    )
    vouchers = mirrored("Q-1", "Q-2")
    user = _clerk("view_voucher", "change_voucher_state", is_staff=True)
    client.force_login(user)
    changelist = reverse("admin:django_voucherify_voucher_changelist")
    owner = {"user": user.pk, "site": "admin"}
    with voucherify_settings(VOUCHER_ACTION_INLINE_LIMIT=1), django_capture_on_commit_callbacks(execute=True):
        post_action(client, changelist, "disable_selected", vouchers, post="yes")
    sandbox.faults.add(path="/v1/vouchers/Q-2/enable", status=429, retry_after=60, times=1)
    with django_capture_on_commit_callbacks(execute=True):
        post_action(client, changelist, "enable_selected", vouchers, post="yes")
    assert queued == [
        ("disable", {"codes": ["Q-1", "Q-2"], **owner}),
        ("enable", {"codes": ["Q-2"], **owner}),
    ]


def test_a_site_whose_door_needs_the_request_still_runs_the_selection(sandbox, mirrored):
    """Review s1: the chunk checked ``AdminSite.has_permission`` on the request it builds for
    the changelist. A site whose door reads what middleware puts on a live request (django-otp's
    ``OTPAdminSite``: ``request.user.is_verified()``, a shop's usual admin 2FA) raised
    AttributeError in Celery, so every "select all" voucher action failed on such a site. The
    chunk checks the user's own staff status (active and staff), what the request's door
    checked when the action was confirmed."""
    from django.contrib.admin import AdminSite, site

    from django_voucherify.models import Voucher

    class OTPAdminSite(AdminSite):
        def has_permission(self, request):
            return super().has_permission(request) and request.user.is_verified()

    otp_site = OTPAdminSite(name="otp-review-s1")
    otp_site.register(Voucher, type(site.get_model_admin(Voucher)))
    vouchers = mirrored("O-1", "O-2", category="otp")
    user = _clerk("view_voucher", "change_voucher_state", is_staff=True)
    selection = {"changelist": "category=otp", "user": user.pk, "site": otp_site.name}
    voucher_tasks.run_voucher_action.apply(args=("disable", selection))
    assert all(not sandbox.state.vouchers[v.code]["active"] for v in vouchers)


def test_a_list_of_codes_runs_when_its_admin_site_was_renamed_since_it_was_queued(sandbox, mirrored):
    """Review l2: a list of codes carries its admin site, but checks only its user (no site's
    changelist is rebuilt for a list). Every chunk looked the site up all the same: a deploy
    renaming the admin site (``AdminSite(name=...)``) while the run waited out a 429 failed it
    with LookupError, the vouchers left never done."""
    vouchers = mirrored("R-1", "R-2")
    user = _clerk("view_voucher", "change_voucher_state", is_staff=True)
    selection = {"codes": ["R-1", "R-2"], "user": user.pk, "site": "renamed-since"}
    voucher_tasks.run_voucher_action.apply(args=("disable", selection), throw=True)
    assert all(not sandbox.state.vouchers[v.code]["active"] for v in vouchers)


@pytest.mark.parametrize("gone", ["staff status withdrawn", "user deleted"])
def test_a_list_stopped_for_its_user_says_so_on_each_voucher_left_and_in_the_log(
    sandbox, mirrored, monkeypatch, withdrawn_after_first_run, caplog, gone
):
    """Review l2: a run refused at a chunk or a retry (its user deleted, or no longer staff)
    raised PermissionDenied out of the task: a Celery traceback, nothing on the vouchers left
    (where the admin shows a background run's failures, as it does for a run giving up on 429s)
    and nothing in the app's log, so staff could not tell which vouchers were never done."""
    from django_voucherify.models import Voucher

    mirrored("N-1", "N-2", "N-3")
    user = _clerk("view_voucher", "change_voucher_state", is_staff=True)
    monkeypatch.setattr(voucher_tasks, "SELECTION_CHUNK", 1)
    if gone == "user deleted":
        original = voucher_tasks.actions.run

        def run_then_delete(*args, **kwargs):
            try:
                return original(*args, **kwargs)
            finally:
                User.objects.filter(pk=user.pk).delete()

        monkeypatch.setattr(voucher_tasks.actions, "run", run_then_delete)
    else:
        withdrawn_after_first_run(user)
    selection = {"codes": ["N-1", "N-2", "N-3"], "user": user.pk, "site": "admin"}
    with caplog.at_level("WARNING", logger="django_voucherify.vouchers"):
        voucher_tasks.run_voucher_action.apply(args=("disable", selection), throw=True)
    keys = dict(Voucher.objects.values_list("code", "last_error_key"))
    assert keys == {"N-1": "", "N-2": "not_permitted", "N-3": "not_permitted"}
    assert sandbox.state.vouchers["N-2"]["active"] and sandbox.state.vouchers["N-3"]["active"]
    assert any("disable stopped, 2 voucher(s) not done" in r.getMessage() for r in caplog.records)


def test_a_list_queued_without_a_user_by_the_previous_version_still_runs_to_its_end(
    sandbox, mirrored, monkeypatch
):
    """Review l2: messages already in a shop's broker at the upgrade hold ``{"codes": [...]}``
    without a user or site. They run unchecked as they did, their 429 retry too (the codes left
    are requeued without an owner made up for them)."""
    mirrored("P-1", "P-2")
    retried: list = []
    original = voucher_tasks.run_voucher_action.retry

    def retry(*args, **kwargs):
        retried.append(kwargs.get("args"))
        return original(*args, **kwargs)

    monkeypatch.setattr(voucher_tasks.run_voucher_action, "retry", retry)
    sandbox.faults.add(path="/v1/vouchers/P-2/disable", status=429, retry_after=1, times=1)
    voucher_tasks.run_voucher_action.apply(args=("disable", {"codes": ["P-1", "P-2"]}))
    assert retried == [("disable", {"codes": ["P-2"]}, 0)]
    assert not sandbox.state.vouchers["P-1"]["active"] and not sandbox.state.vouchers["P-2"]["active"]


def test_a_select_all_run_whose_admin_site_is_gone_stops_with_a_warning(sandbox, mirrored, caplog):
    """Review l2: a "select all" run rebuilds its site's changelist, so a site renamed since it
    was queued must stop it: it raised LookupError out of the task (a Celery traceback); it now
    stops with a warning in the app's log, nothing sent."""
    mirrored("G-1", category="gone")
    user = _clerk("view_voucher", "change_voucher_state", is_staff=True)
    selection = {"changelist": "category=gone", "user": user.pk, "site": "renamed-since"}
    posts = sandbox.calls.count("POST")
    with caplog.at_level("WARNING", logger="django_voucherify.vouchers"):
        voucher_tasks.run_voucher_action.apply(args=("disable", selection), throw=True)
    assert sandbox.state.vouchers["G-1"]["active"] and sandbox.calls.count("POST") == posts
    assert any(
        "disable stopped, the rest of the selection not done: no admin site 'renamed-since'" in r.getMessage()
        for r in caplog.records
    )
