"""``redeem(codes, order, customer)``: redeem 1 to 30 codes for an order, exactly once.

Flow 3 of the design guide::

    ledger row PENDING (committed; unique per order) -> POST /v1/redemptions (sent once, never
    retried) -> ledger SUCCEEDED | FAILED | UNKNOWN (reconciled by reading redemptions back)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext

from .. import conf
from ..api.client import VoucherifyClient
from ..api.errors import APIError, TransportError, VoucherifyError
from ..models.ledger import CheckoutRedemption, LedgerState
from ..models.orders import Order
from . import payloads, records, sender
from .client import checkout_client
from .errors import AlreadyRedeemed, CheckoutUnavailable, CodesRefused
from .messages import message_for, unavailable_message
from .outage import is_outage, is_shop_side, proceeds_without_discount, redeem_may_have_happened
from .results import RedeemOutcome, Totals
from .rollback import request_rollback
from .schedule import schedule_reconcile

logger = logging.getLogger("django_voucherify.checkout")

UNKNOWN_ROLLBACK_REASON = "outcome unknown at checkout: discount not honoured"


def redeem(
    codes: Sequence[payloads.CodeInput],
    order: payloads.OrderInput,
    customer: payloads.CustomerInput = None,
    *,
    session_key: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    client: VoucherifyClient | None = None,
) -> RedeemOutcome:
    """Redeem ``codes`` (stacked when several; gift credits and loyalty points through
    :class:`~django_voucherify.checkout.payloads.Redeemable`) for ``order``.

    Writes and commits a PENDING ledger row first, so it must not run inside a transaction
    (``ATOMIC_REQUESTS`` views: decorate with ``transaction.non_atomic_requests``). One HTTP
    call. Returns the final totals and redemption ids. Raises :class:`AlreadyRedeemed` when the
    order has a live redemption, :class:`CodesRefused` when Voucherify refuses the codes, and
    during an outage :class:`CheckoutUnavailable` (policy ``refuse``) or returns
    ``applied=False`` with undiscounted totals (``proceed_without_discount``).
    """
    items = payloads.redeemables(codes)
    body = payloads.request_body(items, order, customer)
    source_id = payloads.order_source_id(order)
    # Everything that can refuse a setting runs before the ledger row is written: a row
    # committed and then abandoned by an ImproperlyConfigured would lock the order.
    conf.settings()
    api = client or checkout_client()
    row = _claim(source_id, items, order, customer, body["order"].get("amount"))
    body["metadata"] = {**dict(metadata or {}), **row.metadata_marker()}
    if session_key:
        body["session"] = {"key": session_key}
    sent = sender.DeadlineBody(sender.encode(body), sender.deadline_for(row.created_at, api))
    try:
        response = sender.send_redeem(api, sent)
    except VoucherifyError as exc:
        return _record_error(row, exc)
    except sender.SendDeadlinePassed as exc:
        return _record_not_sent(row, exc)
    except Exception as exc:
        _record_unexpected(row, exc, maybe_sent=sent.started)
        raise
    if problem := records.redeem_answer_problem(response):
        # A 2xx that is not Voucherify's answer (a proxy's page or JSON): outcome unknown.
        return _record_error(
            row,
            TransportError(f"redeem answered 2xx but {problem}", method="POST", path=sender.REDEEM_PATH),
        )
    row = records.locked_update(row.pk, lambda r: _record_success(r, response))
    if row.state != LedgerState.SUCCEEDED or row.rollback_requested_at is not None:
        return _taken_over(row)
    return RedeemOutcome(
        ledger=row,
        totals=Totals(row.amount or 0, row.discount_amount, row.total_amount or 0),
        redemption_ids=list(row.redemption_ids),
        parent_redemption_id=row.parent_redemption_id or None,
    )


def _claim(
    source_id: str,
    items: Sequence[payloads.Redeemable],
    order: payloads.OrderInput,
    customer: payloads.CustomerInput,
    amount: int | None,
) -> CheckoutRedemption:
    """Insert the PENDING row and commit it, or raise :class:`AlreadyRedeemed`.

    Two concurrent inserts for one order: PostgreSQL makes the second wait on the unique index
    until the first commits, then fails it, so only one request can ever be sent.
    """
    fields = {
        "order_source_id": source_id,
        "order": order if isinstance(order, Order) else None,
        "customer_source_id": payloads.customer_source_id(customer)[:200],
        "codes": [c.code for c in items],
        "amount": amount,
    }
    orphan = (
        CheckoutRedemption.objects.rollback_due()
        .filter(order_source_id=source_id, state=LedgerState.ORPHANED)
        .first()
    )
    if orphan is not None:
        # A redemption answered after its attempt was given up is still live in Voucherify:
        # a new one now would make two for the order. The rollback (retried) frees the order.
        raise AlreadyRedeemed(orphan)
    for _attempt in range(3):
        try:
            # durable: the row must be committed before the request leaves, so that a crash or a
            # timeout leaves a trace to reconcile from.
            with transaction.atomic(durable=True):
                return CheckoutRedemption.objects.create(**fields)
        except IntegrityError:
            live = CheckoutRedemption.objects.live().filter(order_source_id=source_id).first()
            if live is not None:
                raise AlreadyRedeemed(live) from None
            # The live row turned FAILED/ROLLED_BACK in between: the order is free again.
    raise AlreadyRedeemed(
        CheckoutRedemption.objects.filter(order_source_id=source_id).first() or CheckoutRedemption(**fields)
    )


def _record_success(row: CheckoutRedemption, response: Mapping[str, Any]) -> bool:
    if row.state == LedgerState.PENDING:
        records.apply_redeem_response(row, response)
        return True
    return _record_late_answer(row, response)


#: Why a redemption answered after its attempt was given up is rolled back.
ORPHANED_ROLLBACK_REASON = "redeem answered after the checkout attempt was given up"


def _record_late_answer(row: CheckoutRedemption, response: Mapping[str, Any]) -> bool:
    """Reconciliation took the attempt over before this answer arrived. An answer in hand is
    never discarded: if it names redemptions the row does not know (reconciliation concluded
    "not redeemed", e.g. Voucherify held the request past the grace period), they are recorded
    on the row, which becomes ORPHANED (holds a redemption, does not block the order, which may
    have a new attempt by now), their rollback is asked for, and the row is flagged."""
    answer = records.redemption_ids_of(response)
    known = {row.parent_redemption_id, *row.redemption_ids}
    if not (answer - known):
        return False  # reconciliation found and recorded these very redemptions
    if row.state != LedgerState.FAILED:  # ids the row does not know on a settled row: a person
        row.needs_attention = True
        row.attention_reason = f"redeem answered late with unrecorded ids {sorted(answer - known)}"[:200]
        row.response = {**row.response, "late_answer": dict(response)}
        return True
    failure = f"{row.last_error_key}: {row.last_error}"
    records.apply_redeem_response(row, response)
    row.state = LedgerState.ORPHANED
    row.late_check_at = None  # the answer in hand settles what the late check would look for
    row.needs_attention = True
    row.attention_reason = f"redeemed after being marked failed ({failure})"[:200]
    records.request_rollback_on(row, ORPHANED_ROLLBACK_REASON)
    return True


def _taken_over(row: CheckoutRedemption) -> RedeemOutcome:
    """The answer came after ``CHECKOUT_RECONCILE_GRACE`` (reconciliation already treated the
    caller as gone and settled the row, rolling back what it found), or the order's rollback
    was asked for while the request was in flight (cancelled): the discount must not be honoured
    now. Handled like an outage whose outcome is unknown."""
    logger.warning(
        "Voucherify checkout: redeem answer for ledger row %s came after reconciliation "
        "or a rollback request (%s); the discount is not applied.",
        row.pk,
        row.state,
    )
    if row.rollback_pending:  # cancelled while the redeem was in flight, or ORPHANED
        request_rollback(row, row.rollback_reason)
    if proceeds_without_discount():
        return RedeemOutcome(
            ledger=row, totals=Totals.undiscounted(row.amount), applied=False, notice=unavailable_message()
        )
    raise CheckoutUnavailable(outcome_unknown=True, ledger=row)


def _record_not_sent(row: CheckoutRedemption, exc: sender.SendDeadlinePassed) -> RedeemOutcome:
    """The request stalled before leaving until its deadline passed: it was never sent (and
    reconciliation may already have concluded so). Nothing redeemed; handled as an outage."""
    logger.warning("Voucherify checkout: ledger row %s: %s", row.pk, exc)

    def mark(r: CheckoutRedemption) -> bool:
        if r.state != LedgerState.PENDING:
            return False  # reconciliation concluded "not redeemed" first, rightly
        records.apply_failure(r, LedgerState.FAILED, "not_sent", str(exc), None)
        return True

    row = records.locked_update(row.pk, mark)
    if proceeds_without_discount():
        return RedeemOutcome(
            ledger=row, totals=Totals.undiscounted(row.amount), applied=False, notice=unavailable_message()
        )
    raise CheckoutUnavailable(outcome_unknown=False, ledger=row) from exc


def _record_unexpected(row: CheckoutRedemption, exc: Exception, *, maybe_sent: bool) -> None:
    """Not a Voucherify answer (a bug, a setting read late): never leave the row PENDING. Not a
    byte sent: FAILED, the order is free. Maybe sent: UNKNOWN, reconciled and rolled back."""
    logger.exception("Voucherify checkout: redeem for ledger row %s failed unexpectedly", row.pk)
    state = LedgerState.UNKNOWN if maybe_sent else LedgerState.FAILED

    def mark(r: CheckoutRedemption) -> bool:
        if r.state != LedgerState.PENDING:
            return False
        records.apply_failure(r, state, "unexpected_error", repr(exc)[:500], None)
        if maybe_sent:
            records.request_rollback_on(r, UNKNOWN_ROLLBACK_REASON)
        return True

    row = records.locked_update(row.pk, mark)
    if row.state == LedgerState.UNKNOWN:
        schedule_reconcile(row.pk, countdown=conf.settings().checkout_reconcile_grace)


def _record_error(row: CheckoutRedemption, exc: VoucherifyError) -> RedeemOutcome:
    request_id = getattr(exc, "request_id", None)
    if is_shop_side(exc):  # not redeemed; the keys need fixing, the codes are not at fault
        logger.error("Voucherify checkout: redeem refused the shop's credentials: %s", exc)
    elif not is_outage(exc) and isinstance(exc, APIError):
        message = message_for(exc.key, exc.error_message)

        def refuse(r: CheckoutRedemption) -> bool:
            if r.state != LedgerState.PENDING:
                return False  # reconciliation settled the row meanwhile: what it found stands
            records.apply_failure(r, LedgerState.FAILED, exc.key, message, request_id)
            return True

        row = records.locked_update(row.pk, refuse)
        raise CodesRefused(message, key=exc.key, request_id=request_id, ledger=row) from exc

    unknown = redeem_may_have_happened(exc)
    key = "timeout_or_no_response" if unknown else (getattr(exc, "key", None) or "unavailable")

    def mark(r: CheckoutRedemption) -> bool | None:
        if r.state != LedgerState.PENDING:
            return False  # reconciliation took the attempt over meanwhile
        records.apply_failure(
            r, LedgerState.UNKNOWN if unknown else LedgerState.FAILED, key, str(exc), request_id
        )
        if unknown:
            # Checkout goes on as if nothing was redeemed; whatever reconciliation finds is undone.
            records.request_rollback_on(r, UNKNOWN_ROLLBACK_REASON)
        return True

    row = records.locked_update(row.pk, mark)
    if unknown and row.state == LedgerState.UNKNOWN:
        logger.warning(
            "Voucherify checkout: redeem for order %s got no answer (%s); ledger row %s "
            "is UNKNOWN and will be reconciled.",
            row.order_source_id,
            exc,
            row.pk,
        )
        schedule_reconcile(row.pk, countdown=conf.settings().checkout_reconcile_grace)
    if proceeds_without_discount():
        return RedeemOutcome(
            ledger=row, totals=Totals.undiscounted(row.amount), applied=False, notice=unavailable_message()
        )
    raise CheckoutUnavailable(outcome_unknown=unknown, ledger=row) from exc


def already_redeemed_message(row: CheckoutRedemption) -> str:
    """What to tell a customer whose order already has a live (or unknown) redemption."""
    if row.state == LedgerState.SUCCEEDED:
        return gettext("Vouchers have already been applied to this order.")
    return unavailable_message()
