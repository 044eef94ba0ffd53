"""Redemption events and the checkout ledger.

An event names one redemption; the ledger row it belongs to is found by the reference the
redeem carried in its metadata (``django_voucherify_ledger``), else by the redemption's id (a
stacked redeem's parent, or one of its per-code redemptions) among the rows of its order.

- ``redemption.succeeded`` / ``redemption.failed`` on an UNKNOWN row: reconciliation is sent at
  once (it reads the redemption back and settles the row by the rules it always uses; the event
  alone is not taken as proof of a stacked redeem's every part). On a row given up as "not
  redeemed" (FAILED) a success brings its late check forward (the redemption becomes ORPHANED
  and is rolled back). A redemption no row knows is recorded for staff (``needs_attention``).
- ``redemption.rollback.succeeded``: a row that still holds the redemption (SUCCEEDED or
  ORPHANED) is ROLLED_BACK when the whole redemption was rolled back (the parent, or the only
  one); one part of a stacked redemption rolled back alone flags the row for staff.
- ``redemption.rollback.failed``: the row is flagged for staff.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from .. import validation
from ..checkout import schedule
from ..checkout.ledger import locked_update
from ..models.ledger import (
    REFERENCE_METADATA_KEY,
    ROLLBACK_STATES,
    CheckoutRedemption,
    LedgerState,
)
from .outcome import Outcome

#: Stored untranslated: compared when the whole redemption's rollback arrives later.
PARTIAL = gettext_noop("part of this redemption was rolled back in Voucherify")


def _redemption(data: dict[str, Any]) -> dict[str, Any]:
    value = data.get("redemption")
    if not isinstance(value, dict) or not isinstance(value.get("id"), str):
        raise validation.InvalidInput(_("the event carries no redemption."))
    return value


def _ids(redemption: dict[str, Any]) -> set[str]:
    ids = {redemption["id"]}
    parent = redemption.get("redemption")  # a per-code redemption names its stacked parent
    if isinstance(parent, str) and parent:
        ids.add(parent)
    return ids


def find_row(redemption: dict[str, Any]) -> CheckoutRedemption | None:
    """The ledger row this redemption belongs to, or None."""
    metadata = redemption.get("metadata")
    reference = metadata.get(REFERENCE_METADATA_KEY) if isinstance(metadata, dict) else None
    if isinstance(reference, str) and reference:
        try:
            row = CheckoutRedemption.objects.filter(reference=reference).first()
        except Exception:  # not a UUID: not ours
            row = None
        if row is not None:
            return row
    order = redemption.get("order")
    source_id = order.get("source_id") if isinstance(order, dict) else None
    if not isinstance(source_id, str) or not source_id:
        return None
    ids = _ids(redemption)
    for row in CheckoutRedemption.objects.filter(order_source_id=source_id):
        if row.parent_redemption_id in ids or ids & set(map(str, row.redemption_ids or [])):
            return row
    return None


def redemption_outcome(data: dict[str, Any], occurred_at: datetime | None = None) -> Outcome:
    redemption = _redemption(data)
    row = find_row(redemption)
    succeeded = redemption.get("result") == "SUCCESS"
    if row is None:
        if not succeeded:
            return Outcome(_("failed redemption %(id)s, not from checkout") % {"id": redemption["id"]})
        return Outcome(
            _("redemption %(id)s is unknown to the checkout ledger") % {"id": redemption["id"]},
            needs_attention=True,
        )
    if row.state == LedgerState.UNKNOWN:
        schedule.schedule_reconcile(row.pk, force=False)
        return Outcome(_("ledger row %(pk)s (unknown): reconciliation sent") % {"pk": row.pk})
    if row.state == LedgerState.FAILED and succeeded:
        now = timezone.now()
        CheckoutRedemption.objects.filter(pk=row.pk, state=LedgerState.FAILED).update(
            late_check_at=now, due_at=now
        )
        return Outcome(
            _("ledger row %(pk)s was given up but the redemption succeeded: late check brought forward")
            % {"pk": row.pk},
            needs_attention=True,
        )
    return Outcome(_("ledger row %(pk)s already %(state)s") % {"pk": row.pk, "state": row.state})


def rollback_succeeded(data: dict[str, Any], occurred_at: datetime | None = None) -> Outcome:
    redemption = _redemption(data)
    row = find_row(redemption)
    if row is None:
        return Outcome(_("rollback of redemption %(id)s, not from checkout") % {"id": redemption["id"]})
    rollback = data.get("redemption_rollback")
    rollback_id = rollback.get("id") if isinstance(rollback, dict) else None
    whole = redemption["id"] == row.parent_redemption_id or (
        not row.parent_redemption_id and [redemption["id"]] == list(map(str, row.redemption_ids or []))
    )
    result: dict[str, Any] = {}

    def change(locked: CheckoutRedemption) -> bool:
        if locked.state not in ROLLBACK_STATES:
            result["outcome"] = _("ledger row %(pk)s already %(state)s") % {
                "pk": locked.pk,
                "state": locked.state,
            }
            return False
        if not whole:
            locked.needs_attention = True
            locked.attention_reason = PARTIAL
            result["outcome"] = _(PARTIAL)
            result["attention"] = True
            return True
        locked.state = LedgerState.ROLLED_BACK
        if locked.attention_reason == PARTIAL:  # a child's rollback came first: now it is whole
            locked.needs_attention, locked.attention_reason = False, ""
        locked.rollback_ids = [rollback_id] if isinstance(rollback_id, str) else []
        locked.rollback_error = ""
        locked.rolled_back_at = timezone.now()
        locked.rollback_reason = locked.rollback_reason or _("rolled back in Voucherify")[:200]
        result["outcome"] = _("ledger row %(pk)s rolled back in Voucherify") % {"pk": locked.pk}
        result["applied"] = True
        return True

    locked_update(row.pk, change)
    return Outcome(
        result["outcome"], needs_attention=bool(result.get("attention")), applied=bool(result.get("applied"))
    )


def rollback_failed(data: dict[str, Any], occurred_at: datetime | None = None) -> Outcome:
    redemption = _redemption(data)
    row = find_row(redemption)
    if row is None:
        return Outcome(
            _("failed rollback of redemption %(id)s, not from checkout") % {"id": redemption["id"]}
        )
    schedule.flag(row.pk, _("a rollback failed in Voucherify"))
    return Outcome(
        _("ledger row %(pk)s: a rollback failed in Voucherify") % {"pk": row.pk}, needs_attention=True
    )
