"""The run of a confirmed admin action that changes objects in Voucherify one call at a time,
in the request (the campaign and promotion-tier admins' enable/disable).

A person waits on the page: the calls use checkout's interactive client (``CHECKOUT_TIMEOUT``,
no retries), not the 20 s and retries meant for workers, and the first failure saying that
Voucherify cannot be reached (:data:`~django_voucherify.api.errors.UNREACHABLE`) stops the run,
naming the objects nothing was sent for (review 20: a hung Voucherify held such a request 20 s
per object, up to 100, past any WSGI worker timeout). Another refusal is reported and the run
goes on with the next object.

The messages are the calling admin's (its own msgids, which the German catalog translates);
this module only decides which is shown when, in this order: per object its failure (or what
``then`` says after a success); after an outage, the objects not sent; last, the ones done.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.translation import gettext as _

from ..api.errors import UNREACHABLE, VoucherifyError, outcome_unknown

if TYPE_CHECKING:
    from ..api.client import VoucherifyClient


class Named(Protocol):
    @property
    def name(self) -> str: ...


Item = TypeVar("Item", bound=Named)
Result = TypeVar("Result")


def run_each(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    items: Sequence[Item],
    *,
    call: Callable[[Item, VoucherifyClient], Result],
    describe_error: Callable[[VoucherifyError], str],
    failed: Callable[[str, str], str],
    not_sent: Callable[[str], str],
    done: Callable[[str], str],
    then: Callable[[Item, Result, VoucherifyClient], None] | None = None,
) -> None:
    """Do ``call(item, client)`` for each of ``items`` in order, telling the user how it went.

    ``call`` raises :class:`~django_voucherify.api.errors.VoucherifyError` when Voucherify
    refused or could not be reached (it records that on the item's mirror itself); after a
    success, ``then(item, result, client)`` updates the mirror from Voucherify (and may add a
    message). Messages: ``failed(name, describe_error(exc))`` per failure,
    (plus that it may have been applied all the same when no answer came after the call left,
    or a 5xx), ``not_sent(names)`` for the rest after an outage, ``done(names)`` for the successes, names
    joined with ", ".
    """
    from ..checkout.cart import checkout_client

    client = checkout_client()
    succeeded = []
    for position, item in enumerate(items):
        try:
            result = call(item, client)
        except VoucherifyError as exc:
            text = failed(item.name, describe_error(exc))
            if outcome_unknown(exc):
                # No answer after the call left (the interactive timeout is short) or a 5xx:
                # the change may be made; "failed" alone would say it is not.
                text += " " + _(
                    "It may have been applied all the same: refresh the list from Voucherify to see."
                )
            model_admin.message_user(request, text, messages.ERROR)
            rest = items[position + 1 :]
            if isinstance(exc, UNREACHABLE) and rest:
                model_admin.message_user(request, not_sent(", ".join(i.name for i in rest)), messages.WARNING)
                break
            continue
        succeeded.append(item.name)
        if then is not None:
            then(item, result, client)
    if succeeded:
        model_admin.message_user(request, done(", ".join(succeeded)), messages.SUCCESS)
