"""Throttles of validate and redeem, so codes cannot be enumerated by brute force.

Rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (scopes ``voucherify_validate``,
``voucherify_redeem`` and ``voucherify_validate_failures``), with defaults when the project sets
none. ``voucherify_validate_failures`` is a budget of *codes*, not of requests: every code a
request names is reserved from it before Voucherify is asked (so concurrent requests cannot
overdraw it), and handed back once the answer shows the code exists. Validate and redeem draw
from the same budget.

Counting is atomic: a sliding window estimated from two fixed windows (the current count plus
the previous window's count weighted by the part of it still inside the sliding window), each a
cache key written with ``cache.add`` and changed with ``cache.incr``. ``incr`` is atomic on
Django's Redis and Memcached backends and on the local-memory cache (within one process); on
the database cache this module locks the key's row (``SELECT ... FOR UPDATE``) around its own
read and write. Other caches (file-based, custom backends without their own ``incr``) are
counted best effort and can lose concurrent updates: do not use them for throttling. The dummy
cache counts nothing, which turns throttling off.

Anonymous clients are told apart by ``REMOTE_ADDR``. ``X-Forwarded-For`` is any client's to
write, so it is only read when the project sets DRF's ``NUM_PROXIES`` to the number of proxies
in front of Django (then the address that many hops from the end is used, as DRF does).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from django.core.cache import BaseCache, caches
from django.core.cache.backends.db import DatabaseCache
from django.db import connections, router, transaction
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from .. import conf
from ..api.errors import VoucherifyError
from ..checkout.errors import CheckoutError, CodesRefused

DEFAULT_RATES = {
    "voucherify_validate": "20/min",
    "voucherify_redeem": "10/min",
    # Unknown codes named through validate or redeem: guessing looks like this.
    "voucherify_validate_failures": "10/hour",
}

#: The budget of unknown codes shared by validate and redeem.
FAILURES_SCOPE = "voucherify_validate_failures"

#: Error keys meaning "no such code": what a brute-force guess gets.
UNKNOWN_CODE_KEYS = frozenset({"not_found", "resource_not_found", "voucher_not_found"})

_DURATIONS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _rate(scope: str) -> tuple[int, int] | None:
    """``(limit, seconds)`` of ``scope``, or None when the project turned the scope off."""
    rates = api_settings.DEFAULT_THROTTLE_RATES or {}
    rate = rates.get(scope, DEFAULT_RATES.get(scope))
    if rate is None:
        return None
    num, period = str(rate).split("/")
    return int(num), _DURATIONS[period[0]]


def anonymous_max_codes() -> int:
    """How many codes an anonymous validate request may name: ``VOUCHERIFY`` option
    ``CHECKOUT_ANONYMOUS_MAX_CODES`` (1 to 30, default 5; checked by ``voucherify.E025``, and
    ``ImproperlyConfigured`` here when wrong): few, so one request cannot test many guesses."""
    return conf.settings().checkout_anonymous_max_codes


def client_ident(request: Request) -> str:
    """``REMOTE_ADDR``, unless ``NUM_PROXIES`` says which ``X-Forwarded-For`` entry to trust."""
    if api_settings.NUM_PROXIES is None:
        return str(request.META.get("REMOTE_ADDR") or "")
    return str(BaseThrottle().get_ident(request))


def request_ident(request: Request) -> str:
    """The signed-in user's id, or the client address of an anonymous request."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"addr:{client_ident(request)}"


def _incr(cache: BaseCache, key: str, delta: int, timeout: int) -> int:
    """``cache.incr`` where the backend's is atomic; a row lock around read and write on the
    database cache; otherwise read and write (best effort), keeping ``timeout``."""
    if isinstance(cache, DatabaseCache):
        db = router.db_for_write(cache.cache_model_class)
        connection = connections[db]
        with transaction.atomic(using=db):
            if connection.features.has_select_for_update:
                # The table name is the project's CACHES setting, quoted; the key is a parameter.
                table = connection.ops.quote_name(cache._table)  # type: ignore[attr-defined]
                sql = f"SELECT cache_key FROM {table} WHERE cache_key = %s FOR UPDATE"  # noqa: S608
                with connection.cursor() as cursor:
                    cursor.execute(sql, [cache.make_and_validate_key(key)])
            return _read_and_write(cache, key, delta, timeout)
    if type(cache).incr is BaseCache.incr:
        return _read_and_write(cache, key, delta, timeout)
    return int(cache.incr(key, delta))


def _read_and_write(cache: BaseCache, key: str, delta: int, timeout: int) -> int:
    value = cache.get(key)
    if value is None:
        raise ValueError(key)
    value = int(value) + delta
    cache.set(key, value, timeout)
    return value


@dataclass(frozen=True)
class WindowCounter:
    """A sliding-window count of ``limit`` per ``duration`` seconds for one client and scope."""

    scope: str
    ident: str
    limit: int
    duration: int

    @property
    def cache(self) -> BaseCache:
        return caches["default"]

    def _key(self, window: int) -> str:
        digest = hashlib.sha256(self.ident.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return f"voucherify_throttle:{self.scope}:{digest}:{window}"

    def _position(self) -> tuple[int, float]:
        now = time.time()
        return int(now // self.duration), (now % self.duration) / self.duration

    def _add(self, key: str, delta: int) -> int:
        timeout = 2 * self.duration  # the key is read as "previous window" after its own
        for _attempt in range(2):
            self.cache.add(key, 0, timeout)
            try:
                return _incr(self.cache, key, delta, timeout)
            except ValueError:  # expired or evicted between add and incr
                continue
        return delta  # a cache that keeps nothing (DummyCache): nothing to count against

    def _previous_weight(self, window: int, elapsed: float) -> float:
        previous = self.cache.get(self._key(window - 1)) or 0
        return int(previous) * (1.0 - elapsed)

    def take(self, amount: int = 1) -> bool:
        """Count ``amount`` unless that would go over the limit (then count nothing)."""
        window, elapsed = self._position()
        key = self._key(window)
        count = self._add(key, amount)
        if count + self._previous_weight(window, elapsed) > self.limit:
            self._add(key, -amount)
            return False
        return True

    def give_back(self, amount: int) -> None:
        """Return ``amount`` taken earlier (codes that turned out to exist)."""
        if amount > 0:
            window, _elapsed = self._position()
            self._add(self._key(window), -amount)

    def wait(self) -> float:
        _window, elapsed = self._position()
        return max(1.0, (1.0 - elapsed) * self.duration)


def counter(scope: str, request: Request) -> WindowCounter | None:
    rate = _rate(scope)
    if rate is None:
        return None
    return WindowCounter(scope, request_ident(request), *rate)


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


class UnknownCodesBudget:
    """The ``voucherify_validate_failures`` budget of one request.

    :meth:`reserve` takes one unit per code before Voucherify is asked (False: refuse the
    request, nothing was taken); :meth:`settle` hands back the units of the codes that turned
    out not to be guesses. A request that fails unexpectedly keeps its reservation.

    Used as a context manager around the service call, it settles a checkout error by itself
    (a refusal of unknown codes keeps them all counted, any other refusal hands them back), so
    the views raise errors as they are and the one exception handler answers them.
    """

    def __init__(self, request: Request) -> None:
        self.counter = counter(FAILURES_SCOPE, request)
        self.reserved = 0

    def reserve(self, codes: int) -> bool:
        if self.counter is None:
            return True
        if not self.counter.take(codes):
            return False
        self.reserved = codes
        return True

    def settle(self, unknown: int) -> None:
        if self.counter is not None:
            self.counter.give_back(self.reserved - min(unknown, self.reserved))
        self.reserved = 0

    def __enter__(self) -> UnknownCodesBudget:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if isinstance(exc, CodesRefused):
            self.settle(self.reserved if exc.key in UNKNOWN_CODE_KEYS else 0)
        elif isinstance(exc, CheckoutError | VoucherifyError):  # nothing said about the codes
            self.settle(0)

    def wait(self) -> float | None:
        return None if self.counter is None else self.counter.wait()
