"""Throttles of validate and redeem, so codes cannot be enumerated by brute force.

Rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (scopes ``voucherify_validate``,
``voucherify_redeem`` and ``voucherify_validate_failures``), with defaults when the project sets
none. Counts live in Django's default cache: use a cache shared by every process (Redis,
Memcached) in production, or each process counts on its own.

Anonymous clients are told apart by ``REMOTE_ADDR``. ``X-Forwarded-For`` is any client's to
write, so it is only read when the project sets DRF's ``NUM_PROXIES`` to the number of proxies
in front of Django (then the address that many hops from the end is used, as DRF does).
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, ScopedRateThrottle, SimpleRateThrottle

DEFAULT_RATES = {
    "voucherify_validate": "20/min",
    "voucherify_redeem": "10/min",
    # Validations that named a code Voucherify does not know: guessing looks like this.
    "voucherify_validate_failures": "10/hour",
}

#: Error keys meaning "no such code": what a brute-force guess gets.
UNKNOWN_CODE_KEYS = frozenset({"not_found", "resource_not_found", "voucher_not_found"})


def _rate(scope: str | None) -> str | None:
    rates = api_settings.DEFAULT_THROTTLE_RATES or {}
    scope = scope or ""
    rate = rates.get(scope, DEFAULT_RATES.get(scope))
    return None if rate is None else str(rate)


def client_ident(throttle: SimpleRateThrottle, request: Request) -> str:
    """``REMOTE_ADDR``, unless ``NUM_PROXIES`` says which ``X-Forwarded-For`` entry to trust."""
    if api_settings.NUM_PROXIES is None:
        return str(request.META.get("REMOTE_ADDR") or "")
    return str(BaseThrottle.get_ident(throttle, request))


class CheckoutScopedThrottle(ScopedRateThrottle):
    """``ScopedRateThrottle`` per user (or client address when anonymous), rates read at
    request time."""

    def get_rate(self) -> str | None:
        return _rate(self.scope)

    def get_ident(self, request: Request) -> str:
        return client_ident(self, request)


class FailedValidationThrottle(SimpleRateThrottle):
    """Refuses validate for a client whose recent validations named too many unknown codes.

    ``allow_request`` only checks; the view calls :meth:`record_failure` when a validation
    named an unknown code, so honest customers are not slowed by their successful checks.
    """

    scope = "voucherify_validate_failures"

    def get_rate(self) -> str | None:
        return _rate(self.scope)

    def get_ident(self, request: Request) -> str:
        return client_ident(self, request)

    def get_cache_key(self, request: Request, view: Any) -> str:
        user = request.user
        ident = str(user.pk) if user and user.is_authenticated else self.get_ident(request)
        return str(self.cache_format % {"scope": self.scope, "ident": ident})

    def _window(self) -> tuple[int, int]:
        num, duration = self.parse_rate(self.rate)
        return int(num or 0), int(duration or 0)

    def _history(self, request: Request, view: Any) -> list[float]:
        self.key = self.get_cache_key(request, view)
        self.now = self.timer()
        _num, duration = self._window()
        history: list[float] = [t for t in self.cache.get(self.key, []) if t > self.now - duration]
        self.history = history
        return history

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None:
            return True
        if len(self._history(request, view)) >= self._window()[0]:
            return bool(self.throttle_failure())
        return True

    def record_failure(self, request: Request, view: Any) -> None:
        if self.rate is None:
            return
        history = self._history(request, view)
        history.insert(0, self.now)
        self.cache.set(self.key, history, self._window()[1])
