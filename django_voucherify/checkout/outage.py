"""The outage policy: what checkout does when Voucherify is unreachable or slow.

An *outage* is an answer that says nothing about the codes: no response (timeout, refused or
dropped connection), 429 and 5xx. Business refusals (400/404 with a key) are not outages.
"""

from __future__ import annotations

from ..api.errors import APIError, RateLimitedError, RequestTimeout, ServerError, TransportError
from .conf import PROCEED_WITHOUT_DISCOUNT, checkout_settings

#: 5xx answers from a gateway: the request never reached Voucherify's application.
GATEWAY_STATUSES = frozenset({502, 503, 504})


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` means Voucherify could not answer (rather than refused)."""
    return isinstance(exc, TransportError | RateLimitedError | ServerError)


def redeem_may_have_happened(exc: BaseException) -> bool:
    """Whether a failed redeem request may still have been applied by Voucherify.

    A timeout or a dropped connection after sending, and a 500 (Voucherify's application failed
    somewhere, possibly after redeeming), leave the outcome unknown. A connection that never
    opened, a 429 and gateway errors prove nothing was done.
    """
    if isinstance(exc, RequestTimeout):
        return exc.request_sent
    if isinstance(exc, TransportError):
        return exc.request_sent
    if isinstance(exc, RateLimitedError):
        return False
    if isinstance(exc, APIError):
        return exc.status >= 500 and exc.status not in GATEWAY_STATUSES
    return True


def proceeds_without_discount() -> bool:
    """True when the policy lets an order go through at full price during an outage."""
    return checkout_settings().outage_policy == PROCEED_WITHOUT_DISCOUNT
