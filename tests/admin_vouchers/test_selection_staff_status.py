"""A "select all" voucher action runs in Celery chunk by chunk, each rebuilding the selection
with its user's permissions checked again. The admin's own door is ``is_active and is_staff``
(``AdminSite.has_permission``); the task checked ``is_active`` and the model permission only,
so a clerk whose staff status was withdrawn mid-run (a leaver) kept disabling or deleting
vouchers for the rest of the selection (the admin review)."""

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
