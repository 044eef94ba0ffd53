"""Customer-facing messages for Voucherify's error keys (translatable).

Voucherify answers business refusals with a ``key`` (``voucher_expired``, ``quantity_exceeded``...)
and, for a validation rule the shop configured, its own ``error.message``. The shop's own message
wins; otherwise the key picks a message here; unknown keys get a generic one (never Voucherify's
English ``message``, which is written for developers).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

MESSAGES: dict[str, Promise] = {
    "not_found": _("This code does not exist."),
    "resource_not_found": _("This code does not exist."),
    "voucher_not_found": _("This code does not exist."),
    "voucher_disabled": _("This code is no longer active."),
    "voucher_expired": _("This code has expired."),
    "voucher_not_active": _("This code is not active yet, or not at this time."),
    "quantity_exceeded": _("This code has been used up."),
    "gift_amount_exceeded": _("The gift card does not have enough credit for this amount."),
    "not_enough_balance": _("The gift card does not have enough credit for this amount."),
    "loyalty_card_points_exceeded": _("The loyalty card does not have enough points."),
    "missing_amount": _("This code needs an order amount."),
    "invalid_amount": _("The order amount is not valid for this code."),
    "missing_reward": _("This loyalty card has no reward for this order."),
    "customer_rules_violated": _("This code cannot be used by this customer."),
    "order_rules_violated": _("This order does not meet the code's conditions."),
    "redemption_rules_violated": _("This code cannot be used for this order."),
    "validation_rules_violated": _("This order does not meet the code's conditions."),
    "missing_customer": _("Please sign in to use this code."),
    "invalid_customer": _("This code cannot be used by this customer."),
    "duplicate_found": _("This code was entered twice."),
    "invalid_payload": _("The code could not be checked (invalid request)."),
    "already_rolled_back": _("This redemption has already been undone."),
}

GENERIC = _("This code cannot be used.")


def message_for(key: str | None, custom_message: str | None = None) -> str:
    """The message to show for Voucherify error ``key`` (the rule's own message first)."""
    if custom_message:
        return custom_message
    return str(MESSAGES.get(key or "", GENERIC))


def message_for_error(error: Mapping[str, Any] | None) -> tuple[str | None, str]:
    """``(key, message)`` for an ``Error`` object (as in ``result.error`` of a validation)."""
    error = error or {}
    custom = error.get("error")
    custom_message = custom.get("message") if isinstance(custom, Mapping) else None
    key = error.get("key")
    return (key if isinstance(key, str) else None), message_for(key, custom_message)


def unavailable_message() -> str:
    return gettext(
        "Vouchers cannot be checked right now. Please try again in a moment, or continue without the voucher."
    )
