"""Exceptions of the checkout services; every one carries a translated, user-facing ``message``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from ..errors import DjangoVoucherifyError

if TYPE_CHECKING:
    from ..models.ledger import CheckoutRedemption
    from .results import CodeResult


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
        super().__init__(
            message
            or _(
                "Vouchers cannot be checked right now. Please try again in a "
                "moment, or continue without the voucher."
            ),
            ledger=ledger,
        )
        self.outcome_unknown = outcome_unknown


class AlreadyRedeemed(CheckoutError):
    """The order already has a live redemption (double click, retried request, second worker)."""

    def __init__(self, ledger: CheckoutRedemption) -> None:
        super().__init__(_("Vouchers have already been applied to this order."), ledger=ledger)


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
