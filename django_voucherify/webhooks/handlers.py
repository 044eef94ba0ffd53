"""What each event does to the mirrors and the ledger. Database writes only: no call to
Voucherify (an event says what changed), no task sent but by name after commit.

Each handler takes the event's ``data`` and returns an :class:`Outcome` for staff. Types
without a handler are stored and signalled, and do nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext as _

from .. import validation
from ..models import Voucher, VoucherType
from ..sync import bulk
from ..vouchers import refresh
from . import ledger
from .outcome import Outcome


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise validation.InvalidInput(_("the event carries no %(key)s object.") % {"key": key})
    return value


def _voucher_changed(data: dict[str, Any]) -> Outcome:
    voucher = _object(data, "voucher")
    stored = Voucher.objects.filter(code=voucher.get("code")).first()
    theirs, ours = (
        voucher.get("updated_at"),
        (stored.remote_payload or {}).get("updated_at") if stored else None,
    )
    if isinstance(theirs, str) and isinstance(ours, str) and _instant(theirs) < _instant(ours):
        return Outcome(_("voucher %(code)s already newer here") % {"code": stored.code if stored else ""})
    refresh.store(voucher)
    return Outcome(_("voucher %(code)s updated") % {"code": voucher.get("code")})


def _voucher_deleted(data: dict[str, Any]) -> Outcome:
    code = _object(data, "voucher").get("code")
    deleted, _kinds = Voucher.objects.filter(code=code).delete()
    if deleted:
        return Outcome(_("voucher %(code)s deleted") % {"code": code})
    return Outcome(_("voucher %(code)s was not mirrored") % {"code": code})


def _voucher_balance(data: dict[str, Any]) -> Outcome:
    """Gift credits or loyalty points added: the event carries a partial voucher and the new
    balance, so only the balance is written (a partial voucher must not blank the rest)."""
    code = _object(data, "voucher").get("code")
    balance = _object(data, "balance").get("balance")
    voucher = Voucher.objects.select_for_update().filter(code=code).first()
    if voucher is None or not isinstance(balance, int) or isinstance(balance, bool):
        return Outcome(_("voucher %(code)s was not mirrored") % {"code": code})
    field = "gift_balance" if voucher.type == VoucherType.GIFT else "loyalty_balance"
    setattr(voucher, field, balance)
    voucher.save(update_fields=[field, "updated_at"])
    return Outcome(_("voucher %(code)s balance is now %(balance)s") % {"code": code, "balance": balance})


def _mirror_changed(kind: str, key: str) -> Callable[[dict[str, Any]], Outcome]:
    def handle(data: dict[str, Any]) -> Outcome:
        obj = _object(data, key)
        stats = bulk.store_remote(kind, [obj])
        source_id = obj.get("source_id") or obj.get("id")
        if stats["unsent"]:
            return Outcome(
                _("%(kind)s %(id)s kept: local changes not sent yet") % {"kind": key, "id": source_id}
            )
        if stats["unstorable"] or stats["skipped"]:
            return Outcome(_("%(kind)s %(id)s cannot be mirrored") % {"kind": key, "id": source_id})
        return Outcome(_("%(kind)s %(id)s updated") % {"kind": key, "id": source_id})

    return handle


def _customer_deleted(data: dict[str, Any]) -> Outcome:
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


HANDLERS: dict[str, Callable[[dict[str, Any]], Outcome]] = {
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


def _instant(value: str) -> Any:
    from django.utils.dateparse import parse_datetime

    parsed = parse_datetime(value)
    if parsed is None:
        raise validation.InvalidInput(_("%(value)r is not a date-time.") % {"value": value[:40]})
    return parsed
