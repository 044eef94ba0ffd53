"""What the checkout steps write on their ledger row (``CheckoutRedemption``): each transition in
a short transaction holding the row's lock (``select_for_update`` inside ``atomic``, as
django-oscar does around voucher usage), and whether a redeem answer is fit to be recorded.

Redeem, reconciliation and rollback all record through these, so a row reads the same whichever
step settled it.

The redeem's own two writes, on the hot path of every checkout, are single statements in
autocommit instead (see :mod:`.claim`): the PENDING insert, and the PENDING -> SUCCEEDED update
(:func:`record_success_if_pending`), a conditional ``UPDATE ... WHERE state = 'PENDING'``.
PostgreSQL re-checks that condition on the newest row version after waiting for any lock holder,
so it is exactly as safe as lock-read-write for this one transition; when it matches nothing
(reconciliation or a rollback request got there first) the caller falls back to
:func:`locked_update`.

On PostgreSQL that update's commit does not wait for the WAL flush (``synchronous_commit`` off
for its own transaction only, set by the statement itself): the flush is a disk sync, the
biggest single cost of a redeem after the PENDING insert's own (which stays synchronous: that
row must be durable before the request leaves). Losing the success is harmless: only a database
crash within the WAL writer's delay (``wal_writer_delay``, 200 ms by default) can, and then
nothing committed durably after it survived either (a later synchronous commit, such as the
shop marking the order paid, flushes the WAL up to it); the row is PENDING again, exactly the
"caller died before recording the answer" that reconciliation settles from Voucherify's
redemptions (kept when the order is marked paid, rolled back otherwise).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Field
from django.utils import timezone

from ..models.ledger import CheckoutRedemption, LedgerState
from ..validation import storable_json_text
from .cart import Totals


def locked_update(ledger_id: int, change: Callable[[CheckoutRedemption], bool | None]) -> CheckoutRedemption:
    """Lock the row, let ``change`` edit it, save it (unless ``change`` returns False)."""
    with transaction.atomic():
        row = CheckoutRedemption.objects.select_for_update().get(pk=ledger_id)
        if change(row) is not False:
            row.save()
    return row


#: The columns :func:`apply_redeem_response` writes (plus ``updated_at``).
SUCCESS_FIELDS = (
    "state",
    "parent_redemption_id",
    "redemption_ids",
    "amount",
    "discount_amount",
    "total_amount",
    "last_error_key",
    "last_error",
    "redeemed_at",
    "response",
    "updated_at",
)


def record_success_if_pending(row: CheckoutRedemption, response: Mapping[str, Any]) -> bool:
    """Record ``response`` on ``row`` in one conditional UPDATE, if the row is still PENDING with
    no rollback asked for (the common case). False: nothing written (``row`` is then stale; the
    caller re-reads it under its lock)."""
    response_text = apply_redeem_response(row, response)
    row.updated_at = timezone.now()  # auto_now only applies to save()
    alias = router.db_for_write(CheckoutRedemption)
    connection = connections[alias]
    # Inside a transaction (a test case's) the statement is not its own transaction: the
    # enclosing one decides how it commits.
    fields, sql = _success_statement(alias, asynchronous=not connection.in_atomic_block)
    # On PostgreSQL the answer goes as the JSON text already made (jsonb stores the value the
    # text parses to, whatever its escapes): the field would encode it a second time. Elsewhere
    # the column keeps the text as sent (SQLite: an exact lookup compares it), so the field
    # encodes it, as every other write of the column does (non-ASCII escaped).
    raw_text = connection.vendor == "postgresql"
    values = [
        response_text
        if raw_text and f is _RESPONSE
        else f.get_db_prep_save(getattr(row, f.attname), connection)
        for f in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, row.pk, LedgerState.PENDING.value])
        written: int = cursor.rowcount
    return written == 1


_success_statements: dict[tuple[str, bool], tuple[list[Field[Any, Any]], str]] = {}
#: The ledger's ``response`` field: the success UPDATE gives it the answer's JSON text.
_RESPONSE = CheckoutRedemption._meta.get_field("response")


def _success_statement(alias: str, *, asynchronous: bool) -> tuple[list[Field[Any, Any]], str]:
    """The fields and SQL of the success update on ``alias``, built once per database (building
    the ``QuerySet.update`` each time cost more CPU than sending it). ``asynchronous`` (on
    PostgreSQL): the statement's own transaction commits without waiting for the WAL flush
    (see the module docstring); ``set_config(..., true)`` ends with that transaction."""
    key = (alias, asynchronous)
    cached = _success_statements.get(key)
    if cached is not None:
        return cached
    connection = connections[alias]
    meta = CheckoutRedemption._meta
    quote = connection.ops.quote_name
    columns: dict[str, Field[Any, Any]] = {f.name: f for f in meta.concrete_fields}
    fields = [columns[name] for name in SUCCESS_FIELDS]
    if any(getattr(f, "get_placeholder_sql", None) for f in fields):
        raise TypeError("every success column takes a plain %s parameter")
    assignments = ", ".join(f"{quote(str(f.column))} = %s" for f in fields)
    pk, state, rollback = (
        quote(str(columns[name].column)) for name in ("id", "state", "rollback_requested_at")
    )
    where = f"{pk} = %s AND {state} = %s AND {rollback} IS NULL"
    if asynchronous and connection.vendor == "postgresql":
        # Evaluated for the row written, before the statement's transaction commits (a
        # sub-select in FROM did the same and cost the planner more, on every redeem).
        no_flush_wait = " RETURNING set_config('synchronous_commit', 'off', true)"
    else:
        no_flush_wait = ""
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {where}{no_flush_wait}"  # noqa: S608
    _success_statements[key] = (fields, sql)
    return fields, sql


#: The longest parent redemption id the ledger stores (its column's length).
MAX_PARENT_ID_LENGTH = 64


def _is_id(value: Any, max_length: int | None = None) -> bool:
    """An id the ledger can store: text, not blank, no NUL (PostgreSQL refuses it in text and
    JSON: recording the answer would fail after the redemption was made), and not too long."""
    return (
        isinstance(value, str)
        and bool(value.strip())
        and "\x00" not in value
        and (max_length is None or len(value) <= max_length)
    )


def _is_amount(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool))


def redeem_answer_problem(response: Any) -> str | None:
    """Why a 2xx redeem answer is not Voucherify's (a proxy's or a gateway's JSON, a truncated
    object), or None. Such an answer proves nothing: the redemption may exist, so it must not be
    recorded as SUCCEEDED (a row without redemption ids cannot be rolled back) and must not
    crash the recording either; the caller treats it as an unknown outcome and reconciles.

    Expected: ``redemptions`` a non-empty list of objects with an ``id``; ``parent_redemption``
    (required when there are several) an object with an ``id``; ``order`` absent or an object
    whose amounts are integers."""
    if not isinstance(response, Mapping):
        return "is not a JSON object"
    children = response.get("redemptions")
    if not isinstance(children, list) or not children:
        return "names no redemptions"
    if not all(isinstance(c, Mapping) and _is_id(c.get("id")) for c in children):
        return "has a redemption without an id"
    parent = response.get("parent_redemption")
    if parent is not None and not (
        isinstance(parent, Mapping) and _is_id(parent.get("id"), MAX_PARENT_ID_LENGTH)
    ):
        return "has a parent redemption without an id"
    if parent is None and len(children) > 1:
        return "has several redemptions and no parent redemption"
    order = response.get("order")
    if order is not None and not isinstance(order, Mapping):
        return "has an order that is not an object"
    if isinstance(order, Mapping) and not all(
        _is_amount(order.get(k)) for k in ("amount", "total_discount_amount", "total_amount")
    ):
        return "has order amounts that are not whole numbers"
    return None


def _failed_rollback(item: Any) -> bool:
    return isinstance(item, Mapping) and item.get("result") == "FAILURE"


def rollback_answer_problem(response: Any, *, stacked: bool) -> str | None:
    """Why a 2xx rollback answer does not prove the rollback (a proxy's or a gateway's JSON, a
    truncated object, a rollback reported as failed), or None. Only a proof ends a rollback:
    recorded ROLLED_BACK on anything less, the redemption stayed live in Voucherify and
    nothing would ever retry it. The caller treats it as an outage (retried: a rollback that
    did happen is then answered ``already_rolled_back``).

    Expected: a single rollback, the ``RedemptionRollback`` with its ``id``; a stacked one, a
    ``parent_rollback`` with its ``id`` and each of its ``rollbacks`` an object with its ``id``;
    neither nor any of its ``rollbacks`` ``FAILURE``."""
    if not isinstance(response, Mapping):
        return "is not a JSON object"
    if stacked:
        parent = response.get("parent_rollback")
        if not (isinstance(parent, Mapping) and _is_id(parent.get("id"))):
            return "names no parent rollback"
        children = response.get("rollbacks") or []
        if not isinstance(children, list):
            return "has rollbacks that are not a list"
        if not all(isinstance(c, Mapping) and _is_id(c.get("id")) for c in children):
            # As a redeem answer's redemptions: recording null or a bare id raised
            # AttributeError, an id with a NUL a database error, after Voucherify rolled back.
            return "has a rollback without an id"
        if _failed_rollback(parent) or any(_failed_rollback(c) for c in children):
            return "reports a failed rollback"
        return None
    if not _is_id(response.get("id")):
        return "names no rollback"
    if _failed_rollback(response):
        return "reports a failed rollback"
    return None


def apply_redeem_response(row: CheckoutRedemption, response: Mapping[str, Any]) -> str:
    """Copy a redeem response (``redemptions``, ``parent_redemption``, ``order``) onto ``row``;
    returns the JSON text of what ``row.response`` now holds."""
    parent = response.get("parent_redemption") or {}
    row.state = LedgerState.SUCCEEDED
    row.parent_redemption_id = str(parent.get("id") or "")
    row.redemption_ids = [str(r["id"]) for r in response.get("redemptions") or [] if r.get("id")]
    totals = Totals.from_order(response.get("order"), row.amount)
    row.amount, row.discount_amount, row.total_amount = (
        totals.amount,
        totals.discount_amount,
        totals.total_amount,
    )
    row.last_error_key = row.last_error = ""
    row.redeemed_at = timezone.now()
    # Stored as the database can (a NUL or a lone surrogate replaced): the answer echoes the
    # shop's metadata and the voucher's, and refusing it would leave the row PENDING, the
    # redemption made, and reconciliation failing on the same text for ever.
    row.response, text = storable_json_text(dict(response))
    return text


def redemption_ids_of(response: Mapping[str, Any]) -> set[str]:
    """Every redemption id a redeem response names (parent and per-code)."""
    parent = response.get("parent_redemption") or {}
    ids = {str(r["id"]) for r in response.get("redemptions") or [] if r.get("id")}
    return ids | ({str(parent["id"])} if parent.get("id") else set())


def apply_failure(
    row: CheckoutRedemption, state: str, key: str | None, message: str, request_id: str | None
) -> None:
    row.state = state
    row.last_error_key = (key or "")[:64]
    row.last_error = message
    row.last_request_id = request_id or row.last_request_id


def request_rollback_on(row: CheckoutRedemption, reason: str) -> bool:
    """Mark the rollback as asked for (first reason kept). Returns whether anything changed."""
    if row.rollback_requested_at is not None:
        return False
    row.rollback_requested_at = timezone.now()
    row.rollback_reason = reason[:200]
    return True
