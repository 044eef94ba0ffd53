"""The one confirmation page of the admin's actions on Voucherify objects (vouchers, campaigns).

First POST (from the changelist): a page listing the selected objects (the first
:data:`CONFIRM_LIST_LIMIT` of a larger selection, with the count) and what will change for each.
Confirming posts the same action back with ``post=yes`` and the count shown
(``confirmed_count``); :func:`selection_changed` tells the action that the selection moved
meanwhile: its count, and when every selected object was listed, which ones
(``confirmed_digest``: the same count of other objects is not what was confirmed).
"Select all N" (``select_across``) is confirmed by posting ``select_across`` back to the same
URL (the changelist's filters are in its query string), never one hidden input per object:
thousands of inputs would exceed ``DATA_UPLOAD_MAX_NUMBER_FIELDS``. A selection larger than the
page lists is fingerprinted by aggregates of its primary keys (count, smallest, largest, sum):
the filters are evaluated again on the confirming POST, and one object that stopped matching
plus a new one that started (a redemption rolled back elsewhere, a new customer's checkout)
kept the count, so the new one was acted on unseen.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Count, Max, Min, Model, QuerySet, Sum
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _

TEMPLATE = "admin/django_voucherify/action_confirmation.html"
#: Objects listed by name on the confirmation page; a larger selection shows these and a count.
CONFIRM_LIST_LIMIT = 100


#: Primary keys whose aggregates fingerprint a selection larger than the page lists.
_INTEGER_KEYS = ("AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField")


def digest(queryset: QuerySet[Any]) -> str:
    """A fingerprint of which objects ``queryset`` selects: its pks when the confirmation page
    lists them all; else (integer pks) their count, smallest, largest and sum, one aggregate
    query: a new object (a larger pk) swapped for one that left changes the sum. "" when it
    cannot be told (a larger selection of another kind of pk: compared by its count only)."""
    pks = sorted(str(pk) for pk in queryset.order_by().values_list("pk", flat=True)[: CONFIRM_LIST_LIMIT + 1])
    if len(pks) > CONFIRM_LIST_LIMIT:
        if queryset.model._meta.pk.get_internal_type() not in _INTEGER_KEYS:
            return ""
        found = queryset.order_by().aggregate(n=Count("pk"), low=Min("pk"), high=Max("pk"), total=Sum("pk"))
        pks = ["across", *(str(found[key]) for key in ("n", "low", "high", "total"))]
    return hashlib.sha256("\n".join(pks).encode()).hexdigest()[:32]


def _posted_count(request: HttpRequest) -> int | None:
    """The ``confirmed_count`` posted back: None when absent; -1 when it is no plain number of
    ASCII digits the page could have written (``²``, an Arabic-Indic digit pass ``isdigit()``; thousands of
    digits make ``int()`` raise): a form not of this page, never confirmed."""
    posted = request.POST.get("confirmed_count", "")
    if not posted:
        return None
    if not (posted.isascii() and posted.isdigit() and len(posted) <= 18):
        return -1
    return int(posted)


def confirmation_page(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    action_label: str,
    order_by: str,
    headers: Sequence[str],
    row: Callable[[Any], Sequence[Any]],
    intro: Callable[[int], str],
    not_listed: Callable[[int], str],
    table_id: str,
    warning: str = "",
    template: str = TEMPLATE,
) -> TemplateResponse:
    """What the action will change: ``row(obj)`` per listed object under ``headers``;
    ``intro(count)`` above the table, ``not_listed(n)`` under it when n more are selected;
    ``template`` extends :data:`TEMPLATE` (its ``extra_fields`` block: a rollback's reason)."""
    select_across = request.POST.get("select_across") == "1"
    count = queryset.count()
    shown: list[Model] = list(queryset.order_by(order_by)[:CONFIRM_LIST_LIMIT])
    # Ticked rows (one changelist page at most) are posted back as they came; "select all"
    # posts back one pk (Django dispatches a confirmation only with one) and select_across.
    pks = [o.pk for o in shown[:1]] if select_across else list(queryset.values_list("pk", flat=True))
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Are you sure?"),
        "opts": model_admin.opts,
        "action_name": request.POST.get("action", ""),
        "action_label": action_label,
        "intro": intro(count),
        "headers": headers,
        "rows": [row(o) for o in shown],
        "table_id": table_id,
        "count": count,
        "not_listed": not_listed(count - len(shown)) if count > len(shown) else "",
        "selected_pks": pks,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "select_across": "1" if select_across else "0",
        # The confirmation is of these objects, not of any as many (see digest()).
        "digest": digest(queryset),
        "warning": warning,
        "back_url": _changelist_as_it_was(model_admin, request),
    }
    return TemplateResponse(request, template, context)


def left_as_they_are(selected: int, changing: int, say: Callable[[int], str]) -> str:
    """The page's note on the selected objects the action leaves as they are (events not
    parked, redemptions that cannot be rolled back, vouchers already in the asked state):
    ``say(n)`` when n of the ``selected`` are not among the ``changing``, else "". The
    headline counts only the ``changing`` ones: "these 279 will change" above rows that
    mostly read "stays as it is" told staff the wrong count."""
    left = selected - changing
    return say(left) if left > 0 else ""


def _changelist_as_it_was(model_admin: admin.ModelAdmin[Any], request: HttpRequest) -> str:
    """The changelist with the search and filters the action was chosen on: actions are posted
    to the changelist's URL with its query string ("No, take me back" opened the whole list)."""
    opts = model_admin.opts
    url = reverse(f"{model_admin.admin_site.name}:{opts.app_label}_{opts.model_name}_changelist")
    return f"{url}?{request.GET.urlencode()}" if request.GET else url


def selection_changed(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    count: int,
    message: Callable[[str, int], str],
    queryset: QuerySet[Any] | None = None,
) -> bool:
    """True (and ``message(count confirmed, count now)`` shown as a warning) when the count
    confirmed on the page differs from the selection now (or is no count the page wrote), or
    (``queryset`` given) the same count of other objects is selected now (a tier removed and
    another added by a refresh meanwhile; a redemption rolled back elsewhere and a new one
    matching the filter): nothing should be done then."""
    confirmed = _posted_count(request)
    changed = confirmed is not None and confirmed != count
    fingerprint = request.POST.get("confirmed_digest", "")
    if not changed and queryset is not None and fingerprint:
        changed = fingerprint != digest(queryset)
    if changed:
        shown = str(count) if confirmed is None else "?" if confirmed < 0 else str(confirmed)
        model_admin.message_user(request, message(shown, count), messages.WARNING)
    return changed
