"""The ``Order`` mirror a redeem request names, loaded with its customer and items in one
statement whose SQL is built once per database; and the body of an ``Order`` mirror a shop
passes to checkout, its items read by one statement built once (:func:`order_body`).

The DRF redeem reads the order on every request: its amount and items make the redeem body, its
customer's user decides the permission. The ORM would compile the same three-table
``select_related`` query on every call (about as much CPU as the rest of the claim); this
module compiles it once, as :mod:`.claim` does for its insert, and turns the rows into model
instances with ``Model.from_db``, the documented hook the ORM itself loads rows through, after
the fields' own database converters (``from_db_value``), so the instances are the ORM's.

Only the columns the body and the permission read are selected (:data:`ORDER_COLUMNS`,
:data:`CUSTOMER_COLUMNS`, :data:`ITEM_COLUMNS`); the others are deferred (touching one is one
more query, as with ``only()``): the order's ``remote_payload`` can be a large JSON document.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections, router
from django.db.models import Field, ForeignKey, Model

from ..models.customers import Customer
from ..models.orders import BODY_FIELDS, ITEM_BODY_FIELDS, Order, OrderItem, item_body

#: The order's body columns, its primary key and its customer link.
ORDER_COLUMNS = frozenset({"id", "customer", *(f for f in BODY_FIELDS if "__" not in f)})
#: The customer's source id (the body) and user (who owns the order).
CUSTOMER_COLUMNS = frozenset({"id", "source_id", "user"})
#: The items' body columns, their primary key and their order link.
ITEM_COLUMNS = frozenset({"id", "order", *ITEM_BODY_FIELDS})

Converter = Callable[[Any, Any, Any], Any]


def _foreign_key(model: type[Model], name: str) -> ForeignKey[Any, Any]:
    field = model._meta.get_field(name)
    if not isinstance(field, ForeignKey):
        raise TypeError(f"{model.__name__}.{name} is not a foreign key")
    return field


@dataclass(frozen=True)
class _Part:
    """One model's columns in the statement: its fields in ``concrete_fields`` order (what
    ``from_db`` expects), their attnames, each column's converters, its first position."""

    model: type[Model]
    fields: list[Field[Any, Any]]
    attnames: list[str]
    converters: list[list[tuple[Converter, Any]]]
    start: int

    def values(self, alias: str, row: Sequence[Any]) -> list[Any]:
        """This part's columns of ``row``, through the fields' database converters."""
        values = list(row[self.start : self.start + len(self.fields)])
        for i, converters in enumerate(self.converters):
            for converter, expression in converters:
                values[i] = converter(values[i], expression, connections[alias])
        return values

    def load(self, alias: str, row: Sequence[Any]) -> Any:
        return self.model.from_db(alias, self.attnames, self.values(alias, row))


@dataclass(frozen=True)
class _Statement:
    sql: str
    order: _Part
    customer: _Part
    item: _Part


_statements: dict[str, _Statement] = {}


def _field(model: type[Model], name: str) -> Field[Any, Any]:
    field = model._meta.get_field(name)
    if not isinstance(field, Field):
        raise TypeError(f"{model.__name__}.{name} is not a concrete field")
    return field


def _part(model: type[Model], names: frozenset[str], table: str, start: int, alias: str) -> _Part:
    connection = connections[alias]
    fields = [f for f in model._meta.concrete_fields if f.name in names]
    converters = []
    for field in fields:
        column = field.get_col(table)
        found = [*connection.ops.get_db_converters(column), *field.get_db_converters(connection)]
        converters.append([(converter, column) for converter in found])
    return _Part(model, fields, [str(f.attname) for f in fields], converters, start)


def _statement(alias: str) -> _Statement:
    cached = _statements.get(alias)
    if cached is not None:
        return cached
    quote = connections[alias].ops.quote_name
    order = _part(Order, ORDER_COLUMNS, "o", 0, alias)
    customer = _part(Customer, CUSTOMER_COLUMNS, "c", len(order.fields), alias)
    item = _part(OrderItem, ITEM_COLUMNS, "i", customer.start + len(customer.fields), alias)
    select = ", ".join(
        f"{table}.{quote(str(f.column))}"
        for table, part in (("o", order), ("c", customer), ("i", item))
        for f in part.fields
    )

    def column(model: type[Model], name: str) -> str:
        return quote(str(_field(model, name).column))

    orders, customers, items = (quote(m._meta.db_table) for m in (Order, Customer, OrderItem))
    order_pk, order_customer, customer_pk = (
        column(Order, "id"),
        column(Order, "customer"),
        column(Customer, "id"),
    )
    item_order, item_pk, source_id = (
        column(OrderItem, "order"),
        column(OrderItem, "id"),
        column(Order, "source_id"),
    )
    # Names from the models' metadata, quoted; the source id is a parameter.
    sql = (
        f"SELECT {select} FROM {orders} o "  # noqa: S608
        f"LEFT JOIN {customers} c ON c.{customer_pk} = o.{order_customer} "
        f"LEFT JOIN {items} i ON i.{item_order} = o.{order_pk} "
        f"WHERE o.{source_id} = %s ORDER BY i.{item_pk}"  # Order.items' own ordering
    )
    statement = _Statement(sql, order, customer, item)
    _statements[alias] = statement
    return statement


def order_with_items(order_source_id: str) -> Order | None:
    """The ``Order`` mirror ``order_source_id`` with its customer and its items, in one query,
    or None. The customer is cached where ``select_related("customer")`` puts it, the items
    where ``prefetch_related("items")`` does (each item's ``order`` is this instance), so
    building the redeem body and checking the owner read no more rows."""
    alias = router.db_for_read(Order)
    statement = _statement(alias)
    with connections[alias].cursor() as cursor:
        cursor.execute(statement.sql, [order_source_id])
        rows = cursor.fetchall()
    if not rows:
        return None
    first = rows[0]
    order: Order = statement.order.load(alias, first)
    customer = None
    if first[statement.customer.start] is not None:  # the customer's primary key: joined
        customer = statement.customer.load(alias, first)
    _foreign_key(Order, "customer").set_cached_value(order, customer)
    item_order = _foreign_key(OrderItem, "order")
    items = []
    for row in rows:
        if row[statement.item.start] is None:  # the LEFT JOIN's row of an order without items
            continue
        item = statement.item.load(alias, row)
        item_order.set_cached_value(item, order)
        items.append(item)
    # What prefetch_related() stores (a queryset with its result cache filled): order.items.all()
    # then answers from it without a query.
    prefetched = order.items.all()
    prefetched._result_cache, prefetched._prefetch_done = items, True  # type: ignore[attr-defined]
    order._prefetched_objects_cache = {"items": prefetched}  # type: ignore[attr-defined]
    return order


_item_statements: dict[str, tuple[str, _Part]] = {}


def _item_statement(alias: str) -> tuple[str, _Part]:
    """The SQL reading an order's item body columns (:data:`ITEM_BODY_FIELDS`), in the order
    ``order.items.all()`` reads them, and its part; built once per database."""
    cached = _item_statements.get(alias)
    if cached is not None:
        return cached
    quote = connections[alias].ops.quote_name
    part = _part(OrderItem, frozenset(ITEM_BODY_FIELDS), "i", 0, alias)
    select = ", ".join(f"i.{quote(str(f.column))}" for f in part.fields)
    table = quote(OrderItem._meta.db_table)
    order, pk = (quote(str(_field(OrderItem, name).column)) for name in ("order", "id"))
    sql = f"SELECT {select} FROM {table} i WHERE i.{order} = %s ORDER BY i.{pk}"  # noqa: S608
    _item_statements[alias] = (sql, part)
    return sql, part


def order_body(order: Order) -> dict[str, Any]:
    """``order.to_voucherify()``, the same body, with its items read by one statement built
    once per database instead of a queryset the ORM compiles on every call (most of the CPU of
    ``checkout.redeem`` given an ``Order`` mirror). Items already loaded (``prefetch_related``,
    :func:`order_with_items`), an unsaved order and a subclass with its own ``to_voucherify()``
    (a shop's proxy adding to the body: the hook a single push asks too) go through
    ``to_voucherify()`` itself."""
    if (
        order.pk is None
        or "items" in getattr(order, "_prefetched_objects_cache", {})
        or type(order).to_voucherify is not Order.to_voucherify
    ):
        return order.to_voucherify()
    alias = router.db_for_read(OrderItem, instance=order)
    sql, part = _item_statement(alias)
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, [order.pk])
        rows = cursor.fetchall()
    names = part.attnames
    return order.to_voucherify(
        items=[item_body(**dict(zip(names, part.values(alias, row), strict=True))) for row in rows]
    )
