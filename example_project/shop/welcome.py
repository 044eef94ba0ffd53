"""A welcome code for every new shopper: one code of the welcome campaign (``join_once``),
handed out by ``checkout.publish`` in the worker once the account exists.

The sign-up request only queues the task, on commit of the account's transaction
(accounts.create_if_new): it never waits for Voucherify, and a sign-up whose transaction rolls
back queues nothing. The task retries while Voucherify is unavailable; ``publish`` is
idempotent (one publication per campaign and customer, its ledger row), so a retry or a second
delivery of the task hands out the same code. The code is shown on "My orders" and at checkout
once the worker has recorded it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Q

from django_voucherify.models import CustomerPublication, PublicationState

from .apps import user_to_customer


def campaign() -> str:
    return str(settings.SHOP_WELCOME_CAMPAIGN)


def customer_body(user: Any) -> dict[str, Any] | None:
    """The shopper as a Voucherify customer (the same source id as the customer sync's)."""
    body = user_to_customer(user)
    if body is None:
        return None
    body.pop("user", None)
    return body


def code_of(user: Any) -> str | None:
    """The welcome code the worker recorded for ``user``, if any yet."""
    if not user.is_authenticated or not settings.SHOP_WELCOME_CAMPAIGN:
        return None
    body = customer_body(user)
    if body is None:
        return None
    # The ledger is keyed by the campaign's id, with its name beside it: SHOP_WELCOME_CAMPAIGN
    # may hold either (a row written before the id key holds the name in ``campaign``).
    name = campaign()
    row = (
        CustomerPublication.objects.filter(
            Q(campaign=name) | Q(campaign_name=name),
            customer_source_id=body["source_id"],
            state=PublicationState.PUBLISHED,
        )
        .order_by("created_at")
        .only("code")
        .first()
    )
    return row.code if row else None
