"""Mirror of a Voucherify order and its items; money in integer minor units (cents)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from django.db import DEFAULT_DB_ALIAS, models, router, transaction
from django.utils.translation import gettext_lazy as _

from .customers import Customer
from .sync_state import (
    SyncedMirror,
    SyncState,
    atomic_save,
    in_slices,
    is_muted,
    lock_in_order,
    mirror_columns,
    mirrors_written,
    pk_column,
    refuse_unsupported_update,
    update_returning,
    update_returning_chunks,
)

#: The order columns its Voucherify body is made of (``customer__source_id``: the customer's
#: source id through a join), in :func:`order_body`'s order; what a bulk push reads.
BODY_FIELDS = ("source_id", "status", "amount", "metadata", "customer__source_id")
#: The item columns an ``items[]`` entry is made of, in :func:`item_body`'s order.
ITEM_BODY_FIELDS = ("quantity", "price", "amount", "sku_source_id", "product_source_id")


def order_body(
    source_id: str,
    status: str,
    amount: int,
    metadata: dict[str, Any] | None,
    customer_source_id: str | None,
    items: list[dict[str, Any]],
) -> dict[str, Any]:
    """The ``POST /v1/orders`` body from the :data:`BODY_FIELDS` values and the items' bodies
    (one function for a saved instance and a bulk push's rows, so both send the same body)."""
    body: dict[str, Any] = {
        "source_id": source_id,
        "status": status,
        "amount": amount,
        "items": items,
        "metadata": dict(metadata or {}),
    }
    if customer_source_id is not None:
        body["customer"] = {"source_id": customer_source_id}
    return body


def item_body(
    quantity: int, price: int, amount: int, sku_source_id: str, product_source_id: str
) -> dict[str, Any]:
    """An ``items[]`` entry from the :data:`ITEM_BODY_FIELDS` values: the SKU when there is one,
    else the product."""
    item: dict[str, Any] = {"quantity": quantity, "price": price, "amount": amount}
    if sku_source_id:
        item.update(source_id=sku_source_id, related_object="sku")
        if product_source_id:
            item["product"] = {"source_id": product_source_id}
    else:
        item.update(source_id=product_source_id, related_object="product")
    return item


class OrderStatus(models.TextChoices):
    CREATED = "CREATED", _("created")
    PAID = "PAID", _("paid")
    CANCELED = "CANCELED", _("canceled")
    FULFILLED = "FULFILLED", _("fulfilled")


class Order(SyncedMirror):
    """An order as Voucherify knows it. ``amount`` is the total before discounts, in cents.

    ``currency`` is kept locally (Voucherify orders carry no currency: a project has one).
    """

    source_id = models.CharField(_("source id"), max_length=200, unique=True)
    status = models.CharField(
        _("status"), max_length=16, choices=OrderStatus.choices, default=OrderStatus.CREATED
    )
    amount = models.BigIntegerField(_("amount (minor units)"), default=0)
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="orders",
    )
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)

    sync_kind = "order"

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ("pk",)

    def __str__(self) -> str:
        return self.source_id

    def to_voucherify(self, items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The ``POST /v1/orders`` body (upsert keyed by ``source_id``), items included
        (``items``: their bodies when the caller read them already, else ``self.items``)."""
        customer = self.customer if self.customer_id is not None else None
        if items is None:
            items = [item.to_voucherify() for item in self.items.all()]
        customer_source_id = customer.source_id if customer is not None else None
        return order_body(self.source_id, self.status, self.amount, self.metadata, customer_source_id, items)

    def apply_voucherify(self, data: dict[str, Any]) -> None:
        """Copy a Voucherify order object's scalar fields onto this mirror (no save)."""
        self.voucherify_id = str(data.get("id") or self.voucherify_id)
        status = data.get("status")
        if status in OrderStatus.values:
            self.status = status
        self.amount = int(data.get("amount") or 0)
        self.metadata = data.get("metadata") or {}
        self.remote_payload = data


def queue_orders(db: str, order_ids: Iterable[Any]) -> None:
    """Turn the orders of items written in bulk pending and queue them, as an item's save does
    for its order (its receiver): one ``UPDATE ... RETURNING`` per :data:`~.sync_state.
    IDS_PER_STATEMENT` orders, locked in id order, then :data:`~.sync_state.mirrors_written`."""
    rows: list[tuple[Any, ...]] = []
    for chunk in in_slices({i for i in order_ids if i is not None}):
        orders = Order._base_manager.using(db).filter(pk__in=chunk)
        rows += update_returning(orders, {"sync_state": SyncState.PENDING}, mirror_columns(Order))
    if rows:
        mirrors_written.send(sender=Order, rows=rows, using=db)


def lock_orders_of(db: str, items: models.QuerySet[Any]) -> None:
    """Lock the orders of ``items`` (by id) before the items are written, as an order pull or
    event takes them (it locks the order, then replaces its items): an item write that took the
    item, then its order (to queue it), deadlocked against one (PostgreSQL killed one of them)."""
    lock_in_order(Order._base_manager.using(db).filter(pk__in=items.order_by().values("order_id")))


class OrderItemQuerySet(models.QuerySet["OrderItem"]):
    """Items written in bulk queue their orders, in the write's transaction (as an item's save
    or deletion does; see :class:`~.sync_state.MirrorQuerySet`): every column of an item is in
    its order's body. ``update()`` is one ``UPDATE ... RETURNING order_id``; one that moves items
    to another order locks them first (``SELECT ... FOR UPDATE``), so the orders they leave are
    queued too. ``bulk_update()`` runs as ``update()`` calls of this queryset. Inside
    :func:`~.sync_state.muted`, Django's plain methods."""

    def update(self, **kwargs: Any) -> int:
        if is_muted():
            return super().update(**kwargs)
        refuse_unsupported_update(self)
        self._for_write = True
        db = self.db
        moves = any(self.model._meta.get_field(name).name == "order" for name in kwargs)
        with transaction.atomic(using=db, savepoint=False):
            plain = self.model._base_manager.using(db)
            lock_orders_of(db, self)  # an order the update moves items to: when it is queued
            if moves:
                # Locked by primary key (the filter as a subquery): ``SELECT ... FOR UPDATE`` of
                # the queryset itself is refused after ``distinct()``, which update() accepts.
                locked = plain.select_for_update().filter(pk__in=self.order_by().values("pk"))
                before = dict(locked.values_list("pk", "order_id"))
                count = 0
                orders: set[Any] = set()
                for chunk in in_slices(before):
                    rows = update_returning(
                        plain.filter(pk__in=chunk), kwargs, (pk_column(self.model), "order_id")
                    )
                    count += len(rows)
                    orders |= {before[pk] for pk, _o in rows} | {order for _pk, order in rows}
            else:
                # The orders only, a chunk of rows at a time: not a tuple per item updated.
                count, orders = 0, set()
                for chunk in update_returning_chunks(self, kwargs, ("order_id",)):
                    count += len(chunk)
                    orders |= {order for (order,) in chunk}
            queue_orders(db, orders)
        self._result_cache = None
        return count

    update.alters_data = True  # type: ignore[attr-defined]

    def delete(self) -> tuple[int, dict[str, int]]:
        """Django's, the items' orders locked first (:func:`lock_orders_of`): each deletion's
        receiver then queues its order."""
        if is_muted():
            return super().delete()
        self._for_write = True
        with transaction.atomic(using=self.db, savepoint=False):
            lock_orders_of(self.db, self)
            return super().delete()

    delete.alters_data = True  # type: ignore[attr-defined]
    delete.queryset_only = True  # type: ignore[attr-defined]

    def bulk_create(
        self,
        objs: Iterable[OrderItem],
        batch_size: int | None = None,
        ignore_conflicts: bool = False,
        update_conflicts: bool = False,
        update_fields: Collection[str] | None = None,
        unique_fields: Collection[str] | None = None,
    ) -> list[OrderItem]:
        if is_muted():
            return super().bulk_create(
                objs, batch_size, ignore_conflicts, update_conflicts, update_fields, unique_fields
            )
        self._for_write = True
        db = self.db
        objs = list(objs)
        with transaction.atomic(using=db, savepoint=False):
            made = super().bulk_create(
                objs, batch_size, ignore_conflicts, update_conflicts, update_fields, unique_fields
            )
            # The orders named (not the item ids): no id needs to come back. An item a conflict
            # skipped queues its order once more, which sends its current state: harmless.
            queue_orders(db, {obj.order_id for obj in objs})
        return made

    bulk_create.alters_data = True  # type: ignore[attr-defined]


class OrderItem(models.Model):
    """One line: a product or SKU (by the shop's ``source_id``), quantity, unit price, amount."""

    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="items")
    product_source_id = models.CharField(_("product source id"), max_length=200, blank=True)
    sku_source_id = models.CharField(_("SKU source id"), max_length=200, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    price = models.BigIntegerField(_("unit price (minor units)"), default=0)
    amount = models.BigIntegerField(_("amount (minor units)"), default=0)

    objects = OrderItemQuerySet.as_manager()

    class Meta:
        verbose_name = _("order item")
        verbose_name_plural = _("order items")
        ordering = ("pk",)

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku_source_id or self.product_source_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save the line and, through its ``post_save`` receiver, its order's outbox row in one
        transaction (:func:`~.sync_state.atomic_save`)."""
        with atomic_save(self, kwargs.get("using")):
            left = self._lock_order(kwargs.get("using"))
            super().save(*args, **kwargs)
            if left is not None:  # moved: the order it left lists it no more
                queue_orders(self._state.db or DEFAULT_DB_ALIAS, [left])

    def delete(self, using: Any = None, keep_parents: bool = False) -> tuple[int, dict[str, int]]:
        with atomic_save(self, using):
            self._lock_order(using)
            return super().delete(using=using, keep_parents=keep_parents)

    def _lock_order(self, using: str | None) -> Any:
        """The order before this line (:func:`lock_orders_of`): its receiver queues the order
        after the line's own statement. A line moved to another order: both orders, and the id
        of the one it leaves is returned (its receiver knows the new one only)."""
        if is_muted():
            return None
        db = using or router.db_for_write(type(self), instance=self)
        stored = None
        if self.pk is not None and not self._state.adding:
            stored = (
                OrderItem._base_manager.using(db)
                .filter(pk=self.pk)
                .values_list("order_id", flat=True)
                .first()
            )
        orders = {order for order in (self.order_id, stored) if order is not None}
        if orders:
            lock_in_order(Order._base_manager.using(db).filter(pk__in=orders))
        return stored if stored is not None and stored != self.order_id else None

    def to_voucherify(self) -> dict[str, Any]:
        """An ``items[]`` entry: the SKU when there is one, else the product."""
        return item_body(*(getattr(self, f) for f in ITEM_BODY_FIELDS))
