"""Reconciliation of redeems whose outcome is unknown (timeout, dropped connection, 500).

The redeem is never sent again. Voucherify is asked what it did instead: the redemptions listed
since the attempt (narrowed to the customer when known) that carry the attempt's
``metadata`` marker (:data:`~django_voucherify.models.ledger.REFERENCE_METADATA_KEY`). The
list-redemptions endpoint has no order filter (the spec's ``filters`` cover voucher, result,
customer, parent...), hence the marker.

Until ``CHECKOUT_RECONCILE_GRACE`` seconds have passed since the attempt, finding nothing
proves nothing (the request may still be in flight), so the row stays UNKNOWN.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone

from ..api.client import VoucherifyClient
from ..models.ledger import REFERENCE_METADATA_KEY, CheckoutRedemption, LedgerState
from . import records
from .conf import checkout_settings
from .messages import message_for
from .rollback import request_rollback

logger = logging.getLogger("django_voucherify.checkout")

#: How far before the ledger row's creation the listing starts (clock skew between hosts).
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Found:
    """What Voucherify holds for one attempt."""

    parent: Mapping[str, Any] | None
    successes: list[Mapping[str, Any]]
    failures: list[Mapping[str, Any]]


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


def reconcile(ledger: CheckoutRedemption | int, *, client: VoucherifyClient | None = None,
              now: Any = None) -> CheckoutRedemption:
    """Settle an UNKNOWN (or long PENDING) row from what Voucherify lists.

    SUCCEEDED when redemptions carry the marker (then rolled back if a rollback was asked for,
    which is always the case for outcomes unknown at checkout), FAILED when only failed
    redemptions do, or when nothing does once the grace period is over. Returns the row; it
    stays as it was while the grace period runs.
    """
    from .. import get_client

    pk = ledger if isinstance(ledger, int) else ledger.pk
    row = CheckoutRedemption.objects.get(pk=pk)
    if row.state not in (LedgerState.UNKNOWN, LedgerState.PENDING):
        return row
    api = client or get_client()
    found = find_attempt(row, api)
    settled = bool(found.successes or found.parent)
    grace_over = (now or timezone.now()) - row.created_at >= timedelta(
        seconds=checkout_settings().reconcile_grace)

    def settle(r: CheckoutRedemption) -> bool | None:
        r.reconcile_attempts += 1
        if r.state not in (LedgerState.UNKNOWN, LedgerState.PENDING):
            return True
        if settled:
            children = sorted(found.successes, key=lambda c: str(c.get("date") or ""))
            response: dict[str, Any] = {"redemptions": children,
                                        "order": (found.parent or children[0]).get("order")}
            if found.parent:
                response["parent_redemption"] = found.parent
            records.apply_redeem_response(r, response)
        elif found.failures:  # a refused request is final: it was answered
            code = str(found.failures[0].get("failure_code") or "")
            records.apply_failure(r, LedgerState.FAILED, code, message_for(code), None)
        elif grace_over:
            records.apply_failure(r, LedgerState.FAILED, "not_redeemed",
                                  "Voucherify holds no redemption for this attempt.", None)
        return True

    row = records.locked_update(pk, settle)
    logger.info("Voucherify checkout: reconciled ledger row %s -> %s", row.pk, row.state)
    if row.rollback_pending:
        row = request_rollback(row, row.rollback_reason, client=api)
    return row


def is_settled(row: CheckoutRedemption) -> bool:
    return row.state not in (LedgerState.UNKNOWN, LedgerState.PENDING)
