"""Order cancellation rolls back the order's checkout redemptions.

Connected from ``DjangoVoucherifyConfig.ready()``. Cancelling the ``Order`` mirror (status
CANCELED: a shop's own order model maps onto it through the sync registry) asks for the rollback
of every live ledger row of that order in the same transaction; Celery sends it after commit.
Refunds that do not cancel the order call :func:`~django_voucherify.checkout.rollback_order`.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from ..models.orders import Order, OrderStatus
from . import checks  # noqa: F401  (registers the checkout system checks)


@receiver(post_save, sender=Order, dispatch_uid="django_voucherify.checkout.order_canceled")
def roll_back_canceled_order(sender: type[Order], instance: Order, raw: bool = False,
                             **kwargs: Any) -> None:
    if raw or instance.status != OrderStatus.CANCELED:
        return
    from ..models.ledger import CheckoutRedemption
    from .rollback import rollback_order

    if CheckoutRedemption.objects.live().filter(order_source_id=instance.source_id).exists():
        rollback_order(instance.source_id, "order canceled")
