"""Connect a shop's own models (its user, its order) to the Voucherify mirrors.

A few lines in the shop's ``AppConfig.ready()``::

    from django.contrib.auth import get_user_model
    from django_voucherify.models import Customer, Order
    from django_voucherify.sync import registry

    registry.connect(get_user_model(), Customer, lambda u: {
        "source_id": f"user-{u.pk}", "email": u.email, "name": u.get_full_name(), "user": u,
    })
    registry.connect(ShopOrder, Order, lambda o: {
        "source_id": o.number, "status": o.voucherify_status, "amount": o.total_cents,
        "currency": o.currency, "customer": f"user-{o.user_id}",       # a customer source_id
        "items": [{"sku_source_id": l.sku, "quantity": l.qty, "price": l.price} for l in ...],
    })

Contract: on the shop model's ``post_save`` the mapping function is called; it returns the
mirror's field values (``source_id`` required; ``None`` skips the object). The mirror with that
``source_id`` is created or updated in the SAME transaction - only when a value really changed,
so e.g. a login updating ``last_login`` queues nothing - and its own signal writes the outbox row.
For orders, ``customer`` may be a customer ``source_id`` (the mirror is created if missing) and
``items`` a list of :class:`~django_voucherify.models.OrderItem` field dicts (replaced as a whole;
``amount`` defaults to ``price * quantity``). Deleting the shop object deletes the mirror
(and so the Voucherify customer) unless ``delete=False``. :func:`refresh` re-maps an object
explicitly, e.g. after its order lines were saved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import router, transaction
from django.db.models import Model
from django.db.models.signals import post_delete, post_save

from ..models import Customer, Order, OrderItem

Mapper = Callable[[Any], "dict[str, Any] | None"]
_ITEM_FIELDS = ("product_source_id", "sku_source_id", "quantity", "price", "amount")


@dataclass(frozen=True)
class Link:
    model: type[Model]
    mirror: type[Customer] | type[Order]
    mapper: Mapper
    delete: bool


_links: dict[type[Model], list[Link]] = {}


def connect(model: type[Model], mirror: type[Customer] | type[Order], mapper: Mapper, *,
            delete: bool = True) -> None:
    """Keep ``mirror`` rows in step with ``model`` through ``mapper`` (see module docstring)."""
    link = Link(model, mirror, mapper, delete)
    _links.setdefault(model, []).append(link)
    uid = f"dv_registry_{model._meta.label_lower}_{mirror._meta.model_name}"
    post_save.connect(_saved, sender=model, dispatch_uid=uid + "_save", weak=False)
    post_delete.connect(_deleted, sender=model, dispatch_uid=uid + "_delete", weak=False)


def disconnect(model: type[Model]) -> None:
    """Forget every link of ``model`` (tests)."""
    for link in _links.pop(model, []):
        uid = f"dv_registry_{model._meta.label_lower}_{link.mirror._meta.model_name}"
        post_save.disconnect(sender=model, dispatch_uid=uid + "_save")
        post_delete.disconnect(sender=model, dispatch_uid=uid + "_delete")


def refresh(instance: Model) -> list[Model]:
    """Map ``instance`` to its mirrors now; returns the mirrors that were saved."""
    saved: list[Model] = []
    for link in _links.get(type(instance), []):
        mirror = _apply(link, instance)
        if mirror is not None:
            saved.append(mirror)
    return saved


def _saved(sender: type[Model], instance: Model, raw: bool = False, **kwargs: Any) -> None:
    if not raw:
        refresh(instance)


def _deleted(sender: type[Model], instance: Model, **kwargs: Any) -> None:
    for link in _links.get(sender, []):
        if not link.delete:
            continue
        data = link.mapper(instance)
        if data and data.get("source_id"):
            for mirror in link.mirror.objects.filter(source_id=str(data["source_id"])):
                mirror.delete()


def _apply(link: Link, instance: Model) -> Model | None:
    data = link.mapper(instance)
    if not data:
        return None
    data = dict(data)
    source_id = str(data.pop("source_id"))
    items = data.pop("items", None)
    if link.mirror is Order and isinstance(data.get("customer"), str):
        data["customer"], _ = Customer.objects.get_or_create(source_id=data["customer"])
    with transaction.atomic(using=router.db_for_write(link.mirror)):
        mirror = link.mirror.objects.filter(source_id=source_id).first()
        created = mirror is None
        if mirror is None:
            mirror = link.mirror(source_id=source_id)
        changed = [k for k, v in data.items() if getattr(mirror, k) != v]
        for key in changed:
            setattr(mirror, key, data[key])
        items_changed = isinstance(mirror, Order) and items is not None and _items_differ(mirror, items)
        if not (created or changed or items_changed):
            return None
        mirror.save()
        if isinstance(mirror, Order) and items_changed and items is not None:
            mirror.items.all().delete()
            OrderItem.objects.bulk_create(OrderItem(order=mirror, **_item(i)) for i in items)
    return mirror


def _item(raw: dict[str, Any]) -> dict[str, Any]:
    item = {k: raw[k] for k in _ITEM_FIELDS if k in raw}
    item.setdefault("quantity", 1)
    item.setdefault("price", 0)
    item.setdefault("amount", item["price"] * item["quantity"])
    return item


def _items_differ(order: Order, items: list[dict[str, Any]]) -> bool:
    if order.pk is None:
        return bool(items)
    current = [tuple(getattr(i, f) for f in _ITEM_FIELDS) for i in order.items.all()]
    wanted = [tuple(_item(i).get(f, "") for f in _ITEM_FIELDS) for i in items]
    return current != wanted
