"""Scoped throttles of validate and redeem, so codes cannot be enumerated by brute force.

Rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (scopes ``voucherify_validate`` and
``voucherify_redeem``), with defaults when the project sets none.
"""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

DEFAULT_RATES = {"voucherify_validate": "20/min", "voucherify_redeem": "10/min"}


class CheckoutScopedThrottle(ScopedRateThrottle):
    """``ScopedRateThrottle`` per user (or IP when anonymous), rates read at request time."""

    def get_rate(self) -> str | None:
        rates = api_settings.DEFAULT_THROTTLE_RATES or {}
        scope = self.scope or ""
        rate = rates.get(scope, DEFAULT_RATES.get(scope))
        return None if rate is None else str(rate)
