"""A voucher admin selection that a Celery task can rebuild, however large it is.

Django's "select all N vouchers" (``select_across``) is the changelist's queryset: its filters
and search live in the changelist URL's query string. Rather than listing every code in one
broker message (or every pk in the confirmation page, which past
``DATA_UPLOAD_MAX_NUMBER_FIELDS`` makes the confirming POST a 400), a selection is described by
that query string plus the user and admin site, and :func:`resolve` rebuilds the queryset with
the same ``ModelAdmin.get_changelist_instance`` the page used, with that user's permissions.
A selection of ticked rows (at most one changelist page) is kept as its primary keys.

The filters are evaluated again when the task runs: a voucher that stopped (or started)
matching meanwhile is left out (or included), as Django's own actions on ``select_across`` do.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin import ModelAdmin
from django.contrib.admin.sites import all_sites
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, QueryDict

from ..models import Voucher
from ..vouchers.actions import Action

Selection = dict[str, Any]


def describe(
    model_admin: ModelAdmin[Voucher],
    request: HttpRequest,
    queryset: QuerySet[Voucher],
) -> Selection:
    """The JSON-serialisable description of the selection an action was confirmed for."""
    if request.POST.get("select_across") == "1":
        return {
            "changelist": request.GET.urlencode(),
            "user": request.user.pk,
            "site": model_admin.admin_site.name,
        }
    return {"pks": list(queryset.order_by("pk").values_list("pk", flat=True))}


def resolve(selection: Selection, action: Action) -> QuerySet[Voucher]:
    """The vouchers of ``selection`` now; PermissionDenied if its user may no longer run ``action``."""
    if "pks" in selection:
        return Voucher.objects.filter(pk__in=selection["pks"])
    user = get_user_model().objects.filter(pk=selection["user"], is_active=True).first()
    if user is None or not user.has_perm(f"django_voucherify.{action.permission}"):
        raise PermissionDenied(f"user {selection['user']} may not {action.value} vouchers")
    model_admin = _voucher_admin(str(selection["site"]))
    request = HttpRequest()
    request.method = "GET"
    request.GET = QueryDict(selection["changelist"])
    request.user = user
    if not model_admin.has_view_or_change_permission(request):
        raise PermissionDenied(f"user {selection['user']} may not see vouchers")
    changelist = model_admin.get_changelist_instance(request)
    return changelist.get_queryset(request)


def _voucher_admin(site_name: str) -> ModelAdmin:  # type: ignore[type-arg]
    for site in all_sites:
        if site.name == site_name and site.is_registered(Voucher):
            return site.get_model_admin(Voucher)
    raise LookupError(f"no admin site {site_name!r} with vouchers registered")


def chunk_after(queryset: QuerySet[Voucher], after_pk: int, size: int) -> list[tuple[int, str]]:
    """The next ``size`` (pk, code) pairs past ``after_pk``: a cursor that deletions cannot shift."""
    rows = queryset.filter(pk__gt=after_pk).order_by("pk").values_list("pk", "code")[:size]
    return [(int(pk), str(code)) for pk, code in rows]
