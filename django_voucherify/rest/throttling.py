"""Throttles of validate and redeem, so codes cannot be enumerated by brute force.

Rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (scopes ``voucherify_validate``,
``voucherify_offers``, ``voucherify_redeem`` and ``voucherify_validate_failures``), with
defaults when the project sets none. ``voucherify_validate_failures`` is the budget of unknown
*codes* of the checkout service (:mod:`django_voucherify.checkout.budget`), the same budget a
shop's own checkout form draws from: validate and redeem reserve every code a request names from
it before Voucherify is asked (per user and per client address), and hand it back once the
answer shows the code exists. The counters (atomic sliding windows in the default cache) live
there too.

Anonymous clients are told apart by ``REMOTE_ADDR``. ``X-Forwarded-For`` is any client's to
write, so it is only read when the project sets DRF's ``NUM_PROXIES`` to the number of proxies
in front of Django (then the address that many hops from the end is used, as DRF does).
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from .. import conf
from ..checkout.budget import (
    DEFAULT_RATES as DEFAULT_RATES,
)
from ..checkout.budget import (
    FAILURES_SCOPE as FAILURES_SCOPE,
)
from ..checkout.budget import (
    UNKNOWN_CODE_KEYS as UNKNOWN_CODE_KEYS,
)
from ..checkout.budget import (
    UnknownCodesBudget,
    WindowCounter,
    client_address,
    client_idents,
    rate,
)


def anonymous_max_codes() -> int:
    """How many codes an anonymous validate request may name: ``VOUCHERIFY`` option
    ``CHECKOUT_ANONYMOUS_MAX_CODES`` (1 to 30, default 5; checked by ``voucherify.E025``, and
    ``ImproperlyConfigured`` here when wrong): few, so one request cannot test many guesses."""
    return conf.settings().checkout_anonymous_max_codes


def client_ident(request: Request) -> str:
    """``REMOTE_ADDR``, unless ``NUM_PROXIES`` says which ``X-Forwarded-For`` entry to trust."""
    return client_address(request.META)


def request_ident(request: Request) -> str:
    """The signed-in user's id, or the client address of an anonymous request."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"addr:{client_ident(request)}"


def counter(scope: str, request: Request) -> WindowCounter | None:
    limits = rate(scope)
    if limits is None:
        return None
    return WindowCounter(scope, request_ident(request), *limits)


def unknown_codes_budget(request: Request) -> UnknownCodesBudget:
    """The budget of unknown codes of the request's client: its user and its address."""
    return UnknownCodesBudget(client_idents(request.user, request.META))


class CheckoutScopedThrottle(BaseThrottle):
    """At most the scope's rate of requests per user (or client address when anonymous), counted
    atomically; the scope is the view's ``throttle_scope``, rates read at request time."""

    def __init__(self) -> None:
        self.counter: WindowCounter | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        scope = getattr(view, "throttle_scope", None)
        self.counter = counter(scope, request) if scope else None
        return self.counter is None or self.counter.take(1)

    def wait(self) -> float | None:
        return None if self.counter is None else self.counter.wait()
