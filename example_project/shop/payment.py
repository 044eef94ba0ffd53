"""A fake payment provider: charges succeed unless told to fail (to demonstrate the rollback).

Like a real provider, it keeps its charges on its own side (:class:`~.models.FakeCharge`, written
in its own transaction as the charge is made), under the order's number as an idempotency key:
charging an order again returns the first charge, and :func:`find_charge` answers the shop's
question "was this order charged?" when the shop's own record of the payment never landed
(:func:`.settle.settle_stranded_orders` asks it before cancelling an order).
"""

from __future__ import annotations

import secrets

from django.db import transaction
from django.utils.translation import gettext

from .models import FakeCharge


class PaymentDeclined(Exception):
    pass


def charge(amount_cents: int, *, fail: bool, order_number: str) -> str:
    """Pretend to charge ``amount_cents`` for order ``order_number``; returns the payment
    reference (the first charge's, if this order was charged already) or raises."""
    if fail:
        raise PaymentDeclined(gettext("The card was declined (the demo was asked to fail the payment)."))
    with transaction.atomic():  # the provider's own record: committed before the shop hears back
        made, _ = FakeCharge.objects.get_or_create(
            order_number=order_number,
            defaults={"reference": f"pay_{secrets.token_hex(8)}", "amount_cents": amount_cents},
        )
    return made.reference


def find_charge(order_number: str) -> FakeCharge | None:
    """The provider's charge of order ``order_number``, if it made one."""
    return FakeCharge.objects.filter(order_number=order_number).first()
