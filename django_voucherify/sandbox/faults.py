"""Fault injection: latency, error rates, 429 with ``Retry-After``, 5xx and dropped connections.

Rules are matched per request in insertion order; the first rule that matches method and path
(``fnmatch`` pattern over the decoded path, e.g. ``/v1/vouchers/*``) and that "fires" decides.
A rule fires deterministically for its next ``times`` matches (then is used up), or randomly
with probability ``rate`` (seeded RNG, so runs are reproducible). Example::

    sandbox.faults.add(path="/v1/vouchers/*", method="GET", status=503, times=2)
    sandbox.faults.add(path="/v1/redemptions", status=429, retry_after=1, times=1)
    sandbox.faults.add(path="*", latency=0.5)                      # every request, forever
    sandbox.faults.add(path="/v1/orders", drop=True, times=1)      # connection dropped
    sandbox.faults.add(path="/v1/redemptions", drop=True, after=True)  # handled, answer lost

``after=True`` makes latency and drops strike *after* the request was handled: the server acted
but the client never hears of it (the case a checkout must reconcile).
"""

from __future__ import annotations

import fnmatch
import random
import threading
from dataclasses import dataclass


class DropConnection(Exception):
    """Raised by the app: the transport must drop the connection without any response."""


class SimulatedTimeout(Exception):
    """Raised by the app when injected latency exceeds the caller's read timeout."""


class NotOnTheLoop(Exception):
    """Raised by the app, before it changes anything, for a request the server's event loop
    took up when a fault that sleeps or drops fires for it (armed after the loop looked): the
    loop must not sleep for every client, so it hands the request to a thread, which serves it
    again from the start with this rule (``fault``) instead of picking again: one pick, one
    draw of a ``rate``, as on a server without the loop."""

    def __init__(self, fault: Fault) -> None:
        super().__init__(fault.path)
        self.fault = fault


@dataclass
class Fault:
    """One rule. ``status`` None means "no error" (latency-only); ``times`` None means forever."""

    path: str = "*"
    method: str = "*"
    status: int | None = None
    latency: float = 0.0
    retry_after: float | None = None
    drop: bool = False
    times: int | None = None
    rate: float = 1.0
    key: str | None = None
    after: bool = False
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (self.method in ("*", method.upper())) and fnmatch.fnmatchcase(path, self.path)


class FaultInjector:
    """Thread-safe rule list owned by a :class:`~django_voucherify.sandbox.app.Sandbox`."""

    def __init__(self, seed: int = 0) -> None:
        self._rules: list[Fault] = []
        self._lock = threading.Lock()
        self._rng = random.Random(seed)

    def add(
        self,
        path: str = "*",
        method: str = "*",
        *,
        status: int | None = None,
        latency: float = 0.0,
        retry_after: float | None = None,
        drop: bool = False,
        times: int | None = None,
        rate: float = 1.0,
        key: str | None = None,
        after: bool = False,
    ) -> Fault:
        """Add a rule and return it (``rule.hits`` counts how often it fired)."""
        if status == 429 and retry_after is None:
            retry_after = 1
        rule = Fault(path, method.upper(), status, latency, retry_after, drop, times, rate, key, after)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def armed(self) -> bool:
        """Whether any rule can still fire: without one, a request skips :meth:`pick` (and the
        lock), and the server's event loop serves it (a rule used up no longer counts). Asked
        twice per request, and usually of no rule at all: then no generator is made."""
        rules = self._rules
        if not rules:
            return False
        return any(rule.times is None or rule.hits < rule.times for rule in rules)

    def pick(self, method: str, path: str) -> Fault | None:
        """The rule that fires for this request (consuming one of its ``times``), or None."""
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, path):
                    continue
                if rule.times is not None and rule.hits >= rule.times:
                    continue
                if rule.rate < 1.0 and self._rng.random() >= rule.rate:
                    continue
                rule.hits += 1
                return rule
        return None
