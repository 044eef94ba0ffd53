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
mirror's field values (``source_id`` required; ``None`` skips the object). A ``source_id`` (or
an order's ``customer``) the shared validator refuses (control, zero-width or bidi characters,
over 200 characters: the checkout and REST refuse those) raises
:class:`~django_voucherify.validation.InvalidInput` in the save, nothing is written. The mirror with that
``source_id`` is created or updated in the SAME transaction - only when a value really changed,
so e.g. a login updating ``last_login`` queues nothing - and the outbox row is written next.
On PostgreSQL and SQLite that is one ``INSERT ... ON CONFLICT (source_id) DO UPDATE ... WHERE
<a mapped value differs>`` plus the outbox upsert: a shop save costs at most two more queries
(one when nothing changed), no savepoint, and is safe against two first saves racing. Being a
single statement, it does not send the mirror's own ``pre_save``/``post_save`` signals; what the
app's own receiver does on a cancelled order (roll back its redemptions) is done here too.
For orders, ``customer`` may be a customer ``source_id`` (the mirror is created if missing; a
SKU's ``product`` likewise names its product mirror by source id) and
``items`` a list of :class:`~django_voucherify.models.OrderItem` field dicts (replaced as a whole;
``amount`` defaults to ``price * quantity``). Deleting the shop object deletes the mirror
(and so the Voucherify customer) unless ``delete=False``. :func:`refresh` re-maps an object
explicitly, e.g. after its order lines were saved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Field, Model
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import Customer, Order, OrderItem, OrderStatus, Product, Sku, SyncState
from ..validation import InvalidInput, source_id_problem, visible
from .mirrors import muted
from .outbox import record_change

Mapper = Callable[[Any], "dict[str, Any] | None"]
Mirror = Customer | Order | Product | Sku
MirrorModel = type[Customer] | type[Order] | type[Product] | type[Sku]
#: The mirrors whose mapping names another mirror by its source id: (the key, that mirror).
_PARENTS: dict[type[Model], tuple[str, type[Customer] | type[Product]]] = {
    Order: ("customer", Customer),
    Sku: ("product", Product),
}
_ITEM_FIELDS = ("product_source_id", "sku_source_id", "quantity", "price", "amount")


@dataclass(frozen=True)
class Link:
    model: type[Model]
    mirror: MirrorModel
    mapper: Mapper
    delete: bool


_links: dict[type[Model], list[Link]] = {}


def connect(model: type[Model], mirror: MirrorModel, mapper: Mapper, *, delete: bool = True) -> None:
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
    """Map ``instance`` to its mirrors now; returns the mirrors that were written.

    The instances returned carry ``pk``, ``source_id`` and ``voucherify_id`` (no re-read: call
    ``refresh_from_db()`` for the rest).
    """
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


def _apply(link: Link, instance: Model) -> Mirror | None:
    data = link.mapper(instance)
    if not data:
        return None
    data = dict(data)
    source_id = str(data.pop("source_id"))
    _check_source_id(link, instance, source_id)
    parent = _PARENTS.get(link.mirror)
    if parent and isinstance(data.get(parent[0]), str):
        _check_source_id(link, instance, data[parent[0]])
    items = data.pop("items", None)
    db = router.db_for_write(link.mirror)
    # No savepoint: inside the shop's transaction this adds no statement; in autocommit it makes
    # the mirror and its outbox row one transaction.
    with transaction.atomic(using=db, savepoint=False):
        if parent and isinstance(data.get(parent[0]), str):
            data[f"{parent[0]}_id"] = _parent_pk(db, parent[1], data.pop(parent[0]))
        if link.mirror is Product:
            data["placeholder"] = False  # the product's own values: a placeholder no longer
        mirror = upsert_mirror(db, link.mirror, source_id, data)
        if link.mirror is Order and items is not None:
            mirror = _sync_items(db, source_id, items, mirror)
        if mirror is not None:
            record_change(mirror)
            if link.mirror is Order and data.get("status") == OrderStatus.CANCELED:
                # What the mirror's post_save receiver does on a plain save (this upsert sends
                # no post_save): the cancelled order's redemptions are rolled back.
                from ..checkout.rollback import roll_back_canceled_order

                roll_back_canceled_order(source_id)
    return mirror


def _check_source_id(link: Link, instance: Model, source_id: str) -> None:
    """The shared validator's rule for source ids (the checkout and REST refuse the others):
    a mapping that builds one with a control, zero-width or bidi character, or too long, is a
    bug in the shop's mapper, raised here (``InvalidInput``, a ``ValueError``) rather than
    stored, sent, and refused later at checkout."""
    if problem := source_id_problem(source_id):
        raise InvalidInput(
            _("%(model)s %(pk)s maps to the %(mirror)s source_id %(value)s: %(problem)s")
            % {
                "model": link.model._meta.label,
                "pk": instance.pk,
                "mirror": link.mirror._meta.model_name,
                "value": visible(source_id)[:100],
                "problem": problem,
            }
        )


def upsert_mirror(db: str, model: MirrorModel, source_id: str, values: dict[str, Any]) -> Mirror | None:
    """Create the ``source_id`` mirror with ``values``, or write ``values`` if one differs.

    Returns the mirror written (``pk``, ``source_id``, ``voucherify_id`` loaded), None if the row
    already held these values. An update turns ``sync_state`` pending. One query on PostgreSQL and
    SQLite; race-safe (two first saves of one ``source_id`` make one row).
    """
    conn = connections[db]  # PostgreSQL or SQLite: system check voucherify.E013 refuses others
    meta = model._meta
    new = model(source_id=source_id, **values)
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    mapped = sorted({_field(model, name).column or name for name in values})  # unknown names raise
    q = conn.ops.quote_name
    table = q(meta.db_table)
    differs = "IS DISTINCT FROM" if conn.vendor == "postgresql" else "IS NOT"
    changed = " OR ".join(f"{table}.{q(c)} {differs} EXCLUDED.{q(c)}" for c in mapped) or "1 = 0"
    assignments = [f"{q(c)} = EXCLUDED.{q(c)}" for c in mapped]
    assignments += [f"{q(c)} = EXCLUDED.{q(c)}" for c in ("sync_state", "updated_at")]
    new.sync_state = SyncState.PENDING
    params = [f.get_db_prep_save(f.pre_save(new, add=True), connection=conn) for f in fields]
    # Identifiers come from the model's meta (quoted); every value is a query parameter.
    sql = (
        f"INSERT INTO {table} ({', '.join(q(f.column or f.name) for f in fields)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT ({q('source_id')}) DO UPDATE SET {', '.join(assignments)} "
        f"WHERE {changed} RETURNING {q(meta.pk.column or 'id')}, {q('voucherify_id')}"
    )
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else _written(model, db, row[0], source_id, row[1])


def _field(model: MirrorModel, name: str) -> Field[Any, Any]:
    field = model._meta.get_field(name)  # FieldDoesNotExist names a mapping key that is no field
    if not isinstance(field, Field) or not field.concrete:
        raise ValueError(f"{model.__name__}.{name} is not a column: a mapping cannot set it")
    return field


def _written(model: MirrorModel, db: str, pk: Any, source_id: str, voucherify_id: str) -> Mirror:
    mirror = model(pk=pk, source_id=source_id, voucherify_id=voucherify_id or "")
    mirror._state.adding, mirror._state.db = False, db
    return mirror


def _parent_pk(db: str, model: type[Customer] | type[Product], source_id: str) -> Any:
    """The primary key of the ``model`` mirror ``source_id`` (an order's customer, a SKU's
    product), created (and queued) if missing."""
    existing = model.objects.using(db).filter(source_id=source_id).values_list("pk", flat=True).first()
    if existing is not None:
        return existing
    # A product made here knows only its source id: a placeholder sends nothing more
    # (models.products.product_body), so it cannot blank a product Voucherify already holds.
    created = upsert_mirror(db, model, source_id, {"placeholder": True} if model is Product else {})
    if created is None:  # created by a concurrent save meanwhile
        return model.objects.using(db).values_list("pk", flat=True).get(source_id=source_id)
    record_change(created)
    return created.pk


def _sync_items(db: str, source_id: str, items: list[dict[str, Any]], order: Mirror | None) -> Mirror | None:
    """Replace the order's items when they differ; the order (to queue) if it or they changed."""
    if order is None:
        row = Order.objects.using(db).values_list("pk", "voucherify_id").get(source_id=source_id)
        pk, voucherify_id = row
        current: Mirror = _written(Order, db, pk, source_id, voucherify_id)
    else:
        current = order
    if not _items_differ(db, current.pk, items):
        return order
    # Muted: the item signals would re-queue the order once per item; it is queued once, by the caller.
    with muted():
        OrderItem.objects.using(db).filter(order_id=current.pk).delete()
        OrderItem.objects.using(db).bulk_create(OrderItem(order_id=current.pk, **_item(i)) for i in items)
    if order is None:
        Order.objects.using(db).filter(pk=current.pk).update(
            sync_state=SyncState.PENDING, updated_at=timezone.now()
        )
    return current


def _item(raw: dict[str, Any]) -> dict[str, Any]:
    item = {k: raw[k] for k in _ITEM_FIELDS if k in raw}
    item.setdefault("quantity", 1)
    item.setdefault("price", 0)
    item.setdefault("amount", item["price"] * item["quantity"])
    return item


def _items_differ(db: str, order_pk: Any, items: list[dict[str, Any]]) -> bool:
    rows = OrderItem.objects.using(db).filter(order_id=order_pk).order_by("pk")
    current = list(rows.values_list(*_ITEM_FIELDS))
    wanted = [tuple(_item(i).get(f, "") for f in _ITEM_FIELDS) for i in items]
    return current != wanted
