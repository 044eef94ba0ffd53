"""Reconciliation of redeems whose outcome is unknown (timeout, dropped connection, 500, 502,
504), and of PENDING rows whose caller died before recording the answer.

The redeem is never sent again. Voucherify is asked what it did instead: the redemptions listed
since the attempt (narrowed to the customer when known) that carry the attempt's
``metadata`` marker (:data:`~django_voucherify.models.ledger.REFERENCE_METADATA_KEY`). The
list-redemptions endpoint has no order filter (the spec's ``filters`` cover voucher, result,
customer, parent...), hence the marker.

Until ``CHECKOUT_RECONCILE_GRACE`` seconds have passed since the attempt, finding nothing
proves nothing (the request may still be in flight), so the row stays UNKNOWN.

A row concluded "not redeemed" that way (FAILED, ``not_redeemed``) is looked at once more,
``CHECKOUT_LATE_CHECK_AFTER`` seconds later (:func:`late_check`, from the periodic sweep): a
request a load balancer or the network held past the grace period may have been processed after
all; its redemption is then recorded, the row becomes ORPHANED and the redemption is rolled back.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import F
from django.utils import timezone

from .. import conf
from ..api.errors import VoucherifyError
from ..models.ledger import REFERENCE_METADATA_KEY, CheckoutRedemption, LedgerState
from ..models.orders import Order, OrderStatus
from .errors import message_for
from .ledger import apply_failure, apply_redeem_response, locked_update, request_rollback_on
from .rollback import ledger_id_of, request_rollback

if TYPE_CHECKING:
    from ..api.client import VoucherifyClient

logger = logging.getLogger("django_voucherify.checkout")

#: How far before the ledger row's creation the listing starts (clock skew between hosts).
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Found:
    """What Voucherify holds for one attempt."""

    parent: Mapping[str, Any] | None
    successes: list[Mapping[str, Any]]
    failures: list[Mapping[str, Any]]

    @property
    def redeemed(self) -> bool:
        return bool(self.successes or self.parent)

    def as_redeem_response(self) -> dict[str, Any]:
        """The redeem answer these redemptions amount to (for :func:`.ledger.apply_redeem_response`);
        only for an attempt that :attr:`redeemed`."""
        children = sorted(self.successes, key=lambda c: str(c.get("date") or ""))
        response: dict[str, Any] = {
            "redemptions": children,
            "order": (self.parent or children[0]).get("order") if (self.parent or children) else None,
        }
        if self.parent:
            response["parent_redemption"] = self.parent
        return response


def find_attempt(row: CheckoutRedemption, client: VoucherifyClient) -> Found:
    """Read back the redemptions tagged with ``row``'s reference (GET requests only)."""
    since = (row.created_at - CLOCK_SKEW).isoformat().replace("+00:00", "Z")
    params: dict[str, Any] = {"created_at": {"after": since}}
    if row.customer_source_id:
        params["customer"] = row.customer_source_id
    marker = str(row.reference)
    parent: Mapping[str, Any] | None = None
    successes: list[Mapping[str, Any]] = []
    failures: list[Mapping[str, Any]] = []
    # A 2xx page without its list (a proxy's ``{}``) raises InvalidResponseError (api.paging):
    # never "nothing listed", from which this would conclude "not redeemed" past the grace.
    for item in client.redemptions.iterate(**params):
        if item.get("object") != "redemption":
            continue  # rollbacks of earlier attempts
        if (item.get("metadata") or {}).get(REFERENCE_METADATA_KEY) != marker:
            continue
        if item.get("result") == "FAILURE":
            failures.append(item)
        elif item.get("related_object_type") == "redemption":
            parent = item
        else:
            successes.append(item)
    return Found(parent, successes, failures)


def read_back(row: CheckoutRedemption, client: VoucherifyClient) -> Found:
    """:func:`find_attempt`; a failed read counts as one of the row's reconcile attempts and is
    raised."""
    try:
        return find_attempt(row, client)
    except VoucherifyError:
        CheckoutRedemption.objects.filter(pk=row.pk).update(reconcile_attempts=F("reconcile_attempts") + 1)
        raise


#: Why reconciliation asks for the rollback of a redemption whose caller never learned of it.
CALLER_GONE_ROLLBACK_REASON = "checkout interrupted: the shop never learned the outcome"

#: Order mirror statuses meaning the shop completed the order (its payment went through).
COMPLETED_ORDER_STATUSES = (OrderStatus.PAID, OrderStatus.FULFILLED)


def order_completed(row: CheckoutRedemption) -> bool:
    """Whether the shop marked the row's order paid (or fulfilled) on the ``Order`` mirror."""
    orders = Order.objects.filter(status__in=COMPLETED_ORDER_STATUSES)
    if row.order_id is not None:
        return orders.filter(pk=row.order_id).exists()
    return orders.filter(source_id=row.order_source_id).exists()


def caller_gone(row: CheckoutRedemption, now: datetime) -> bool:
    """A PENDING row older than ``CHECKOUT_RECONCILE_GRACE``: the redeem call is bounded by the
    checkout timeout, so the process that sent it died before recording the answer."""
    grace = timedelta(seconds=conf.settings().checkout_reconcile_grace)
    return row.state == LedgerState.PENDING and now - row.created_at >= grace


def reconcile(
    ledger: CheckoutRedemption | int,
    *,
    client: VoucherifyClient | None = None,
    now: Any = None,
    roll_back: bool = True,
) -> CheckoutRedemption:
    """Settle an UNKNOWN row, or a PENDING row whose caller is gone, from what Voucherify lists.

    SUCCEEDED when redemptions carry the marker, FAILED when only failed redemptions do, or
    when nothing does once the grace period is over. A redemption found is then rolled back
    (``roll_back=False`` only records the rollback as asked for, for the Celery chain to send):

    - UNKNOWN rows: always; the caller was told the outcome was unknown and did not honour the
      discount (it refused, or charged the full price).
    - PENDING rows (the caller died before learning the outcome): unless the shop marked the
      order paid on the ``Order`` mirror; then the redemption is kept and the row flagged for
      staff to check the amount charged.

    A PENDING row within the grace period is returned untouched (its caller may be waiting for
    the answer). Returns the row; an UNKNOWN one stays so while the grace period runs. A failed
    read (Voucherify unreachable) counts as an attempt and is raised.
    """
    from .. import get_client

    ledger_id = ledger_id_of(ledger)
    row = CheckoutRedemption.objects.get(pk=ledger_id)
    now = now or timezone.now()
    if row.state == LedgerState.PENDING and not caller_gone(row, now):
        return row
    if row.state not in (LedgerState.UNKNOWN, LedgerState.PENDING):
        return row
    api = client or get_client()
    found = read_back(row, api)
    settled = found.redeemed
    grace_over = now - row.created_at >= timedelta(seconds=conf.settings().checkout_reconcile_grace)
    keep_for_paid_order = settled and row.state == LedgerState.PENDING and order_completed(row)

    def settle(r: CheckoutRedemption) -> bool | None:
        r.reconcile_attempts += 1
        if r.state not in (LedgerState.UNKNOWN, LedgerState.PENDING):
            return True
        was_pending = r.state == LedgerState.PENDING
        if settled:
            apply_redeem_response(r, found.as_redeem_response())
            if was_pending and keep_for_paid_order:
                r.needs_attention = True
                r.attention_reason = (
                    "redeemed but the checkout never recorded it; the order is "
                    "marked paid: check the amount charged"
                )
            elif was_pending:
                request_rollback_on(r, CALLER_GONE_ROLLBACK_REASON)
        elif found.failures:  # a refused request is final: it was answered
            code = str(found.failures[0].get("failure_code") or "")
            apply_failure(r, LedgerState.FAILED, code, message_for(code), None)
        elif grace_over:
            apply_failure(
                r,
                LedgerState.FAILED,
                "not_redeemed",
                "Voucherify holds no redemption for this attempt.",
                None,
            )
            r.late_check_at = now + timedelta(seconds=conf.settings().checkout_late_check_after)
        return True

    row = locked_update(ledger_id, settle)
    logger.info("Voucherify checkout: reconciled ledger row %s -> %s", row.pk, row.state)
    if row.rollback_pending and roll_back:
        row = request_rollback(row, row.rollback_reason, client=api)
    return row


#: Why the late check asks for the rollback of a redemption processed after the grace period.
LATE_LANDING_ROLLBACK_REASON = "redeem processed by Voucherify after the checkout attempt was given up"


def late_check(
    ledger: CheckoutRedemption | int,
    *,
    client: VoucherifyClient | None = None,
    now: Any = None,
    roll_back: bool = True,
) -> CheckoutRedemption:
    """The late look at a row reconciliation concluded "not redeemed" (FAILED, ``late_check_at``
    due): read the attempt's redemptions back once more (same marker query as :func:`reconcile`).

    Nothing live found: ``late_check_at`` is cleared, done for good. A redemption found (the
    request was processed after the grace period and its answer never reached anyone): its ids
    are recorded, the row becomes ORPHANED (not live: the order may hold a newer attempt, which
    is left alone), its rollback is asked for and the row flagged; the rollback is sent at once
    (``roll_back=False``: only asked for, for the Celery chain to send). A row no longer FAILED,
    or not due, is returned untouched. A failed read counts as a reconcile attempt and is raised
    (the late check stays due).
    """
    from .. import get_client

    ledger_id = ledger_id_of(ledger)
    row = CheckoutRedemption.objects.get(pk=ledger_id)
    now = now or timezone.now()
    if row.state != LedgerState.FAILED or row.late_check_at is None or row.late_check_at > now:
        return row
    api = client or get_client()
    found = read_back(row, api)
    landed = found.redeemed

    def settle(r: CheckoutRedemption) -> bool | None:
        if r.state != LedgerState.FAILED or r.late_check_at is None:
            return False  # settled otherwise meanwhile (e.g. the late answer reached the caller)
        r.reconcile_attempts += 1
        r.late_check_at = None
        if not landed:
            return True
        failure = f"{r.last_error_key}: {r.last_error}"
        apply_redeem_response(r, found.as_redeem_response())
        r.state = LedgerState.ORPHANED
        r.needs_attention = True
        r.attention_reason = (
            f"redeem processed by Voucherify after being marked failed ({failure}); found by the late check"
        )[:200]
        request_rollback_on(r, LATE_LANDING_ROLLBACK_REASON)
        return True

    row = locked_update(ledger_id, settle)
    if row.state == LedgerState.ORPHANED:
        logger.error(
            "Voucherify checkout: ledger row %s was concluded not redeemed, but Voucherify "
            "processed it later (%s); rolling it back.",
            row.pk,
            ", ".join(row.redemption_ids),
        )
    if row.rollback_pending and roll_back:
        row = request_rollback(row, row.rollback_reason, client=api)
    return row
