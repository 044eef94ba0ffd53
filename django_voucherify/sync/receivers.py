"""Receivers that turn mirror saves and deletes into outbox rows (same transaction, no HTTP).

Deleting a customer, a product or a SKU queues a Voucherify deletion; a customer's is permanent
(``permanent-deletion``, for data-erasure requests) when ``SYNC_PERMANENT_DELETE`` is set or
the instance was deleted through :func:`~.mirrors.erase_customer`. Saving or deleting an order
item re-syncs its order. Inside :func:`~.mirrors.muted` (used by pulls) nothing is recorded.
Writes that send no ``post_save`` (``QuerySet.update()``, ``bulk_create()``, ``bulk_update()``)
reach :func:`_mirrors_written` through the mirrors' querysets (``mirrors_written``).
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .. import conf
from ..models.customers import Customer
from ..models.orders import Order, OrderItem
from ..models.outbox import OutboxAction
from ..models.products import Product, Sku
from ..models.sync_state import SyncState, mirrors_written
from .mirrors import ERASE_MARK, is_muted
from .outbox import record_change, record_changes


@receiver(mirrors_written, dispatch_uid="dv_sync_mirrors_written")
def _mirrors_written(sender: type[Any], rows: list[tuple[Any, ...]], using: str, **kwargs: Any) -> None:
    """Rows a queryset wrote (its querysets check :func:`~.mirrors.muted` before writing)."""
    record_changes(sender, [rows], using)


@receiver(post_save, sender=Customer, dispatch_uid="dv_sync_customer_saved")
@receiver(post_save, sender=Order, dispatch_uid="dv_sync_order_saved")
@receiver(post_save, sender=Product, dispatch_uid="dv_sync_product_saved")
@receiver(post_save, sender=Sku, dispatch_uid="dv_sync_sku_saved")
def _mirror_saved(
    sender: type[Any], instance: Customer | Order | Product | Sku, raw: bool = False, **kwargs: Any
) -> None:
    if raw or is_muted():
        return
    record_change(instance)


@receiver(post_delete, sender=Customer, dispatch_uid="dv_sync_customer_deleted")
def _customer_deleted(sender: type[Any], instance: Customer, **kwargs: Any) -> None:
    if is_muted():
        return
    permanent = getattr(instance, ERASE_MARK, False) or conf.option("SYNC_PERMANENT_DELETE")
    record_change(instance, OutboxAction.ERASE if permanent else OutboxAction.DELETE)


@receiver(post_delete, sender=Order, dispatch_uid="dv_sync_order_deleted")
def _order_deleted(sender: type[Any], instance: Order, **kwargs: Any) -> None:
    if not is_muted():
        record_change(instance, OutboxAction.DELETE)


@receiver(post_delete, sender=Product, dispatch_uid="dv_sync_product_deleted")
@receiver(post_delete, sender=Sku, dispatch_uid="dv_sync_sku_deleted")
def _catalog_deleted(sender: type[Any], instance: Product | Sku, **kwargs: Any) -> None:
    """A product's deletion takes its SKUs with it (the database cascade sends theirs first)."""
    if not is_muted():
        record_change(instance, OutboxAction.DELETE)


@receiver(post_save, sender=OrderItem, dispatch_uid="dv_sync_item_saved")
@receiver(post_delete, sender=OrderItem, dispatch_uid="dv_sync_item_deleted")
def _item_changed(sender: type[Any], instance: OrderItem, raw: bool = False, **kwargs: Any) -> None:
    if raw or is_muted():
        return
    # The order's payload includes its items: the order mirror is no longer in sync either.
    if Order.objects.filter(pk=instance.order_id).update(sync_state=SyncState.PENDING):
        record_change(Order.objects.only("pk", "source_id", "voucherify_id").get(pk=instance.order_id))
