"""What the checkout services return: per-code results and order totals (minor units)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..models.ledger import CheckoutRedemption


@dataclass(frozen=True)
class CodeResult:
    """One code: applies (with the discount it brings) or not (with the reason to show)."""

    code: str
    applicable: bool
    discount_amount: int = 0
    reason_key: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class Totals:
    """``amount`` before discounts, ``discount_amount`` (all discounts), ``total_amount`` to pay."""

    amount: int
    discount_amount: int
    total_amount: int

    @classmethod
    def from_order(cls, order: Mapping[str, Any] | None, fallback_amount: int | None) -> Totals:
        order = order or {}
        amount = order.get("amount")
        amount = int(amount if amount is not None else (fallback_amount or 0))
        discount = int(order.get("total_discount_amount") or 0)
        total = order.get("total_amount")
        return cls(amount, discount, int(total) if total is not None else amount - discount)

    @classmethod
    def undiscounted(cls, amount: int | None) -> Totals:
        return cls(int(amount or 0), 0, int(amount or 0))


@dataclass(frozen=True)
class ValidationOutcome:
    """The result of :func:`~django_voucherify.checkout.validate`.

    ``valid``: every code applies. ``unavailable``: Voucherify could not answer and the outage
    policy lets checkout go on without discount (``notice`` says so to the customer).
    """

    valid: bool
    codes: list[CodeResult]
    totals: Totals
    session_key: str | None = None
    unavailable: bool = False
    notice: str = ""
    request_id: str | None = None

    @property
    def refused(self) -> list[CodeResult]:
        return [c for c in self.codes if not c.applicable]


@dataclass(frozen=True)
class RedeemOutcome:
    """The result of :func:`~django_voucherify.checkout.redeem`.

    ``applied`` is False when the outage policy let the order proceed without discount (then
    ``notice`` explains it and ``totals`` are undiscounted).
    """

    ledger: CheckoutRedemption
    totals: Totals
    applied: bool = True
    notice: str = ""
    redemption_ids: list[str] = field(default_factory=list)
    parent_redemption_id: str | None = None
