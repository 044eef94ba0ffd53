"""What can go wrong at checkout, and what the customer is told: the exceptions of the checkout
services (each carries a translated, user-facing ``message``) and the messages for Voucherify's
error keys.

Voucherify answers business refusals with a ``key`` (``voucher_expired``, ``quantity_exceeded``...)
and, for a validation rule the shop configured, its own ``error.message``. The shop's own message
wins; otherwise the key picks a message here; unknown keys get a generic one (never Voucherify's
English ``message``, which is written for developers).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_lazy

from ..errors import DjangoVoucherifyError
from ..models.ledger import LedgerState

if TYPE_CHECKING:
    from ..models.ledger import CheckoutRedemption
    from .cart import CodeResult


class CheckoutError(DjangoVoucherifyError):
    """Base class: ``message`` can be shown to the customer as is."""

    def __init__(self, message: str, *, ledger: CheckoutRedemption | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.ledger = ledger


class InvalidCheckoutInput(CheckoutError, ValueError):
    """The codes or the order given to a checkout service are not usable (empty code, too many
    codes, amounts that are not whole minor units...). Nothing was written or sent. A
    ``ValueError`` too, for callers that catch that."""


class CodesRefused(CheckoutError):
    """Voucherify refused the codes (expired, used up...). Nothing was redeemed.

    ``key`` is Voucherify's error key, ``codes`` the per-code reasons when known.
    """

    def __init__(
        self,
        message: str,
        *,
        key: str | None,
        codes: list[CodeResult] | None = None,
        request_id: str | None = None,
        ledger: CheckoutRedemption | None = None,
    ) -> None:
        super().__init__(message, ledger=ledger)
        self.key = key
        self.codes = codes or []
        self.request_id = request_id


class CheckoutUnavailable(CheckoutError):
    """Voucherify could not be reached in time and the outage policy is ``refuse``.

    ``outcome_unknown`` is True when the redeem may have reached Voucherify: the ledger row is
    UNKNOWN and reconciliation rolls back whatever it finds (the discount was not honoured).
    """

    def __init__(
        self,
        message: str | None = None,
        *,
        outcome_unknown: bool = False,
        ledger: CheckoutRedemption | None = None,
    ) -> None:
        super().__init__(message or unavailable_message(), ledger=ledger)
        self.outcome_unknown = outcome_unknown


class AlreadyRedeemed(CheckoutError):
    """The order already has a live redemption (double click, retried request, second worker)."""

    def __init__(self, ledger: CheckoutRedemption) -> None:
        super().__init__(already_applied_message(), ledger=ledger)


class OrderCanceled(CheckoutError):
    """The order's mirror (``Order`` with its ``source_id``) is CANCELED: nothing is redeemed
    for it. The cancellation asked for the rollback of what the order held when it was saved;
    a redemption made afterwards would stay live, so the claim refuses it (waiting, on
    PostgreSQL, for a cancellation still in flight)."""

    def __init__(self) -> None:
        super().__init__(gettext("This order was cancelled: vouchers can no longer be applied to it."))


class RollbackFailed(CheckoutError):
    """The rollback call failed; it stays asked for and is retried from Celery until
    Voucherify confirms. ``refused``: Voucherify answered with a 4xx (keys, permissions, an id
    it does not know): the row is also flagged for staff. ``retryable`` is always True (kept
    for callers written when refusals were given up)."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        refused: bool = False,
        retry_after: float | None = None,
        ledger: CheckoutRedemption | None = None,
    ) -> None:
        super().__init__(message, ledger=ledger)
        self.refused = refused
        self.retry_after = retry_after


MESSAGES: dict[str, Promise] = {
    "not_found": gettext_lazy("This code does not exist."),
    "resource_not_found": gettext_lazy("This code does not exist."),
    "voucher_not_found": gettext_lazy("This code does not exist."),
    "voucher_disabled": gettext_lazy("This code is no longer active."),
    "voucher_expired": gettext_lazy("This code has expired."),
    "voucher_not_active": gettext_lazy("This code is not active yet, or not at this time."),
    "quantity_exceeded": gettext_lazy("This code has been used up."),
    "gift_amount_exceeded": gettext_lazy("The gift card does not have enough credit for this amount."),
    "not_enough_balance": gettext_lazy("The gift card does not have enough credit for this amount."),
    "loyalty_card_points_exceeded": gettext_lazy("The loyalty card does not have enough points."),
    "missing_amount": gettext_lazy("This code needs an order amount."),
    "invalid_amount": gettext_lazy("The order amount is not valid for this code."),
    "missing_reward": gettext_lazy("This loyalty card has no reward for this order."),
    "customer_rules_violated": gettext_lazy("This code cannot be used by this customer."),
    "order_rules_violated": gettext_lazy("This order does not meet the code's conditions."),
    "redemption_rules_violated": gettext_lazy("This code cannot be used for this order."),
    "validation_rules_violated": gettext_lazy("This order does not meet the code's conditions."),
    "missing_customer": gettext_lazy("Please sign in to use this code."),
    "invalid_customer": gettext_lazy("This code cannot be used by this customer."),
    "duplicate_found": gettext_lazy("This code was entered twice."),
    "invalid_payload": gettext_lazy("The code could not be checked (invalid request)."),
    "already_rolled_back": gettext_lazy("This redemption has already been undone."),
    # A promotion tier that is disabled, or outside its (or its campaign's) active period.
    "promotion_inactive": gettext_lazy("This promotion is not active right now."),
}

GENERIC = gettext_lazy("This code cannot be used.")


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
    """What to tell a customer when Voucherify cannot answer (the outage policy applies)."""
    return gettext(
        "Vouchers cannot be checked right now. Please try again in a moment, or continue without the voucher."
    )


def already_applied_message() -> str:
    return gettext("Vouchers have already been applied to this order.")


def already_redeemed_message(row: CheckoutRedemption) -> str:
    """What to tell a customer whose order already has a live (or unknown) redemption."""
    if row.state == LedgerState.SUCCEEDED:
        return already_applied_message()
    return unavailable_message()
