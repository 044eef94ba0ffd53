"""The confirmation page (the admin's one page, :mod:`.confirmation`) and the run of the voucher
admin's actions.

First POST (from the changelist): a page listing the selected vouchers (the first
:data:`CONFIRM_LIST_LIMIT` of a larger selection, with the count) and what will change.
Second POST (``post=yes``): up to ``VOUCHER_ACTION_INLINE_LIMIT`` vouchers are done in the
request, one message per outcome; a larger selection, or the vouchers a long 429 left over, go
to the admin's Celery task (:mod:`.voucher_tasks`; failures then show on each voucher's row).
The task is queued when the request's transaction commits (at once without one), so a request
that fails and rolls back (``ATOMIC_REQUESTS``) leaves no background run behind; the message
saying so, or that the broker refused it, is written then too (still before Django's message
middleware stores the messages).

"Select all N" (``select_across``) is confirmed by posting ``select_across`` back to the same
URL (the changelist's filters are in its query string) with the count shown, never one hidden
input per voucher: a page of thousands of inputs would exceed ``DATA_UPLOAD_MAX_NUMBER_FIELDS``
and the confirmation would fail with a 400. A count that changed meanwhile asks again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.db import router, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ..conf import settings as voucherify_settings
from ..models import Voucher
from . import confirmation, voucher_selection

if TYPE_CHECKING:
    from ..vouchers import actions
    from ..vouchers.actions import Action

#: Vouchers listed by name on the confirmation page; a larger selection shows these and a count.
CONFIRM_LIST_LIMIT = confirmation.CONFIRM_LIST_LIMIT


def change_description(action: Action, voucher: Voucher) -> str:
    """What ``action`` will do to ``voucher``, for the confirmation page."""
    from ..vouchers.actions import Action

    if action == Action.ENABLE:
        return _("already active, stays active") if voucher.active else _("inactive → active")
    if action == Action.DISABLE:
        return _("active → inactive") if voucher.active else _("already inactive, stays inactive")
    if action == Action.DELETE:
        return _("moved to Voucherify's bin; the code stays taken until the bin is emptied")
    return _("deleted for good, also from the bin; the code becomes free again. This cannot be undone.")


def _queue_after_commit(
    model_admin: admin.ModelAdmin[Voucher],
    request: HttpRequest,
    action: Action,
    selection: voucher_selection.Selection,
    *,
    queued: tuple[str, int],
    refused: Callable[[str], str],
    countdown: float | None = None,
) -> None:
    """Queue ``selection`` for the task once the transaction commits, then tell the user how it went.

    ``queued`` is the message (and level) when the broker took it, ``refused(error)`` the
    error message when it did not: then nothing was sent to Voucherify and the page says so,
    never a 500.
    """

    def enqueue() -> None:
        # Imported here, not at the top: the task module imports Celery (tens of ms), which a web
        # process should only pay for when an admin actually queues a selection.
        from . import voucher_tasks

        try:
            voucher_tasks.run_voucher_action.apply_async(
                args=(action.value, selection), countdown=countdown or 0
            )
        except Exception as exc:  # broker down, or whatever the transport raises
            model_admin.message_user(request, refused(str(exc)), messages.ERROR)
            return
        model_admin.message_user(request, *queued)

    transaction.on_commit(enqueue, using=router.db_for_write(Voucher))


def changing(queryset: QuerySet[Voucher], action: Action) -> QuerySet[Voucher]:
    """The vouchers of ``queryset`` whose state ``action`` changes, as their mirrors say:
    enabling leaves the active ones as they are, disabling the inactive ones; deleting changes
    every one."""
    from ..vouchers.actions import Action

    if action == Action.ENABLE:
        return queryset.filter(active=False)
    if action == Action.DISABLE:
        return queryset.filter(active=True)
    return queryset


def _unchanged(action: Action, left: int) -> str:
    """How many selected vouchers ``action`` leaves as they are (see ``changing``)."""
    from ..vouchers.actions import Action

    if action == Action.ENABLE:
        text = ngettext(
            "%(counter)s selected voucher is already active and is left as it is.",
            "%(counter)s selected vouchers are already active and are left as they are.",
            left,
        )
    else:
        text = ngettext(
            "%(counter)s selected voucher is already inactive and is left as it is.",
            "%(counter)s selected vouchers are already inactive and are left as they are.",
            left,
        )
    return text % {"counter": left}


def _headline(action: Action, changed: int) -> str:
    if not changed:
        return _("%(action)s: none of the selected vouchers will change in Voucherify.") % {
            "action": action.label
        }
    return ngettext(
        "%(action)s: this voucher will change in Voucherify:",
        "%(action)s: these %(counter)s vouchers will change in Voucherify:",
        changed,
    ) % {"action": action.label, "counter": changed}


def confirmation_page(
    model_admin: admin.ModelAdmin[Voucher],
    request: HttpRequest,
    queryset: QuerySet[Voucher],
    action: Action,
) -> TemplateResponse:
    """What ``action`` will change, listing at most :data:`CONFIRM_LIST_LIMIT` vouchers. The
    headline counts only the vouchers whose state changes; the others ("already active, stays
    active") are counted in a note under it (the webhook reprocess page's
    :func:`~.confirmation.left_as_they_are`). They are still sent: the call changes nothing in
    Voucherify and refreshes a mirror that was stale."""
    count = queryset.count()
    changes = changing(queryset, action)
    changed = count if changes is queryset else changes.count()
    notes = [
        confirmation.left_as_they_are(count, changed, lambda left: _unchanged(action, left)),
        _("Permanent deletion cannot be undone.") if action == "delete_permanently" else "",
    ]
    return confirmation.confirmation_page(
        model_admin,
        request,
        queryset,
        action_label=action.label,
        order_by="code",
        headers=(_("Code"), _("Type"), _("Change")),
        row=lambda v: (v.code, v.get_type_display(), change_description(action, v)),
        intro=lambda count: _headline(action, changed),
        not_listed=lambda n: (
            ngettext(
                "…and %(counter)s more voucher matching the same filters.",
                "…and %(counter)s more vouchers matching the same filters.",
                n,
            )
            % {"counter": n}
        ),
        table_id="voucher-changes",
        warning=" ".join(note for note in notes if note),
    )


def run_action(
    model_admin: admin.ModelAdmin[Voucher],
    request: HttpRequest,
    queryset: QuerySet[Voucher],
    action: Action,
) -> HttpResponse | None:
    """Show the confirmation page, or (confirmed) run ``action`` and report per voucher."""
    if request.POST.get("post") != "yes":
        return confirmation_page(model_admin, request, queryset, action)
    count = queryset.count()
    changed = _(
        "The selection changed since the confirmation page (%(shown)s vouchers then, %(now)s now); "
        "nothing was done. Please choose the action again."
    )
    if confirmation.selection_changed(
        model_admin, request, count, lambda shown, now: changed % {"shown": shown, "now": now}, queryset
    ):
        return None
    conf = voucherify_settings()
    if count > conf.voucher_action_inline_limit:
        _queue_after_commit(
            model_admin,
            request,
            action,
            voucher_selection.describe(model_admin, request, queryset),
            queued=(
                ngettext(
                    "%(action)s of %(count)d voucher runs in the background; failures will show in the "
                    "'last error key' column.",
                    "%(action)s of %(count)d vouchers runs in the background; failures will show in the "
                    "'last error key' column.",
                    count,
                )
                % {"action": action.label, "count": count},
                messages.INFO,
            ),
            refused=lambda error: _("Could not queue the action: %(error)s") % {"error": error},
        )
        return None
    from ..checkout.cart import checkout_client
    from ..vouchers import actions  # the voucher service loads on first use, not at start-up

    codes = list(queryset.order_by("code").values_list("code", flat=True))
    # A person waits: the interactive timeout (CHECKOUT_TIMEOUT) and no call after an outage,
    # as for campaigns and tiers (the shared client's 20 s and retries are meant for workers;
    # up to VOUCHER_ACTION_INLINE_LIMIT vouchers of that would outlast any WSGI timeout).
    outcome = actions.run(
        action,
        codes,
        max_wait=conf.voucher_rate_limit_wait,
        client=checkout_client(),
        stop_when_unreachable=True,
    )
    _report(model_admin, request, action, outcome)
    return None


def _report(model_admin: Any, request: HttpRequest, action: Action, outcome: actions.RunOutcome) -> None:
    done = [r.code for r in outcome.succeeded]
    if done:
        model_admin.message_user(
            request,
            _("%(action)s: done for %(codes)s.") % {"action": action.label, "codes": ", ".join(done)},
            messages.SUCCESS,
        )
    for result in outcome.failed:
        text = _("%(action)s failed for %(code)s: %(message)s") % {
            "action": action.label,
            "code": result.code,
            "message": result.message,
        }
        if result.request_id:
            text += " " + _("(request id %(request_id)s)") % {"request_id": result.request_id}
        model_admin.message_user(request, text, messages.ERROR)
    if outcome.not_sent:
        model_admin.message_user(
            request,
            _("Voucherify cannot be reached now; nothing was sent for %(codes)s. Please try again later.")
            % {"codes": ", ".join(outcome.not_sent)},
            messages.WARNING,
        )
    if outcome.remaining:
        args = {"action": action.label, "codes": ", ".join(outcome.remaining), "seconds": outcome.retry_after}
        _queue_after_commit(
            model_admin,
            request,
            action,
            voucher_selection.of_codes(outcome.remaining, voucher_selection.owner(model_admin, request)),
            countdown=outcome.retry_after,
            queued=(
                _(
                    "Voucherify's rate limit was hit; %(action)s of %(codes)s continues in the "
                    "background in %(seconds)s s."
                )
                % args,
                messages.WARNING,
            ),
            refused=lambda error: (
                _("Voucherify's rate limit was hit; not done: %(codes)s (%(error)s).")
                % {**args, "error": error}
            ),
        )
