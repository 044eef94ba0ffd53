"""What each event does to the mirrors and the ledger. Database writes only: no call to
Voucherify (an event says what changed), no task sent but by name after commit.

Each handler takes the event's ``data`` and returns an :class:`Outcome` for staff. Types
without a handler are stored and signalled, and do nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

from .. import validation
from ..freshness import is_older, last_change, read_after
from ..models import Customer, Voucher, VoucherType
from ..sync import bulk
from ..vouchers import refresh
from . import ledger
from .outcome import Outcome

#: ``handler(data, occurred_at)``: what an event of one type does.
Handler = Callable[[dict[str, Any], datetime | None], Outcome]


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise validation.InvalidInput(_("the event carries no %(key)s object.") % {"key": key})
    return value


def _voucher_changed(data: dict[str, Any], occurred_at: datetime | None) -> Outcome:
    voucher = _object(data, "voucher")
    code = voucher.get("code")
    # Locked: a refresh writing the same mirror waits for this decision, and this one for its.
    stored = Voucher.objects.select_for_update().filter(code=code).first()
    if stored is not None and is_older(voucher, stored.remote_payload):
        return Outcome(_("voucher %(code)s already newer here") % {"code": stored.code})
    refresh.store(voucher)
    return Outcome(_("voucher %(code)s updated") % {"code": code}, applied=True)


def _voucher_deleted(data: dict[str, Any], occurred_at: datetime | None) -> Outcome:
    code = _object(data, "voucher").get("code")
    # Locked, and compared like any change: a copy read after the deletion (the code made again
    # since, stored by a refresh or a newer event) is not deleted by the late deletion.
    stored = Voucher.objects.select_for_update().filter(code=code).first()
    if stored is None:
        return Outcome(_("voucher %(code)s was not mirrored") % {"code": code}, applied=True)
    if read_after(stored.remote_payload, occurred_at):
        return Outcome(_("voucher %(code)s already newer here") % {"code": stored.code})
    stored.delete()
    return Outcome(_("voucher %(code)s deleted") % {"code": code}, applied=True)


def _balance_of(data: dict[str, Any]) -> Any:
    """The new balance an event announces: ``balance.balance`` (balance added) or
    ``transaction.details.balance.balance`` (a transaction: redemption, removal, rollback)."""
    balance = data.get("balance")
    if not isinstance(balance, dict):
        transaction = data.get("transaction")
        details = transaction.get("details") if isinstance(transaction, dict) else None
        balance = details.get("balance") if isinstance(details, dict) else None
    return balance.get("balance") if isinstance(balance, dict) else None


def _voucher_balance(data: dict[str, Any], occurred_at: datetime | None) -> Outcome:
    """Gift credits or loyalty points changed. A full voucher in the event (transactions carry
    one) is stored like any voucher change; else only the balance is written (a partial voucher
    must not blank the rest), and not over a copy the mirror read after the event happened."""
    voucher_data = _object(data, "voucher")
    if voucher_data.get("type") and voucher_data.get("updated_at"):
        return _voucher_changed(data, occurred_at)
    code = voucher_data.get("code")
    balance = _balance_of(data)
    voucher = Voucher.objects.select_for_update().filter(code=code).first()
    if voucher is None or not isinstance(balance, int) or isinstance(balance, bool):
        return Outcome(_("voucher %(code)s was not mirrored") % {"code": code})
    stored = last_change(voucher.remote_payload)  # a copy never updated: its creation
    if stored is not None and occurred_at is not None and stored > occurred_at:
        return Outcome(_("voucher %(code)s already newer here") % {"code": code})
    field = "gift_balance" if voucher.type == VoucherType.GIFT else "loyalty_balance"
    setattr(voucher, field, balance)
    voucher.save(update_fields=[field, "updated_at"])
    return Outcome(
        _("voucher %(code)s balance is now %(balance)s") % {"code": code, "balance": balance}, applied=True
    )


def _mirror_changed(kind: str, key: str) -> Handler:
    def handle(data: dict[str, Any], occurred_at: datetime | None) -> Outcome:
        obj = _object(data, key)
        stats = bulk.store_remote(kind, [obj])
        source_id = obj.get("source_id") or obj.get("id")
        if stats["unsent"]:
            return Outcome(
                _("%(kind)s %(id)s kept: local changes not sent yet") % {"kind": key, "id": source_id}
            )
        if stats["deleted_since"]:
            # Older than a deletion (sent by this shop, or announced by Voucherify): not made again.
            return Outcome(
                _("%(kind)s %(id)s deleted since: not made again") % {"kind": key, "id": source_id}
            )
        if stats["older"]:
            return Outcome(_("%(kind)s %(id)s already newer here") % {"kind": key, "id": source_id})
        if stats["unstorable"] or stats["skipped"]:
            return Outcome(_("%(kind)s %(id)s cannot be mirrored") % {"kind": key, "id": source_id})
        return Outcome(_("%(kind)s %(id)s updated") % {"kind": key, "id": source_id}, applied=True)

    return handle


def _customer_deleted(data: dict[str, Any], occurred_at: datetime | None) -> Outcome:
    customer = _object(data, "customer")
    source_id = customer.get("source_id")
    if not isinstance(source_id, str) or not source_id:
        # Named by Voucherify's id only: the mirror that recorded that id, if any.
        ident = customer.get("id")
        if not isinstance(ident, str) or not ident:
            return Outcome(_("customer without a source id: not mirrored"))
        found = Customer.objects.filter(voucherify_id=ident).values_list("source_id", flat=True).first()
        if found is None:
            # Applied all the same: it is the newest thing known of that customer, and an older
            # event naming it by its source id is stale against it (events.subjects_of).
            return Outcome(_("customer %(id)s %(result)s") % {"id": ident, "result": "absent"}, applied=True)
        source_id = found
    result = bulk.forget_remote("customers", source_id, deleted_at=occurred_at)
    if result == "newer":
        return Outcome(_("%(kind)s %(id)s already newer here") % {"kind": "customer", "id": source_id})
    if result == "unsent":
        return Outcome(
            _("customer %(id)s kept: local changes not sent yet will create it again") % {"id": source_id},
            needs_attention=True,
        )
    return Outcome(_("customer %(id)s %(result)s") % {"id": source_id, "result": result}, applied=True)


HANDLERS: dict[str, Handler] = {
    **dict.fromkeys(
        (
            "voucher.created",
            "voucher.updated",
            "voucher.enabled",
            "voucher.disabled",
            "voucher.published",
        ),
        _voucher_changed,
    ),
    "voucher.deleted": _voucher_deleted,
    "voucher.gift.balance_added": _voucher_balance,
    "voucher.loyalty_card.points_added": _voucher_balance,
    # Every change of a card's balance (a redemption, a removal, a rollback) is a transaction.
    "voucher.gift.transaction.created": _voucher_balance,
    "voucher.loyalty_card.transaction.created": _voucher_balance,
    "customer.created": _mirror_changed("customers", "customer"),
    "customer.updated": _mirror_changed("customers", "customer"),
    "customer.deleted": _customer_deleted,
    **dict.fromkeys(
        (
            "customer.order.created",
            "customer.order.updated",
            "customer.order.paid",
            "customer.order.canceled",
        ),
        _mirror_changed("orders", "order"),
    ),
    "redemption.succeeded": ledger.redemption_outcome,
    "redemption.failed": ledger.redemption_outcome,
    "redemption.rollback.succeeded": ledger.rollback_succeeded,
    "redemption.rollback.failed": ledger.rollback_failed,
}
