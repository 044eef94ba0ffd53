"""The budget of unknown voucher codes: how many codes Voucherify does not know one client may
name per period, whichever way in it uses (the REST endpoints, a shop's own checkout form).

Guessing codes looks like a stream of ``not_found`` answers, so every code a client names is
*reserved* from its budget before Voucherify is asked and handed back once the answer shows the
code exists: only unknown codes stay counted. A client is every identity it has: the signed-in
user (``user:<pk>``) and the client address (``addr:<ip>``); a code is charged to each, and one
exhausted identity refuses the attempt, so neither new accounts from one address nor one account
from many addresses get a fresh budget.

The rate is the ``voucherify_validate_failures`` scope of ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``
(default ``10/hour``; ``None`` turns the budget off), so a project sets it once for every door.

Counting is atomic: a sliding window estimated from two fixed windows (the current count plus
the previous window's count weighted by the part of it still inside the sliding window), each a
cache key written with ``cache.add`` and changed with ``cache.incr``. ``incr`` is atomic on
Django's Redis and Memcached backends and on the local-memory cache (within one process); on
the database cache the key's row is locked (``SELECT ... FOR UPDATE``) around its own read and
write. Other caches (file-based, custom backends without their own ``incr``) are counted best
effort and can lose concurrent updates: do not use them for throttling. The dummy cache counts
nothing, which turns throttling off.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.cache import BaseCache, caches
from django.core.cache.backends.db import DatabaseCache
from django.db import connections, router, transaction
from django.utils.translation import gettext
from rest_framework.settings import api_settings

from ..api.errors import VoucherifyError
from .cart import ValidationOutcome
from .errors import CheckoutError, CodesRefused

DEFAULT_RATES = {
    "voucherify_validate": "20/min",
    "voucherify_offers": "20/min",  # a cart page's offers: as often as a validate
    "voucherify_redeem": "10/min",
    "voucherify_publish": "10/min",
    # Unknown codes named through validate or redeem: guessing looks like this.
    "voucherify_validate_failures": "10/hour",
}

#: The budget of unknown codes shared by every way in.
FAILURES_SCOPE = "voucherify_validate_failures"

#: Error keys meaning "no such code": what a brute-force guess gets.
UNKNOWN_CODE_KEYS = frozenset({"not_found", "resource_not_found", "voucher_not_found"})

_DURATIONS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class TooManyAttempts(CheckoutError):
    """The client named too many unknown codes lately: nothing was sent. ``wait`` is about how
    many seconds until the budget allows a code again."""

    def __init__(self, wait: float) -> None:
        super().__init__(gettext("Too many attempts with codes that do not exist. Please try again later."))
        self.wait = wait


def rate(scope: str) -> tuple[int, int] | None:
    """``(limit, seconds)`` of ``scope``, or None when the project turned the scope off."""
    rates = api_settings.DEFAULT_THROTTLE_RATES or {}
    value = rates.get(scope, DEFAULT_RATES.get(scope))
    if value is None:
        return None
    num, period = str(value).split("/")
    return int(num), _DURATIONS[period[0]]


def client_address(meta: Mapping[str, Any]) -> str:
    """``REMOTE_ADDR``, unless DRF's ``NUM_PROXIES`` says which ``X-Forwarded-For`` entry to
    trust (``X-Forwarded-For`` is any client's to write)."""
    remote = str(meta.get("REMOTE_ADDR") or "")
    proxies = api_settings.NUM_PROXIES
    forwarded = meta.get("HTTP_X_FORWARDED_FOR")
    if proxies is None or proxies == 0 or not forwarded:
        return remote
    hops = str(forwarded).split(",")
    return hops[-min(int(proxies), len(hops))].strip()


def client_idents(user: Any, meta: Mapping[str, Any]) -> list[str]:
    """Every identity of a client: its user (when signed in) and its address."""
    idents = [f"user:{user.pk}"] if user is not None and user.is_authenticated else []
    return [*idents, f"addr:{client_address(meta)}"]


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


def unknown_codes(outcome: ValidationOutcome) -> int:
    """Codes an outcome charges to the budget: none when every code exists; otherwise every
    code that does not apply (a code skipped next to a guess is not proven to exist)."""
    if not any(code.reason_key in UNKNOWN_CODE_KEYS for code in outcome.codes):
        return 0
    return sum(1 for code in outcome.codes if not code.applicable)


class UnknownCodesBudget:
    """The unknown-codes budget of one attempt by a client known as ``idents``.

    :meth:`reserve` takes one unit per code from every identity before Voucherify is asked
    (False: refuse the attempt, nothing was taken); :meth:`settle` hands back the units of the
    codes that turned out not to be guesses. An attempt that fails unexpectedly keeps its
    reservation.

    Used as a context manager around the service call, it settles a checkout error by itself
    (a refusal of unknown codes keeps them all counted, any other refusal hands them back), so
    callers raise errors as they are.
    """

    def __init__(self, idents: Sequence[str]) -> None:
        limits = rate(FAILURES_SCOPE)
        self.counters = [] if limits is None else [WindowCounter(FAILURES_SCOPE, i, *limits) for i in idents]
        self.reserved = 0

    def reserve(self, codes: int) -> bool:
        taken: list[WindowCounter] = []
        for counter in self.counters:
            if not counter.take(codes):
                for done in taken:  # all or nothing: the identities that allowed it get it back
                    done.give_back(codes)
                return False
            taken.append(counter)
        self.reserved = codes if self.counters else 0
        return True

    def reserve_or_raise(self, codes: int) -> UnknownCodesBudget:
        """:meth:`reserve`, raising :class:`TooManyAttempts` when the budget is spent."""
        if not self.reserve(codes):
            raise TooManyAttempts(self.wait() or 0.0)
        return self

    def settle(self, unknown: int) -> None:
        for counter in self.counters:
            counter.give_back(self.reserved - min(unknown, self.reserved))
        self.reserved = 0

    def __enter__(self) -> UnknownCodesBudget:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if isinstance(exc, CodesRefused):
            self.settle(self.reserved if exc.key in UNKNOWN_CODE_KEYS else 0)
        elif isinstance(exc, CheckoutError | VoucherifyError):  # nothing said about the codes
            self.settle(0)

    def wait(self) -> float | None:
        return max((c.wait() for c in self.counters), default=None)
