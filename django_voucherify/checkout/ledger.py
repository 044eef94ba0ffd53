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
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..models.ledger import CheckoutRedemption, LedgerState
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
    apply_redeem_response(row, response)
    row.updated_at = timezone.now()  # auto_now only applies to save()
    written = CheckoutRedemption.objects.filter(
        pk=row.pk, state=LedgerState.PENDING, rollback_requested_at__isnull=True
    ).update(**{name: getattr(row, name) for name in SUCCESS_FIELDS})
    return written == 1


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


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
    if parent is not None and not (isinstance(parent, Mapping) and _is_id(parent.get("id"))):
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


def apply_redeem_response(row: CheckoutRedemption, response: Mapping[str, Any]) -> None:
    """Copy a redeem response (``redemptions``, ``parent_redemption``, ``order``) onto ``row``."""
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
    row.response = dict(response)


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
