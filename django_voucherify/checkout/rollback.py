"""``rollback(...)``: undo a checkout redemption (stacked ones through their parent).

A rollback may safely be sent again: a second one is answered ``already_rolled_back``, which
counts as done. So unlike redeem, a failed rollback is simply retried (from Celery, with
backoff) until Voucherify confirms it; the ledger row shows the attempts and the last error.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from ..api.errors import APIError, RateLimitedError, TransportError, VoucherifyError
from ..models.ledger import ROLLBACK_STATES, CheckoutRedemption, LedgerState
from ..validation import text_problem
from . import schedule
from .cart import checkout_client
from .errors import InvalidCheckoutInput, RollbackFailed
from .ledger import locked_update, request_rollback_on, rollback_answer_problem
from .validate import is_outage

if TYPE_CHECKING:
    from ..api.client import VoucherifyClient

logger = logging.getLogger("django_voucherify.checkout")

#: Voucherify's answer to a rollback of something already rolled back: the goal is reached.
ALREADY_ROLLED_BACK = "already_rolled_back"


def check_reason(reason: str) -> None:
    """Refuse a rollback ``reason`` the ledger cannot store (PostgreSQL refuses a NUL in text:
    a database error after the row was locked, a 500 page in the admin)."""
    if problem := text_problem(reason):
        raise InvalidCheckoutInput(problem)


def ledger_id_of(ledger: CheckoutRedemption | int) -> int:
    """The id of ``ledger``: the public services take the row or its id."""
    return ledger if isinstance(ledger, int) else ledger.pk


def rollback(
    ledger: CheckoutRedemption | int, reason: str = "", *, client: VoucherifyClient | None = None
) -> CheckoutRedemption:
    """Undo ledger row ``ledger`` now, with ``reason`` (sent to Voucherify and kept).

    Returns the row: ROLLED_BACK when done; FAILED rows have nothing to undo; for a PENDING or
    UNKNOWN row the rollback is only recorded as asked for (reconciliation carries it out once
    the redemption is found). Raises :class:`RollbackFailed` when the call fails; the rollback
    stays asked for whatever the answer (``refused`` for a 4xx: the row is also flagged).
    Raises :class:`InvalidCheckoutInput` for a ``reason`` the ledger cannot store (a NUL
    character, a lone surrogate), nothing written or sent.
    """
    check_reason(reason)
    ledger_id = ledger_id_of(ledger)

    def claim(row: CheckoutRedemption) -> bool | None:
        changed = request_rollback_on(row, reason or gettext("rolled back"))
        if row.state in ROLLBACK_STATES:
            row.rollback_attempts += 1
            return True
        return changed

    row = locked_update(ledger_id, claim)
    if row.state not in ROLLBACK_STATES:
        return row
    api = client or checkout_client()
    stacked = bool(row.parent_redemption_id)
    try:
        if stacked:
            response: Mapping[str, Any] = api.redemptions.rollback_stacked(
                row.parent_redemption_id, reason=row.rollback_reason or None
            )
        else:
            response = api.redemptions.rollback(row.redemption_ids[0], reason=row.rollback_reason or None)
    except VoucherifyError as exc:
        if isinstance(exc, APIError) and exc.key == ALREADY_ROLLED_BACK:
            response = {}
        else:
            raise _failed(ledger_id, exc) from exc
    else:
        if problem := rollback_answer_problem(response, stacked=stacked):
            # A 2xx that is not Voucherify's proof (a proxy's JSON): as if unanswered, retried.
            path = (
                f"/v1/redemptions/{row.parent_redemption_id}/rollbacks"
                if stacked
                else f"/v1/redemptions/{row.redemption_ids[0]}/rollback"
            )
            raise _failed(
                ledger_id, TransportError(f"rollback answered 2xx but {problem}", method="POST", path=path)
            )
    return locked_update(ledger_id, lambda r: _apply_rollback(r, response))


def _failed(ledger_id: int, exc: VoucherifyError) -> RollbackFailed:
    """Record ``exc`` on the row (the rollback stays asked for) and the error to raise."""
    refused = not is_outage(exc)
    _record_rollback_error(ledger_id, exc, refused=refused)
    retry_after = exc.retry_after if isinstance(exc, RateLimitedError) else None
    return RollbackFailed(
        str(exc),
        refused=refused,
        retry_after=retry_after,
        ledger=CheckoutRedemption.objects.get(pk=ledger_id),
    )


def _apply_rollback(row: CheckoutRedemption, response: Mapping[str, Any]) -> bool:
    if row.state not in ROLLBACK_STATES:
        return False  # another worker recorded it first
    ids = [str(rr["id"]) for rr in response.get("rollbacks") or [] if rr.get("id")]
    for single in (response.get("parent_rollback"), response if response.get("id") else None):
        if isinstance(single, Mapping) and single.get("id"):
            ids.insert(0, str(single["id"]))
    row.state = LedgerState.ROLLED_BACK
    row.rollback_ids = ids
    row.rollback_error = ""
    row.rolled_back_at = timezone.now()
    return True


def _record_rollback_error(ledger_id: int, exc: VoucherifyError, *, refused: bool) -> None:
    """Keep the error; the rollback stays asked for. Only an answer proving the redemption is
    rolled back ends it: a 401/403 means "fix the keys", a 404 may be the wrong project, a 400
    a bug on either side. So a refusal is retried with backoff too, and flagged for staff."""
    request_id = getattr(exc, "request_id", None)
    text = f"{exc}" + (f" (request_id={request_id})" if request_id and "request_id" not in str(exc) else "")

    def note(row: CheckoutRedemption) -> bool:
        if not row.rollback_pending:
            return False  # another worker's rollback was confirmed meanwhile: nothing to flag
        row.rollback_error = text
        if refused:
            row.needs_attention = True
            row.attention_reason = f"rollback refused by Voucherify: {text}"[:200]
        return True

    locked_update(ledger_id, note)


def request_rollback(
    ledger: CheckoutRedemption | int, reason: str = "", *, client: VoucherifyClient | None = None
) -> CheckoutRedemption:
    """Roll back now if Voucherify answers; otherwise hand the rollback to Celery, which retries
    it with backoff until Voucherify confirms. Never raises for a failed call; the returned row
    tells the state (``rollback_pending`` while it is not done). A refusal (e.g. 401, 404,
    ``invalid_redemption``) is also kept in ``rollback_error``, flagged and logged as an error."""
    try:
        return rollback(ledger, reason, client=client)
    except RollbackFailed as exc:
        return retry_failed_rollback(exc)


def retry_failed_rollback(exc: RollbackFailed) -> CheckoutRedemption:
    """After :func:`rollback` raised ``exc``: log it and hand the rollback to Celery, which
    retries it with backoff (the rollback stays asked for); returns the row."""
    assert exc.ledger is not None
    row = exc.ledger
    log = logger.error if exc.refused else logger.warning
    log(
        "Voucherify checkout: rollback of ledger row %s failed (%s); retrying from Celery.",
        row.pk,
        exc.message,
    )
    # Refused (False) when a task chain already holds the row: that chain sends it.
    schedule.retry_rollback(row.pk, row.rollback_attempts, exc.retry_after)
    return row


def roll_back_canceled_order(order_source_id: str) -> None:
    """An order mirror became CANCELED: ask for the rollback of its live redemptions. Called by
    the mirror's ``post_save`` receiver and by the sync registry, whose one-statement upsert
    sends no ``post_save`` (a shop order cancelled through its mapping used to keep its
    redemptions). One indexed existence check when the order has none."""
    if CheckoutRedemption.objects.live().filter(order_source_id=order_source_id).exists():
        rollback_order(order_source_id, "order canceled")


def rollback_order(order_source_id: str, reason: str) -> list[CheckoutRedemption]:
    """Ask for the rollback of every live redemption of an order (cancellation, refund).

    Only DB writes here (safe inside the caller's transaction); Celery sends the rollbacks after
    commit, and reconciliation handles rows whose outcome is still unknown. A ``reason`` the
    ledger cannot store raises :class:`InvalidCheckoutInput`. Returns the order's live rows.
    """
    live = CheckoutRedemption.objects.live().filter(order_source_id=order_source_id)
    with transaction.atomic():
        defer_rollbacks(live, reason)
        return list(live.order_by("pk"))


#: Rollbacks :func:`defer_rollbacks` hands to Celery itself (an order's few rows); the rest of a
#: larger set (an admin's "select all") are left due for the periodic sweep, which sends
#: ``SWEEP_BATCH`` a run: a lease and a task per row, sent from the request, outlasted any WSGI
#: worker's timeout past a few thousand rows, every row locked meanwhile.
DEFER_SEND_LIMIT = 100


def defer_rollbacks(
    rows: QuerySet[CheckoutRedemption], reason: str, *, send_at_most: int | None = None
) -> int:
    """Ask for the rollback of ``rows`` (first reason kept) and leave sending it to Celery,
    once the transaction commits: no call here (an order's cancellation, the admin's rows left
    after Voucherify could not be reached). Returns how many rows ``rows`` holds. Marked in one
    ``UPDATE`` whatever their number; ``send_at_most`` (:data:`DEFER_SEND_LIMIT`) rollbacks are
    scheduled here, the rest are sent by the sweep (they are due, unleased); 0: the caller
    sends them itself, and the sweep only if it cannot (a request killed midway). UNKNOWN rows
    are settled by their reconciliation first, as before. A ``reason`` the ledger cannot store
    raises :class:`InvalidCheckoutInput`."""
    check_reason(reason)
    selected = CheckoutRedemption.objects.filter(pk__in=rows.order_by().values("pk"))
    now = timezone.now()
    with transaction.atomic():
        # ``updated_at`` by hand: update() skips auto_now.
        selected.filter(rollback_requested_at__isnull=True).update(
            rollback_requested_at=now, rollback_reason=reason[:200], updated_at=now
        )
        due = selected.filter(state__in=ROLLBACK_STATES).order_by("pk").values_list("pk", flat=True)
        for pk in due[: DEFER_SEND_LIMIT if send_at_most is None else send_at_most]:
            schedule.schedule_rollback(pk)
        return selected.count()
