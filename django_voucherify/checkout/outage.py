"""The outage policy: what checkout does when Voucherify is unreachable or slow.

An *outage* is an answer that says nothing about the codes: no response (timeout, refused or
dropped connection), 429 and 5xx. Business refusals (400/404 with a key) are not outages.
"""

from __future__ import annotations

from .. import conf
from ..api.errors import APIError, RateLimitedError, ServerError, TransportError
from ..conf import PROCEED_WITHOUT_DISCOUNT

#: The only 5xx that proves the redeem was not applied: an explicit "service unavailable"
#: (maintenance, overload shedding) is answered before the request is processed. A 502 or 504
#: comes from a gateway that may have given up *after* Voucherify's application redeemed, and a
#: 500 may be raised after the redemption was written, so those leave the outcome unknown.
NOT_PROCESSED_STATUSES = frozenset({503})


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` means Voucherify could not answer (rather than refused)."""
    return isinstance(exc, TransportError | RateLimitedError | ServerError)


#: Refusals of the shop's credentials, never of a code: the keys are wrong, revoked or lack a
#: permission. Checkout treats them like an outage (the customer is told Voucherify cannot
#: check codes right now, the outage policy applies) and logs an error for staff to fix the keys.
SHOP_SIDE_STATUSES = frozenset({401, 403})


def is_shop_side(exc: BaseException) -> bool:
    """Whether ``exc`` refuses the shop's credentials rather than the customer's codes."""
    return isinstance(exc, APIError) and exc.status in SHOP_SIDE_STATUSES


def redeem_may_have_happened(exc: BaseException) -> bool:
    """Whether a failed redeem request may still have been applied by Voucherify.

    Only three answers prove that nothing was redeemed (the order is free again):

    - a connection that provably never opened (``TransportError.request_sent is False``);
    - 429 (rate limited before processing);
    - an explicit 503.

    Everything else without a definite answer (timeouts, resets after sending, 500, 502, 504,
    any other 5xx) leaves the outcome unknown: the ledger row is UNKNOWN and reconciled by
    reading redemptions back, never by sending the redeem again.
    """
    if isinstance(exc, TransportError):  # RequestTimeout included
        return exc.request_sent is not False
    if isinstance(exc, RateLimitedError):
        return False
    if isinstance(exc, APIError):
        return exc.status >= 500 and exc.status not in NOT_PROCESSED_STATUSES
    return True


def proceeds_without_discount() -> bool:
    """True when the policy lets an order go through at full price during an outage."""
    return conf.settings().checkout_outage_policy == PROCEED_WITHOUT_DISCOUNT
