"""Claiming an order for a redeem: the PENDING ledger row, inserted and committed in one statement.

At most one redemption per order rests on two things, both checked by the database in the one
``INSERT`` that writes the row:

- the partial unique index ``voucherify_one_live_redemption_per_order`` (at most one PENDING,
  SUCCEEDED or UNKNOWN row per order): a concurrent insert for the same order waits on the index
  until the first commits, then fails with ``IntegrityError``;
- no ORPHANED row of the order still waiting for its rollback (a redemption answered after its
  attempt was given up is still live in Voucherify: a new one now would make two for the order).
  That condition is the ``WHERE NOT EXISTS`` of an ``INSERT ... SELECT``, so the check and the
  write are one round trip instead of a ``SELECT`` and then an ``INSERT``.

The same statement refuses an order whose ``Order`` mirror is CANCELED (:class:`OrderCanceled`):
the cancellation asked for the rollback of the rows the order had when it was saved, so a row
claimed afterwards would keep its redemption. On PostgreSQL the mirror's row is read ``FOR
SHARE``: a cancellation in flight (its ``UPDATE`` not committed yet, its receiver not having
seen this row) makes the claim wait for its commit and then see CANCELED; a claim first makes
the cancellation's ``UPDATE`` wait until the row is committed, which its receiver then sees.

The statement runs in autocommit, not inside ``transaction.atomic(durable=True)``: a single
statement is its own transaction, committed when it returns, which is what the redeem needs
before its request leaves (a crash or a timeout leaves a trace to reconcile from); the explicit
``BEGIN``/``COMMIT`` would only add two round trips. Being called inside somebody's transaction
is refused as ``durable=True`` would refuse it (the row would not be committed before the send).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connections, router, transaction
from django.db.models import Field

from ..models.ledger import CheckoutRedemption, LedgerState
from ..models.orders import Order, OrderStatus
from . import cart
from .errors import AlreadyRedeemed, OrderCanceled

OUTSIDE_TRANSACTION_ONLY = (
    "checkout.redeem() commits its ledger row before the request leaves: call it outside "
    "transaction.atomic() (in ATOMIC_REQUESTS views, decorate the view with "
    "transaction.non_atomic_requests)."
)


def claim(
    order_source_id: str,
    items: Sequence[cart.Redeemable],
    order: cart.OrderInput,
    customer: cart.CustomerInput,
    amount: int | None,
    *,
    reference: uuid.UUID | None = None,
) -> CheckoutRedemption:
    """Insert the PENDING row and commit it, or raise :class:`AlreadyRedeemed`. ``reference``:
    the row's marker, when the caller put it in the request already (a new one otherwise)."""
    row = CheckoutRedemption(
        reference=reference or uuid.uuid4(),
        order_source_id=order_source_id,
        order=order if isinstance(order, Order) else None,
        customer_source_id=cart.customer_source_id_of(customer)[:200],
        codes=[c.code for c in items if not c.is_tier],
        tiers=[c.code for c in items if c.is_tier],
        amount=amount,
    )
    for _attempt in range(3):
        try:
            if insert_unless_orphaned(row):
                return row
        except IntegrityError:
            live = CheckoutRedemption.objects.live().filter(order_source_id=order_source_id).first()
            if live is not None:
                raise AlreadyRedeemed(live) from None
            continue  # the live row turned FAILED/ROLLED_BACK in between: the order is free again
        orphan = _orphans(order_source_id).first()
        if orphan is not None:
            # The rollback (retried in the background) frees the order.
            raise AlreadyRedeemed(orphan)
        if Order.objects.filter(source_id=order_source_id, status=OrderStatus.CANCELED).exists():
            raise OrderCanceled()
        # The orphan's rollback completed in between: try again.
    raise AlreadyRedeemed(CheckoutRedemption.objects.filter(order_source_id=order_source_id).first() or row)


def _orphans(order_source_id: str):  # type: ignore[no-untyped-def]  # a queryset of rows
    """The order's ORPHANED rows whose rollback is pending: ``rollback_due()``'s condition for
    that one state (ORPHANED is one of its states), without its ``state IN (...)`` beside
    ``state = 'ORPHANED'``, which only cost the planner on every redeem's insert."""
    return CheckoutRedemption.objects.filter(
        order_source_id=order_source_id, state=LedgerState.ORPHANED, rollback_requested_at__isnull=False
    )


def insert_unless_orphaned(row: CheckoutRedemption) -> bool:
    """``INSERT`` ``row`` (committed on return) unless its order has an ORPHANED row whose
    rollback is pending or its ``Order`` mirror is CANCELED (then False, nothing written).
    Raises ``IntegrityError`` when the order has a live row. ``row`` is a new attempt: every
    column but :data:`CLAIMED_FIELDS` holds its default (else ``ValueError``, nothing written)."""
    alias = router.db_for_write(CheckoutRedemption)
    connection = connections[alias]
    if connection.atomic_blocks and not getattr(connection.atomic_blocks[-1], "_from_testcase", False):
        # The check transaction.atomic(durable=True) makes (test cases' own atomics excepted).
        raise RuntimeError(OUTSIDE_TRANSACTION_ONLY)
    statement = _insert_statement(alias)
    if any(getattr(row, attname) != default for attname, default in statement.defaults):
        raise ValueError("insert_unless_orphaned() writes a new PENDING row: only the claimed fields are set")
    values = [f.get_db_prep_save(f.pre_save(row, True), connection=connection) for f in statement.fields]
    params = [row.order_source_id if p is _ORDER else p for p in statement.check_params]
    # Only inside a test case's transaction is a savepoint needed (a failed insert must not
    # abort the test's transaction); in autocommit the statement is its own transaction.
    savepoint = transaction.atomic(using=alias) if connection.in_atomic_block else nullcontext()
    with savepoint, connection.cursor() as cursor:
        cursor.execute(statement.sql, [*values, *params])
        inserted = cursor.fetchone()
    if inserted is None:
        return False
    row.pk = inserted[0]
    row._state.adding, row._state.db = False, alias
    return True


#: The columns a claim writes per row (the others take their defaults, the same for every new
#: attempt, and are literals of the cached statement).
CLAIMED_FIELDS = frozenset(
    {"reference", "order_source_id", "order", "customer_source_id", "codes", "tiers", "amount"}
    | {"created_at", "updated_at"}  # the clock, read by pre_save
)

#: Stands for the order's source id in the cached statement's parameters.
_ORDER = object()


@dataclass(frozen=True)
class _Insert:
    fields: list[Field[Any, Any]]  # the claimed ones, their values parameters
    defaults: list[tuple[str, Any]]  # (attname, default) of the others, written as literals
    sql: str
    check_params: list[Any]  # the orphan and cancellation checks' (``_ORDER``: the order)


_statements: dict[str, _Insert] = {}


def _insert_statement(alias: str) -> _Insert:
    """The insert on ``alias``, compiled once per database, not on every redeem (compiling the
    statement cost more CPU than the rest of the claim). The columns outside
    :data:`CLAIMED_FIELDS` are written as literals of their defaults (quoted as migrations
    quote a default): converting and sending twenty-odd constant parameters on every redeem
    cost about as much CPU as the rest of the claim's Python."""
    cached = _statements.get(alias)
    if cached is not None:
        return cached
    connection = connections[alias]
    connection.ensure_connection()  # quoting a literal on PostgreSQL asks the connection
    quoting = connection.schema_editor()  # not entered: only its quote_value is used
    meta = CheckoutRedemption._meta
    fields: list[Field[Any, Any]] = [f for f in meta.concrete_fields if f is not meta.pk]
    claimed = [f for f in fields if f.name in CLAIMED_FIELDS]
    constant = [f for f in fields if f.name not in CLAIMED_FIELDS]
    quote = connection.ops.quote_name
    # ``SELECT %s`` has no column to take its type from: on PostgreSQL each value is cast to its
    # column's base type (``varchar`` without its length, so an over-long value still fails the
    # insert). SQLite's columns take any value.
    postgresql = connection.vendor == "postgresql"
    casts = [f"%s::{_base_type(f.db_type(connection))}" if postgresql else "%s" for f in claimed]
    literals = []
    for f in constant:
        literal = str(quoting.quote_value(f.get_db_prep_save(f.get_default(), connection=connection)))
        cast = f"::{_base_type(f.db_type(connection))}" if postgresql else ""
        literals.append(f"{literal}{cast}".replace("%", "%%"))  # the statement takes parameters
    marker = f"order-{uuid.uuid4().hex}"  # found among the compiled parameters, then replaced
    # Unordered: the model's ordering in an EXISTS only costs the planner.
    orphans_sql, compiled = _orphans(marker).order_by().values("pk").query.sql_with_params()
    if list(compiled).count(marker) != 1:
        raise AssertionError("the orphan check takes the order's source id exactly once")
    canceled_sql = _canceled_check(alias)
    columns = ", ".join(quote(str(f.column)) for f in [*claimed, *constant])
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) "
        f"SELECT {', '.join([*casts, *literals])} WHERE NOT EXISTS ({orphans_sql}) AND {canceled_sql} "
        f"RETURNING {quote(str(meta.pk.column))}"
    )
    params = [_ORDER if p == marker else p for p in compiled]
    statement = _Insert(
        claimed,
        [(str(f.attname), f.get_default()) for f in constant],
        sql,
        [*params, _ORDER, OrderStatus.CANCELED.value],
    )
    _statements[alias] = statement
    return statement


def _canceled_check(alias: str) -> str:
    """The condition "the order's mirror is not CANCELED" (parameters: the order's source id,
    then ``CANCELED``); true when there is no mirror. A scalar sub-select, so the status is
    compared after the row is locked (in a sub-select with the comparison inside, PostgreSQL
    filters on the old version before locking, and so never waits)."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    orders = Order._meta
    columns = {f.name: f.column for f in orders.concrete_fields}
    status, source_id = quote(str(columns["status"])), quote(str(columns["source_id"]))
    lock = " FOR SHARE" if connection.vendor == "postgresql" else ""
    status_of_order = f"SELECT {status} FROM {quote(orders.db_table)} WHERE {source_id} = %s{lock}"  # noqa: S608
    return f"COALESCE(({status_of_order}), '') <> %s"


def _base_type(db_type: str | None) -> str:
    """``varchar(200)`` -> ``varchar``; the ledger has no other parametrised column type."""
    if not db_type:
        raise TypeError("every ledger column has a database type")
    return db_type.split("(")[0]
