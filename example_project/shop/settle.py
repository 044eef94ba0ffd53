"""Orders a fault left half placed: the payment record, and the sweep that settles what is left.

Placing an order creates the ShopOrder (NEW), redeems its codes, charges, then records the
charge. The record, the payment reference and status PAID together, is one transaction retried
while SQLite answers "database is locked" (:func:`record_payment`). Anything else between the
creation and the record (a dying process, a bug, a lock that outlasts the retries) leaves the
order NEW with nobody to settle it, so the demo's beat runs :func:`settle_stranded_orders`
every minute: a NEW order older than the placement grace (``SHOP_PLACEMENT_GRACE`` seconds)
becomes PAID when a payment reference was recorded, CANCELLED otherwise. Cancelling it marks
its Voucherify order mirror CANCELED and asks for the rollback of whatever its codes redeemed
(``checkout.rollback_order``, docs/checkout.md "Rollback"), in the same transaction.

A charge whose record never landed is asked of the payment provider before cancelling
(``payment.find_charge``; the demo's fake provider keeps its charges, as a real one does): an
order the provider charged is settled PAID with the provider's reference and amount, never
cancelled with its customer's money taken.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import OperationalError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from django_voucherify import checkout

from . import payment
from .models import ShopOrder

logger = logging.getLogger(__name__)

#: Attempts at writing the payment record, and the first pause between two (doubling).
RECORD_ATTEMPTS = 4
RECORD_BACKOFF = 0.25

#: Orders settled per sweep run (the next run takes the rest).
SWEEP_BATCH = 100

DEFAULT_GRACE = 300


def grace() -> timedelta:
    """How long a placement may take: longer than checkout's bounded calls plus the record's
    retries (each waiting up to SQLite's timeout), so a running placement is never settled."""
    return timedelta(seconds=int(getattr(settings, "SHOP_PLACEMENT_GRACE", DEFAULT_GRACE)))


def grace_minutes() -> int:
    return max(1, round(grace().total_seconds() / 60))


def is_stranded(order: ShopOrder, now: datetime | None = None) -> bool:
    """A NEW order older than the grace: its placement is over, whatever ended it."""
    return order.status == ShopOrder.Status.NEW and order.created_at < (now or timezone.now()) - grace()


def record_payment(order: ShopOrder, reference: str, paid_cents: int) -> None:
    """Write the charge (reference, amount, PAID) in one transaction, retried while the
    database is locked; the last failure propagates (the sweep settles the order then)."""
    order.status = ShopOrder.Status.PAID
    order.paid_cents = paid_cents
    order.payment_reference = reference
    for attempt in range(RECORD_ATTEMPTS):
        try:
            with transaction.atomic():
                order.save()  # the mirror's outbox row is written in the same transaction
            return
        except OperationalError:
            if attempt + 1 == RECORD_ATTEMPTS:
                logger.error("Payment %s of order %s could not be recorded", reference, order.number)
                raise
            time.sleep(RECORD_BACKOFF * 2**attempt)


def settle_stranded_orders(now: datetime | None = None) -> dict[str, int]:
    """Settle the NEW orders older than the grace: PAID with a payment reference (the shop's, or
    the provider's when the shop's record never landed), otherwise CANCELLED (the mirror
    CANCELED rolls the ledger back). Returns the counts."""
    cutoff = (now or timezone.now()) - grace()
    settled = {"paid": 0, "cancelled": 0}
    stranded = ShopOrder.objects.filter(status=ShopOrder.Status.NEW, created_at__lt=cutoff)
    for pk in stranded.order_by("pk").values_list("pk", flat=True)[:SWEEP_BATCH]:
        with transaction.atomic():
            order = ShopOrder.objects.select_for_update().filter(pk=pk, status=ShopOrder.Status.NEW).first()
            if order is None:  # settled meanwhile (a late record, another sweep)
                continue
            charged = None if order.payment_reference else payment.find_charge(order.number)
            if charged is not None:  # charged, but the shop's record of it never landed
                order.payment_reference, order.paid_cents = charged.reference, charged.amount_cents
            if order.payment_reference:
                order.status = ShopOrder.Status.PAID
                settled["paid"] += 1
            else:
                order.status = ShopOrder.Status.CANCELLED
                settled["cancelled"] += 1
                # Asked first, with this reason: the save below makes the Voucherify order
                # mirror CANCELED, which asks for the same rollbacks ("order canceled") and finds
                # them already asked for. Same transaction; Celery sends them after commit.
                checkout.rollback_order(order.number, gettext("order not completed"))
            order.save()
        logger.warning("Stranded order %s settled as %s", order.number, order.status)
    return settled
