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

from ..api.errors import UNREACHABLE, VoucherifyError

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
    ``not_sent(names)`` for the rest after an outage, ``done(names)`` for the successes, names
    joined with ", ".
    """
    from ..checkout.cart import checkout_client

    client = checkout_client()
    succeeded = []
    for position, item in enumerate(items):
        try:
            result = call(item, client)
        except VoucherifyError as exc:
            model_admin.message_user(request, failed(item.name, describe_error(exc)), messages.ERROR)
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
