"""Core signal receivers: the shared client follows settings; a cancelled order is rolled back."""

from typing import Any

from django.core.signals import setting_changed
from django.db.models.signals import post_save
from django.dispatch import receiver


@receiver(setting_changed)
def _reset_client_on_settings_change(setting: str, **kwargs: Any) -> None:
    # override_settings(VOUCHERIFY=...) in tests must not keep talking to the old URL.
    if setting == "VOUCHERIFY":
        from . import reset_client

        reset_client()


def _roll_back_canceled_order(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    """Cancelling the ``Order`` mirror rolls back its checkout redemptions (same transaction;
    Celery sends the rollback after commit). Refunds that do not cancel the order call
    :func:`django_voucherify.checkout.rollback_order`. The checkout package is imported only
    when an order is actually cancelled: start-up stays free of the client and Celery."""
    from .models.orders import OrderStatus

    if raw or instance.status != OrderStatus.CANCELED:
        return
    from .checkout.rollback import rollback_order
    from .models.ledger import CheckoutRedemption

    if CheckoutRedemption.objects.live().filter(order_source_id=instance.source_id).exists():
        rollback_order(instance.source_id, "order canceled")


post_save.connect(
    _roll_back_canceled_order,
    sender="django_voucherify.Order",
    dispatch_uid="django_voucherify.checkout.order_canceled",
)
