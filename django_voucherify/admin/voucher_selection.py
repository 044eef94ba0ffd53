"""The vouchers an admin action runs on in Celery: a list of codes, or a described changelist.

A selection is a small JSON-serialisable dict, one of two kinds:

- ``{"codes": [...], "user": pk, "site": admin site name}``: an explicit list, as short as a
  changelist page (the ticked rows) or the vouchers a long 429 left over in the admin request.
  Each chunk, and each retry after a 429, checks its user again as a changelist's does (active,
  staff, the action's permission: :func:`user_may`): a clerk whose staff status was withdrawn
  while the run waited out Voucherify's rate limit acts on no further voucher. Its site is not
  looked up (a list rebuilds no changelist): one renamed since the run was queued does not stop
  it. A list without a user (queued by 0.1.0, or built by :func:`of_codes` alone in code that is
  no admin request) runs unchecked, as it did;
- ``{"changelist": query string, "user": pk, "site": admin site name}``: Django's "select all
  N vouchers" (``select_across``), however large. Its filters and search live in the
  changelist URL's query string, so rather than listing every code in one broker message (or
  every pk in the confirmation page, which past ``DATA_UPLOAD_MAX_NUMBER_FIELDS`` makes the
  confirming POST a 400), :func:`next_chunk` rebuilds the queryset with the same
  ``ModelAdmin.get_changelist_instance`` the page used, with that user's permissions and staff
  status (active and staff, the admin's own door) checked again. The filters are evaluated again
  for each chunk: a voucher that stopped (or started) matching meanwhile is left out (or
  included), as Django's own actions on ``select_across`` do.

Messages queued by 0.1.0 may still hold ``{"pks": [...]}`` (ticked rows by primary key); they
are read like a changelist selection for one release.

A selection is run in chunks (:class:`Chunk`): each says where the selection goes on after it
and where it starts again at any of its vouchers, so a task resumes at the voucher a long 429
stopped it at without sending the ones already done again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.admin import ModelAdmin
from django.contrib.admin.sites import all_sites
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, QueryDict

from ..models import Voucher

if TYPE_CHECKING:
    from ..vouchers.actions import Action

Selection = dict[str, Any]
#: Where a run goes on: the selection left and, for a changelist, the last pk done.
Cursor = tuple[Selection, int]


def of_codes(codes: list[str], owner: Selection | None = None) -> Selection:
    """An explicit selection: exactly these codes, in this order, run for ``owner`` (an
    :func:`owner`: checked again at each chunk) if given."""
    return {"codes": list(codes), **(owner or {})}


def owner(model_admin: ModelAdmin[Voucher], request: HttpRequest) -> Selection:
    """Who a selection runs for: the request's user on this admin site, checked at each chunk."""
    return {"user": request.user.pk, "site": model_admin.admin_site.name}


def describe(
    model_admin: ModelAdmin[Voucher],
    request: HttpRequest,
    queryset: QuerySet[Voucher],
) -> Selection:
    """The selection an action was confirmed for: the changelist for "select all", else its codes."""
    if request.POST.get("select_across") == "1":
        return {"changelist": request.GET.urlencode(), **owner(model_admin, request)}
    return of_codes(list(queryset.order_by("pk").values_list("code", flat=True)), owner(model_admin, request))


@dataclass(frozen=True)
class Chunk:
    """The next vouchers of a selection, and how the run goes on from them."""

    codes: list[str]
    #: Where to start again at ``codes[index]`` (the first voucher not done), chunk and rest.
    resume_at: Callable[[int], Cursor]
    #: Where the next chunk starts; ``None`` when this chunk ends the selection.
    following: Cursor | None


def next_chunk(selection: Selection, action: Action, after_pk: int, size: int) -> Chunk:
    """Up to ``size`` vouchers of ``selection`` past ``after_pk`` (a changelist's cursor).

    PermissionDenied if the selection's user may no longer run ``action``.
    """
    if "codes" in selection:
        codes = [str(code) for code in selection["codes"]]
        who: Selection = {key: selection[key] for key in ("user", "site") if key in selection}
        if "user" in who:
            # The user only: a list names its vouchers, no site's changelist is rebuilt, so a
            # site renamed (or gone) since the run was queued must not fail it.
            user_may(who["user"], action)
        return Chunk(
            codes=codes[:size],
            resume_at=lambda index: (of_codes(codes[index:], who), 0),
            following=(of_codes(codes[size:], who), 0) if len(codes) > size else None,
        )
    rows = chunk_after(resolve(selection, action), after_pk, size)
    return Chunk(
        codes=[code for _, code in rows],
        resume_at=lambda index: (selection, rows[index - 1][0] if index else after_pk),
        following=(selection, rows[-1][0]) if len(rows) == size else None,
    )


def resolve(selection: Selection, action: Action) -> QuerySet[Voucher]:
    """The vouchers of a changelist selection now; PermissionDenied if its user may no longer act."""
    if "pks" in selection:  # queued by 0.1.0: ticked rows by primary key
        return Voucher.objects.filter(pk__in=selection["pks"])
    model_admin, request = authorised(selection, action)
    request.GET = QueryDict(selection["changelist"])
    if not model_admin.has_view_or_change_permission(request):
        raise PermissionDenied(f"user {selection['user']} may not see vouchers")
    changelist = model_admin.get_changelist_instance(request)
    return changelist.get_queryset(request)


def authorised(selection: Selection, action: Action) -> tuple[ModelAdmin[Voucher], HttpRequest]:
    """The voucher admin of the selection's site and a GET request of its user, who is still
    active and staff and holds ``action``'s permission; else PermissionDenied.
    """
    user = user_may(selection["user"], action)
    model_admin = _voucher_admin(str(selection["site"]))
    request = HttpRequest()
    request.method = "GET"
    request.user = user
    return model_admin, request


def user_may(pk: Any, action: Action) -> Any:
    """The user ``pk`` if still active staff holding ``action``'s permission; else PermissionDenied.

    The admin's own door (active and staff): a clerk whose staff status was withdrawn mid-run
    keeps his permissions, and must not act on for the chunks left. The user's flags, not the
    site's has_permission: a site's door may read what middleware puts on a live request
    (django-otp's is_verified(), checked when the action was confirmed), which a request built
    in Celery has not: AttributeError, every chunk failed.
    """
    user = get_user_model().objects.filter(pk=pk).first()
    if user is None:
        raise PermissionDenied(f"user {pk} no longer exists")
    if not user.is_active or not user.has_perm(f"django_voucherify.{action.permission}"):
        raise PermissionDenied(f"user {pk} may not {action.value} vouchers")
    if not user.is_staff:
        raise PermissionDenied(f"user {pk} is no longer staff")
    return user


def _voucher_admin(site_name: str) -> ModelAdmin:  # type: ignore[type-arg]
    for site in all_sites:
        if site.name == site_name and site.is_registered(Voucher):
            return site.get_model_admin(Voucher)
    raise LookupError(f"no admin site {site_name!r} with vouchers registered")


def chunk_after(queryset: QuerySet[Voucher], after_pk: int, size: int) -> list[tuple[int, str]]:
    """The next ``size`` (pk, code) pairs past ``after_pk``: a cursor that deletions cannot shift."""
    rows = queryset.filter(pk__gt=after_pk).order_by("pk").values_list("pk", "code")[:size]
    return [(int(pk), str(code)) for pk, code in rows]
