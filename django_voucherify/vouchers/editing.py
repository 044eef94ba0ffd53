"""Create and update vouchers, adjust card balances, and read a voucher's activity.

These raise :class:`~django_voucherify.api.errors.VoucherifyError` unchanged so a form can turn
it into a form error; the mirror is written only from Voucherify's answer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from ..api.errors import VoucherifyError
from ..models import Voucher
from ..models.vouchers import VoucherType
from .results import error_message

#: How many transactions and redemptions the change page shows.
ACTIVITY_LIMIT = 20


def _client(client: Any) -> Any:
    if client is None:
        from .. import client as shared_client

        return shared_client
    return client


def _save_from(voucher: Voucher, data: dict[str, Any]) -> Voucher:
    voucher.apply_voucherify(data)
    voucher.refreshed_at = timezone.now()
    voucher.save()
    return voucher


def create(voucher: Voucher, *, client: Any = None) -> Voucher:
    """Create ``voucher`` (an unsaved mirror filled by the form) in Voucherify, then save it."""
    data = _client(client).vouchers.create(voucher.code, voucher.to_voucherify())
    return _save_from(voucher, dict(data))


def update(voucher: Voucher, *, client: Any = None) -> Voucher:
    """Send the editable fields of ``voucher`` (``PUT``), then save it as Voucherify answered."""
    data = _client(client).vouchers.update(voucher.code, voucher.to_voucherify_update())
    return _save_from(voucher, dict(data))


def adjust_balance(voucher: Voucher, amount: int, *, reason: str = "",
                   client: Any = None) -> dict[str, Any]:
    """Add (``amount`` > 0) or remove (< 0) gift credits or loyalty points, then re-read the card.

    A fresh ``source_id`` per adjustment makes a retried request count once in Voucherify.
    """
    if voucher.type == VoucherType.DISCOUNT:
        raise ValueError("Only gift and loyalty cards have a balance.")
    api = _client(client)
    balance = api.vouchers.update_balance(voucher.code, amount, reason=reason or None,
                                          source_id=f"admin-{uuid.uuid4().hex}")  # fmt: skip
    _save_from(voucher, dict(api.vouchers.get(voucher.code)))
    return dict(balance)


@dataclass
class Activity:
    """What the change page shows below the form; an error instead of a 500 page."""

    transactions: list[dict[str, Any]] = field(default_factory=list)
    redemptions: list[dict[str, Any]] = field(default_factory=list)
    redeemed_quantity: int | None = None
    errors: list[str] = field(default_factory=list)


def activity(voucher: Voucher, *, client: Any = None) -> Activity:
    """The latest transactions (gift and loyalty cards) and redemptions of ``voucher``."""
    api = _client(client)
    result = Activity()
    if voucher.type != VoucherType.DISCOUNT:
        try:
            page = api.vouchers.list_transactions(voucher.code, limit=ACTIVITY_LIMIT)
            result.transactions = list(page.get("data") or [])
        except VoucherifyError as exc:
            result.errors.append(error_message(exc))
    try:
        redemption = api.redemptions.for_voucher(voucher.code)
        result.redemptions = list(redemption.get("redemption_entries") or [])[:ACTIVITY_LIMIT]
        result.redeemed_quantity = redemption.get("redeemed_quantity")
    except VoucherifyError as exc:
        result.errors.append(error_message(exc))
    return result
