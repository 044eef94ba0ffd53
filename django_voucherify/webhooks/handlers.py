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
from ..models import Voucher, VoucherType
from ..sync import bulk
from ..vouchers import refresh
from . import ledger
from .outcome import Outcome
from .times import instant as events_instant

#: ``handler(data, occurred_at)``: what an event of one type does.
Handler = Callable[[dict[str, Any], datetime | None], Outcome]


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise validation.InvalidInput(_("the event carries no %(key)s object.") % {"key": key})
    return value


def _newer(stored: Any, theirs: datetime | None) -> bool:
    """Whether the mirror's copy (``remote_payload['updated_at']``) is newer than ``theirs``."""
    ours = events_instant((stored or {}).get("updated_at")) if isinstance(stored, dict) else None
    return ours is not None and theirs is not None and ours > theirs


def _voucher_changed(data: dict[str, Any], occurred_at: datetime | None) -> Outcome:
    voucher = _object(data, "voucher")
    code = voucher.get("code")
    # Locked: a refresh writing the same mirror waits for this decision, and this one for its.
    stored = Voucher.objects.select_for_update().filter(code=code).first()
    if stored is not None and _newer(stored.remote_payload, events_instant(voucher.get("updated_at"))):
        return Outcome(_("voucher %(code)s already newer here") % {"code": stored.code})
    refresh.store(voucher)
    return Outcome(_("voucher %(code)s updated") % {"code": code})


def _voucher_deleted(data: dict[str, Any], occurred_at: datetime | None) -> Outcome:
    code = _object(data, "voucher").get("code")
    deleted, _kinds = Voucher.objects.filter(code=code).delete()
    if deleted:
        return Outcome(_("voucher %(code)s deleted") % {"code": code})
    return Outcome(_("voucher %(code)s was not mirrored") % {"code": code})


def _voucher_balance(data: dict[str, Any], occurred_at: datetime | None) -> Outcome:
    """Gift credits or loyalty points added: the event carries a partial voucher and the new
    balance, so only the balance is written (a partial voucher must not blank the rest), and
    not when the mirror holds a copy read after the event happened."""
    code = _object(data, "voucher").get("code")
    balance = _object(data, "balance").get("balance")
    voucher = Voucher.objects.select_for_update().filter(code=code).first()
    if voucher is None or not isinstance(balance, int) or isinstance(balance, bool):
        return Outcome(_("voucher %(code)s was not mirrored") % {"code": code})
    if _newer(voucher.remote_payload, occurred_at):
        return Outcome(_("voucher %(code)s already newer here") % {"code": code})
    field = "gift_balance" if voucher.type == VoucherType.GIFT else "loyalty_balance"
    setattr(voucher, field, balance)
    if occurred_at is not None:  # an older voucher event arriving later must not undo this
        voucher.remote_payload = {**(voucher.remote_payload or {}), "updated_at": occurred_at.isoformat()}
    voucher.save(update_fields=[field, "remote_payload", "updated_at"])
    return Outcome(_("voucher %(code)s balance is now %(balance)s") % {"code": code, "balance": balance})


def _mirror_changed(kind: str, key: str) -> Handler:
    def handle(data: dict[str, Any], occurred_at: datetime | None) -> Outcome:
        obj = _object(data, key)
        stats = bulk.store_remote(kind, [obj])
        source_id = obj.get("source_id") or obj.get("id")
        if stats["unsent"]:
            return Outcome(
                _("%(kind)s %(id)s kept: local changes not sent yet") % {"kind": key, "id": source_id}
            )
        if stats["older"]:
            return Outcome(_("%(kind)s %(id)s already newer here") % {"kind": key, "id": source_id})
        if stats["unstorable"] or stats["skipped"]:
            return Outcome(_("%(kind)s %(id)s cannot be mirrored") % {"kind": key, "id": source_id})
        return Outcome(_("%(kind)s %(id)s updated") % {"kind": key, "id": source_id})

    return handle


def _customer_deleted(data: dict[str, Any], occurred_at: datetime | None) -> Outcome:
    source_id = _object(data, "customer").get("source_id")
    if not isinstance(source_id, str) or not source_id:
        return Outcome(_("customer without a source id: not mirrored"))
    result = bulk.forget_remote("customers", source_id)
    if result == "unsent":
        return Outcome(
            _("customer %(id)s kept: local changes not sent yet will create it again") % {"id": source_id},
            needs_attention=True,
        )
    return Outcome(_("customer %(id)s %(result)s") % {"id": source_id, "result": result})


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
