"""The one confirmation page of the admin's actions on Voucherify objects (vouchers, campaigns).

First POST (from the changelist): a page listing the selected objects (the first
:data:`CONFIRM_LIST_LIMIT` of a larger selection, with the count) and what will change for each.
Confirming posts the same action back with ``post=yes`` and the count shown
(``confirmed_count``); :func:`selection_changed` tells the action that the selection moved
meanwhile: its count, and when every selected object was listed, which ones
(``confirmed_digest``: the same count of other objects is not what was confirmed).
"Select all N" (``select_across``) is confirmed by posting ``select_across`` back to the same
URL (the changelist's filters are in its query string), never one hidden input per object:
thousands of inputs would exceed ``DATA_UPLOAD_MAX_NUMBER_FIELDS``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

TEMPLATE = "admin/django_voucherify/action_confirmation.html"
#: Objects listed by name on the confirmation page; a larger selection shows these and a count.
CONFIRM_LIST_LIMIT = 100


def digest(queryset: QuerySet[Any]) -> str:
    """A fingerprint of which objects ``queryset`` selects (pks, at most one more than a
    confirmation page lists: only a fully listed selection is compared this way)."""
    pks = sorted(str(pk) for pk in queryset.order_by().values_list("pk", flat=True)[: CONFIRM_LIST_LIMIT + 1])
    return hashlib.sha256("\n".join(pks).encode()).hexdigest()[:32]


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
        # Every selected object is listed: the confirmation is of these, not of any as many.
        "digest": digest(queryset) if count <= CONFIRM_LIST_LIMIT else "",
        "warning": warning,
    }
    return TemplateResponse(request, template, context)


def selection_changed(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    count: int,
    message: Callable[[str, int], str],
    queryset: QuerySet[Any] | None = None,
) -> bool:
    """True (and ``message(count confirmed, count now)`` shown as a warning) when the count
    confirmed on the page differs from the selection now, or (``queryset`` given, every object
    listed on the page) the same count of other objects is selected now (a tier removed and
    another added by a refresh meanwhile): nothing should be done then."""
    confirmed = request.POST.get("confirmed_count", "")
    changed = confirmed.isdigit() and int(confirmed) != count
    fingerprint = request.POST.get("confirmed_digest", "")
    if not changed and queryset is not None and fingerprint and count <= CONFIRM_LIST_LIMIT:
        changed = fingerprint != digest(queryset)
    if changed:
        model_admin.message_user(request, message(confirmed or str(count), count), messages.WARNING)
    return changed
