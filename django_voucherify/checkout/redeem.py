"""``redeem(codes, order, customer)``: redeem 1 to 30 codes for an order, exactly once; and
``redeem_then_pay``, the common "redeem, then charge payment" flow.

Flow 3 of the design guide::

    ledger row PENDING (committed; unique per order) -> POST /v1/redemptions (sent once, never
    retried, never after its deadline) -> ledger SUCCEEDED | FAILED | UNKNOWN (reconciled by
    reading redemptions back)

**The send deadline.** Reconciliation concludes "not redeemed" from an empty redemption list once
``CHECKOUT_RECONCILE_GRACE`` has passed since the ledger row was written. That conclusion is
only safe if no request for the row can still reach Voucherify afterwards. The connect and read
timeouts bound the network, but not what happens before the first byte leaves: DNS resolution
(not bounded by the connect timeout), a pool wait, GC, a paused container. So the body is handed
to the HTTP stack as a :class:`DeadlineBody` that checks the deadline when the stack reads it,
which is after DNS and the connect and immediately before the bytes go out. Past the deadline it
refuses to give any byte: the server gets headers with a ``Content-Length`` and no body, and the
connection is closed; an incomplete request is never processed.

The body also records whether any byte was handed out, so the caller knows for certain whether
an unexpected failure happened before the request could have left (safe to mark FAILED) or after
(outcome unknown).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.utils import timezone
from django.utils.translation import gettext

from .. import background, conf
from ..api.errors import APIError, TransportError, VoucherifyError
from ..models.ledger import REFERENCE_METADATA_KEY, CheckoutRedemption, LedgerState
from ..validation import storable_json
from . import cart, schedule
from .cart import RedeemOutcome, Totals, checkout_client
from .claim import claim
from .errors import (
    CheckoutError,
    CheckoutUnavailable,
    CodesRefused,
    InvalidCheckoutInput,
    message_for,
    unavailable_message,
)
from .ledger import (
    apply_failure,
    apply_redeem_response,
    locked_update,
    record_success_if_pending,
    redeem_answer_problem,
    redemption_ids_of,
    request_rollback_on,
)
from .rollback import check_reason, request_rollback
from .validate import (
    WithAutomatic,
    is_outage,
    is_shop_side,
    proceeds_without_discount,
    redeem_may_have_happened,
    validate_items,
    with_automatic,
    without_refused_automatic,
)

if TYPE_CHECKING:
    from ..api.client import VoucherifyClient

logger = logging.getLogger("django_voucherify.checkout")

UNKNOWN_ROLLBACK_REASON = "outcome unknown at checkout: discount not honoured"


def redeem(
    codes: Sequence[cart.CodeInput],
    order: cart.OrderInput,
    customer: cart.CustomerInput = None,
    *,
    session_key: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    tiers: Sequence[str] = (),
    automatic: bool = False,
    client: VoucherifyClient | None = None,
) -> RedeemOutcome:
    """Redeem ``codes`` and promotion ``tiers`` (stacked when several, codes first; gift credits,
    loyalty points and tiers among the codes through :class:`~django_voucherify.checkout.Redeemable`;
    the gift and loyalty cards marked as such last, paying what every discount leaves: see
    :func:`~.cart.in_stack_order`) for ``order``. The ledger row records the tiers (``tiers``)
    beside the codes (each in the order sent), with the same guarantees: at most one live
    redemption per order, rollback, reconciliation.

    Writes and commits a PENDING ledger row first, so it must not run inside a transaction
    (``ATOMIC_REQUESTS`` views: decorate with ``transaction.non_atomic_requests``). One HTTP
    call. Returns the final totals and redemption ids. Raises :class:`AlreadyRedeemed` when the
    order has a live redemption, :class:`CodesRefused` when Voucherify refuses the codes, and
    during an outage :class:`CheckoutUnavailable` (policy ``refuse``) or returns
    ``applied=False`` with undiscounted totals (``proceed_without_discount``).

    ``automatic=True`` also redeems the automatic promotions the order qualifies for:
    one qualifications call first (:func:`~django_voucherify.checkout.validate.with_automatic`),
    before the ledger row is written, then the qualifying tiers go in the same redeem request
    after ``codes`` and ``tiers`` (before the marked gift and loyalty cards), and the row
    records them. A refusal of that redeem by the
    automatic tiers alone (:func:`~django_voucherify.checkout.validate.without_refused_automatic`:
    one validation finds them) redeems the rest on a new row, the refused one staying FAILED
    (not when the order's rollback was asked for while that request was in flight: the order
    was cancelled). ``codes`` may then be empty; when nothing qualifies and nothing was given,
    :class:`InvalidCheckoutInput` (nothing written).
    If the qualifications call meets an outage: policy ``refuse`` raises
    :class:`CheckoutUnavailable` with nothing written (the order is free); policy
    ``proceed_without_discount`` redeems the codes given alone and says so
    (``automatic_unavailable``), or raises :class:`CheckoutUnavailable` when none was given.
    """
    if not automatic:
        return _redeem(cart.redeemables(codes, tiers), order, customer, session_key, metadata, client)
    api = client or checkout_client()
    found = with_automatic(codes, tiers, order, customer, api)
    if not found.items:
        if found.unavailable:
            raise CheckoutUnavailable()
        raise InvalidCheckoutInput(gettext("No automatic promotion applies to this order."))
    try:
        outcome = _redeem(found.items, order, customer, session_key, metadata, api)
    except CodesRefused as refused:
        if not _free_for_another_attempt(refused.ledger):
            raise
        rest = _without_refused_automatic(found, order, customer, api)
        if not rest:
            raise
        # The refused row is FAILED (a definite answer): the order is free for this attempt.
        outcome = _redeem(rest, order, customer, session_key, metadata, api)
    if not found.unavailable:
        return outcome
    return replace(outcome, automatic_unavailable=True, notice=outcome.notice or unavailable_message())


def _free_for_another_attempt(row: CheckoutRedemption | None) -> bool:
    """Whether the refused attempt leaves the order free for a second one: its row is FAILED
    by the refusal and nobody asked for its rollback meanwhile. A rollback asked for while the
    request was in flight is the order's cancellation (``rollback_order``), not that attempt's
    only: redeeming again on a new row would keep a cancelled order's discount (review 20)."""
    return row is not None and row.state == LedgerState.FAILED and row.rollback_requested_at is None


def _without_refused_automatic(
    found: WithAutomatic, order: cart.OrderInput, customer: cart.CustomerInput, api: VoucherifyClient
) -> list[cart.Redeemable] | None:
    """After a refused redeem with automatic tiers: one validation of the same stack tells
    whether only automatic tiers refused it (:func:`~.validate.without_refused_automatic`); the
    redeemables to redeem without them, or None (the refusal stands, also when the validation
    cannot tell)."""
    if not found.added:
        return None
    try:
        checked = validate_items(found.items, order, customer, api=api)
    except CheckoutError:
        return None
    return without_refused_automatic(checked, found)


def _redeem(
    items: list[cart.Redeemable],
    order: cart.OrderInput,
    customer: cart.CustomerInput,
    session_key: str | None,
    metadata: Mapping[str, Any] | None,
    client: VoucherifyClient | None,
) -> RedeemOutcome:
    """:func:`redeem` of ``items`` (normalised by :func:`cart.redeemables`)."""
    body = cart.request_body(items, order, customer)
    order_source_id = cart.order_source_id_of(order)
    # Everything that can refuse a setting runs before the ledger row is written: a row
    # committed and then abandoned by an ImproperlyConfigured would lock the order.
    conf.settings()
    api = client or checkout_client()
    window = timedelta(seconds=send_window(api))
    # The whole request is encoded before the row is written, its reference (the marker
    # reconciliation looks for) chosen here: a value that is not JSON (a datetime or a Decimal
    # in the metadata, the items or the customer, a NaN) used to fail after the commit, leaving
    # a PENDING row that locked the order until the grace period ran out.
    reference = uuid.uuid4()
    body["metadata"] = {**dict(metadata or {}), REFERENCE_METADATA_KEY: str(reference)}
    if session_key:
        body["session"] = {"key": session_key}
    payload = encode(body)
    row = claim(order_source_id, items, order, customer, body["order"].get("amount"), reference=reference)
    sent = DeadlineBody(payload, row.created_at + window)
    try:
        response = send_redeem(api, sent)
    except VoucherifyError as exc:
        return _record_error(row, exc)
    except SendDeadlinePassed as exc:
        return _record_not_sent(row, exc)
    except Exception as exc:
        _record_unexpected(row, exc, maybe_sent=sent.started)
        raise
    if problem := redeem_answer_problem(response):
        # A 2xx that is not Voucherify's answer (a proxy's page or JSON): outcome unknown.
        return _record_error(
            row,
            TransportError(f"redeem answered 2xx but {problem}", method="POST", path=REDEEM_PATH),
        )
    if not record_success_if_pending(row, response):  # one UPDATE, the common case
        row = locked_update(row.pk, lambda r: _record_success(r, response))
    if row.state != LedgerState.SUCCEEDED or row.rollback_requested_at is not None:
        return _taken_over(row)
    return RedeemOutcome(
        ledger=row,
        totals=Totals(row.amount or 0, row.discount_amount, row.total_amount or 0),
        redemption_ids=list(row.redemption_ids),
        parent_redemption_id=row.parent_redemption_id or None,
    )


def _record_success(row: CheckoutRedemption, response: Mapping[str, Any]) -> bool:
    if row.state == LedgerState.PENDING:
        apply_redeem_response(row, response)
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
    answer = redemption_ids_of(response)
    known = {row.parent_redemption_id, *row.redemption_ids}
    if not (answer - known):
        return False  # reconciliation found and recorded these very redemptions
    if row.state != LedgerState.FAILED:  # ids the row does not know on a settled row: a person
        row.needs_attention = True
        row.attention_reason = f"redeem answered late with unrecorded ids {sorted(answer - known)}"[:200]
        row.response = {**row.response, "late_answer": storable_json(dict(response))}
        return True
    failure = f"{row.last_error_key}: {row.last_error}"
    apply_redeem_response(row, response)
    row.state = LedgerState.ORPHANED
    row.late_check_at = None  # the answer in hand settles what the late check would look for
    row.needs_attention = True
    row.attention_reason = f"redeemed after being marked failed ({failure})"[:200]
    request_rollback_on(row, ORPHANED_ROLLBACK_REASON)
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


def _record_not_sent(row: CheckoutRedemption, exc: SendDeadlinePassed) -> RedeemOutcome:
    """The request stalled before leaving until its deadline passed: it was never sent (and
    reconciliation may already have concluded so). Nothing redeemed; handled as an outage."""
    logger.warning("Voucherify checkout: ledger row %s: %s", row.pk, exc)

    def mark(r: CheckoutRedemption) -> bool:
        if r.state != LedgerState.PENDING:
            return False  # reconciliation concluded "not redeemed" first, rightly
        apply_failure(r, LedgerState.FAILED, "not_sent", str(exc), None)
        return True

    row = locked_update(row.pk, mark)
    if proceeds_without_discount():
        return RedeemOutcome(
            ledger=row, totals=Totals.undiscounted(row.amount), applied=False, notice=unavailable_message()
        )
    raise CheckoutUnavailable(outcome_unknown=False, ledger=row) from exc


def _record_unexpected(row: CheckoutRedemption, exc: Exception, *, maybe_sent: bool) -> None:
    """Not a Voucherify answer (a bug, a setting read late): never leave the row PENDING. Not a
    byte sent: FAILED, the order is free. Maybe sent: UNKNOWN, reconciled and rolled back.
    Recorded and logged as every background step records what it did not expect
    (:func:`background.describe`: secrets masked, no traceback); the caller gets the exception."""
    described = background.log_unexpected(
        logger, f"Voucherify checkout: redeem for ledger row {row.pk} failed unexpectedly", exc
    )
    state = LedgerState.UNKNOWN if maybe_sent else LedgerState.FAILED

    def mark(r: CheckoutRedemption) -> bool:
        if r.state != LedgerState.PENDING:
            return False
        apply_failure(r, state, "unexpected_error", described[:500], None)
        if maybe_sent:
            request_rollback_on(r, UNKNOWN_ROLLBACK_REASON)
        return True

    row = locked_update(row.pk, mark)
    if row.state == LedgerState.UNKNOWN:
        schedule.reconcile_after_grace(row.pk)


def _record_error(row: CheckoutRedemption, exc: VoucherifyError) -> RedeemOutcome:
    request_id = getattr(exc, "request_id", None)
    if is_shop_side(exc):  # not redeemed; the keys need fixing, the codes are not at fault
        logger.error("Voucherify checkout: redeem refused the shop's credentials: %s", exc)
    elif not is_outage(exc) and isinstance(exc, APIError):
        message = message_for(exc.key, exc.error_message)

        def refuse(r: CheckoutRedemption) -> bool:
            if r.state != LedgerState.PENDING:
                return False  # reconciliation settled the row meanwhile: what it found stands
            apply_failure(r, LedgerState.FAILED, exc.key, message, request_id)
            return True

        row = locked_update(row.pk, refuse)
        raise CodesRefused(message, key=exc.key, request_id=request_id, ledger=row) from exc

    unknown = redeem_may_have_happened(exc)
    key = "timeout_or_no_response" if unknown else (getattr(exc, "key", None) or "unavailable")

    def mark(r: CheckoutRedemption) -> bool | None:
        if r.state != LedgerState.PENDING:
            return False  # reconciliation took the attempt over meanwhile
        apply_failure(r, LedgerState.UNKNOWN if unknown else LedgerState.FAILED, key, str(exc), request_id)
        if unknown:
            # Checkout goes on as if nothing was redeemed; whatever reconciliation finds is undone.
            request_rollback_on(r, UNKNOWN_ROLLBACK_REASON)
        return True

    row = locked_update(row.pk, mark)
    if unknown and row.state == LedgerState.UNKNOWN:
        logger.warning(
            "Voucherify checkout: redeem for order %s got no answer (%s); ledger row %s "
            "is UNKNOWN and will be reconciled.",
            row.order_source_id,
            exc,
            row.pk,
        )
        schedule.reconcile_after_grace(row.pk)
    if proceeds_without_discount():
        return RedeemOutcome(
            ledger=row, totals=Totals.undiscounted(row.amount), applied=False, notice=unavailable_message()
        )
    raise CheckoutUnavailable(outcome_unknown=unknown, ledger=row) from exc


# Sending once, never after the deadline (see the module docstring) ---------------------------

REDEEM_PATH = "/v1/redemptions"


class SendDeadlinePassed(Exception):  # a condition, not a crash
    """The request had not left when its deadline passed; it was not sent and never will be."""


def send_window(client: VoucherifyClient) -> float:
    """Seconds after the ledger row's creation within which the redeem must start leaving:
    the client's connect plus read timeout (what one unhindered attempt may take)."""
    connect, read = client.transport.timeout
    return float(connect or 0) + float(read or 0)


class DeadlineBody:
    """A request body that refuses to be read after ``deadline`` (see the module docstring)."""

    def __init__(self, payload: bytes, deadline: datetime) -> None:
        self._payload = payload
        self._offset = 0
        self.deadline = deadline
        #: True once any byte was handed to the HTTP stack: the request may have been received.
        self.started = False

    def __len__(self) -> int:  # requests sets Content-Length from it
        return len(self._payload)

    def read(self, size: int = -1) -> bytes:
        if self._offset < len(self._payload) and timezone.now() >= self.deadline:
            # Checked on every chunk: a body cut short is not a request the server can process.
            raise SendDeadlinePassed(f"redeem not sent: its deadline {self.deadline.isoformat()} passed")
        end = len(self._payload) if size is None or size < 0 else self._offset + size
        chunk = self._payload[self._offset : end]
        if chunk:
            self.started = True
        self._offset += len(chunk)
        return chunk


def send_redeem(client: VoucherifyClient, body: DeadlineBody) -> Any:
    """POST ``body`` to ``/v1/redemptions`` once (no retry, even when never sent: the deadline
    may have passed). The caller keeps ``body`` to learn whether anything left."""
    return client.transport.request(
        "POST", REDEEM_PATH, data=body, retry=False, headers={"Content-Type": "application/json"}
    )


def encode(body: dict[str, Any]) -> bytes:
    """The JSON bytes requests would send for ``json=body``; :class:`InvalidCheckoutInput` when
    ``body`` holds a value JSON cannot carry (nothing written or sent yet)."""
    try:
        return json.dumps(body, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:  # not serialisable, NaN or infinite, circular
        raise InvalidCheckoutInput(
            gettext("The redeem request holds a value that cannot be sent as JSON (%(problem)s).")
            % {"problem": exc}
        ) from None


# Redeem, then pay ---------------------------------------------------------------------------

T = TypeVar("T")


@dataclass(frozen=True)
class PaidCheckout(Generic[T]):
    redemption: RedeemOutcome
    payment: T


def redeem_then_pay(
    codes: Sequence[cart.CodeInput],
    order: cart.OrderInput,
    pay: Callable[[RedeemOutcome], T],
    customer: cart.CustomerInput = None,
    *,
    rollback_reason: str | None = None,
    **redeem_options: Any,
) -> PaidCheckout[T]:
    """Redeem ``codes`` for ``order``, then call ``pay(outcome)`` to charge
    ``outcome.totals.total_amount``.

    If ``pay`` raises, the redemption is rolled back (reason ``rollback_reason``) and the
    exception propagates. When the rollback call itself fails, Celery retries it with backoff
    until Voucherify confirms; the ledger row shows it pending meanwhile. Errors of the redeem
    (``CodesRefused``, ``CheckoutUnavailable``, ``AlreadyRedeemed``) propagate before any payment.
    A ``rollback_reason`` the ledger cannot store is refused first (:class:`InvalidCheckoutInput`,
    nothing redeemed): refused only when the payment failed, it left the redemption live.
    """
    if rollback_reason is not None:
        check_reason(rollback_reason)
    outcome = redeem(codes, order, customer, **redeem_options)
    try:
        payment = pay(outcome)
    except BaseException:
        if outcome.applied:
            request_rollback(outcome.ledger, rollback_reason or gettext("payment failed"))
        raise
    return PaidCheckout(outcome, payment)
