"""The common "redeem, then charge payment" flow, with the rollback when payment fails."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.utils.translation import gettext

from . import payloads
from .redeem import redeem
from .results import RedeemOutcome
from .rollback import request_rollback

T = TypeVar("T")


@dataclass(frozen=True)
class PaidCheckout(Generic[T]):
    redemption: RedeemOutcome
    payment: T


def redeem_then_pay(
    codes: Sequence[payloads.CodeInput],
    order: payloads.OrderInput,
    pay: Callable[[RedeemOutcome], T],
    customer: payloads.CustomerInput = None,
    *,
    rollback_reason: str | None = None,
    **redeem_options: Any,
) -> PaidCheckout[T]:
    """Redeem ``codes`` for ``order``, then call ``pay(outcome)`` to charge
    ``outcome.totals.total_amount``.

    If ``pay`` raises, the redemption is rolled back (reason ``rollback_reason``) and the
    exception propagates. When the rollback call itself fails, Celery retries it with backoff
    until Voucherify confirms; the ledger row shows it pending meanwhile. Errors of the redeem
    (``CodesRefused``, ``CheckoutUnavailable``, ``AlreadyRedeemed``) propagate before any payment.
    """
    outcome = redeem(codes, order, customer, **redeem_options)
    try:
        payment = pay(outcome)
    except BaseException:
        if outcome.applied:
            request_rollback(outcome.ledger, rollback_reason or gettext("payment failed"))
        raise
    return PaidCheckout(outcome, payment)
