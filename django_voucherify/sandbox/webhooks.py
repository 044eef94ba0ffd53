"""The sandbox sends webhooks: every state change it simulates is announced to the configured
URLs, signed like Voucherify's (``X-Voucherify-Signature``: hex HMAC-SHA256 of the body), from
a background thread, at least once, with retries and backoff on failure.

``python -m django_voucherify.sandbox --webhook-url URL [--webhook-url URL2] --webhook-secret S``
or, in tests, ``WebhookSender(urls, secret).attach(sandbox)``.

Fault injection (:class:`DeliveryFaults`, seeded, for testing receivers): ``duplicate`` sends a
delivery twice, ``delay`` holds deliveries back up to that many seconds (so later events can
overtake earlier ones: reordering), ``fail`` makes an attempt fail before it is sent (it is
retried like a refused one).
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import logging
import random
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django_voucherify.sandbox.app import Exchange, Sandbox
from django_voucherify.sandbox.compact import jsonable
from django_voucherify.sandbox.webhook_events import TRANSACTION_OPERATIONS, events_for, touched_codes

logger = logging.getLogger("django_voucherify.sandbox.webhooks")

#: Remembered customer id -> source id pairs (deletions no longer name the source id).
SOURCES_KEPT = 100_000


@dataclass
class DeliveryFaults:
    duplicate: float = 0.0  # probability a delivery is sent twice
    delay: float = 0.0  # seconds: each delivery waits a random time up to this before its first try
    fail: float = 0.0  # probability an attempt fails before being sent
    seed: int | None = None
    rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def draw(self) -> float:
        """The next number of the seeded sequence (request threads and the sender share it)."""
        with self._lock:
            return self.rng.random()

    def wait(self) -> float:
        with self._lock:
            return self.rng.uniform(0, self.delay) if self.delay else 0.0


@dataclass
class Delivery:
    url: str
    body: bytes
    event_type: str
    attempts: int = 0


def sign(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _subject_of(kind: str, data: dict[str, Any]) -> str:
    """The object an event is about, for per-object ordering of event times."""
    for key, name in (("voucher", "code"), ("customer", "id"), ("order", "id"), ("redemption", "id")):
        obj = data.get(key)
        if (
            kind.startswith(("voucher.", "customer.", "redemption."))
            and isinstance(obj, dict)
            and obj.get(name)
        ):
            if key == "voucher" and kind.startswith("redemption."):
                continue
            return f"{key}:{obj[name]}"
    return ""


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class WebhookSender:
    """Deliver events to ``urls`` from one background thread (started on first event)."""

    def __init__(
        self,
        urls: list[str],
        secret: str,
        *,
        faults: DeliveryFaults | None = None,
        max_attempts: int = 10,
        backoff: float = 0.5,
        backoff_max: float = 30.0,
        timeout: float = 10.0,
        project_id: str = "proj_sandbox",
    ) -> None:
        self.urls = list(urls)
        self._secret = secret
        self.faults = faults or DeliveryFaults()
        self.max_attempts, self.backoff, self.backoff_max = max_attempts, backoff, backoff_max
        self.timeout = timeout
        self.project_id = project_id
        self.delivered = 0
        self.attempts = 0
        self.given_up = 0
        self._queue: list[tuple[float, int, Delivery]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._in_flight = 0
        self._closed = False
        self._thread: threading.Thread | None = None
        self._sources: OrderedDict[str, str] = OrderedDict()
        self._sandbox: Sandbox | None = None
        self._last_at: OrderedDict[str, datetime] = OrderedDict()

    def __repr__(self) -> str:  # never the secret
        return f"WebhookSender(urls={self.urls!r}, delivered={self.delivered})"

    # -- producing -------------------------------------------------------------------------

    def attach(self, sandbox: Sandbox) -> WebhookSender:
        self._sandbox = sandbox
        sandbox.response_listeners.append(self.on_exchange)
        return self

    def on_exchange(self, exchange: Exchange) -> None:
        body = exchange.response.body
        self._remember_sources(body)
        try:
            found = events_for(
                exchange.operation_id,
                exchange.request.path_params,
                exchange.response.status,
                body,
                self._sources,
            )
        except Exception:  # an answer of a shape not foreseen must not break the request
            logger.exception("sandbox webhooks: could not derive events of %s", exchange.operation_id)
            return
        for kind, data, at in found:
            self.emit(kind, data, at=at)
        if exchange.response.status < 400 and exchange.operation_id in TRANSACTION_OPERATIONS:
            self._emit_transactions(exchange.operation_id, exchange.request.path_params, body)

    def _emit_transactions(self, operation_id: str, path_params: dict[str, str], body: Any) -> None:
        """A gift or loyalty card's balance changed (redeemed, rolled back, added, removed):
        Voucherify announces the transaction, with the card as it is now."""
        codes = touched_codes(operation_id, path_params, body)
        state = self._sandbox.state if self._sandbox is not None else None
        if state is None:
            return
        for code in codes:
            with state.lock:
                voucher = state.vouchers.get(code)
                if not voucher or voucher.get("type") not in ("GIFT_VOUCHER", "LOYALTY_CARD"):
                    continue
                history = state.voucher_transactions.get(str(voucher.get("id")), [])
                snapshot = json.loads(json.dumps(voucher, default=jsonable))
                latest = json.loads(json.dumps(history[-1], default=jsonable)) if history else None
            kind = (
                "voucher.gift.transaction.created"
                if snapshot["type"] == "GIFT_VOUCHER"
                else "voucher.loyalty_card.transaction.created"
            )
            data: dict[str, Any] = {"voucher": snapshot}
            if latest is not None:
                data["transaction"] = latest
            self.emit(kind, data, at=snapshot.get("updated_at"))

    def _remember_sources(self, body: Any) -> None:
        items = body.get("customers") if isinstance(body, dict) and body.get("object") == "list" else [body]
        for item in items or []:
            if isinstance(item, dict) and item.get("object") == "customer":
                ident, source = item.get("id"), item.get("source_id")
                if isinstance(ident, str) and isinstance(source, str):
                    self._sources[ident] = source
                    self._sources.move_to_end(ident)
                    while len(self._sources) > SOURCES_KEPT:
                        self._sources.popitem(last=False)

    def emit(self, kind: str, data: dict[str, Any], *, at: str | None = None) -> None:
        """Queue event ``kind`` for every URL (``at``: when the change happened; now if None)."""
        # Random, not a counter: a restarted sandbox must not reuse the ids of events a shop
        # has stored already (they would be taken for duplicates and dropped).
        number = secrets.randbits(72)
        created = self._after_last(_subject_of(kind, data), at if isinstance(at, str) and at else _now_iso())
        for url in self.urls:
            envelope = {
                "id": f"whs_{number:018x}",
                "project_id": self.project_id,
                "created_at": _now_iso(),
                "type": kind,
                "data": data,
                "source": {"id": "wh_sandbox", "object": "webhook", "target_url": url},
                "event": {
                    "id": f"evsb_{number:018x}",
                    "type": kind,
                    "created_at": created,
                    "category": "ACTION",
                    "entity_id": "user_sandbox",
                },
            }
            text = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False, default=jsonable)
            body = text.encode("utf-8")
            copies = 2 if self.faults.draw() < self.faults.duplicate else 1
            for _ in range(copies):
                wait = self.faults.wait()
                self._push(time.monotonic() + wait, Delivery(url, body, kind))

    def _after_last(self, subject: str, at: str) -> str:
        """``at``, or one millisecond after the previous event of ``subject`` when not later:
        two changes of one object within a millisecond must still be told apart by time."""
        if not subject:
            return at
        try:
            when = datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            return at
        with self._cond:
            last = self._last_at.get(subject)
            if last is not None and when <= last:
                when = last + timedelta(milliseconds=1)
            self._last_at[subject] = when
            self._last_at.move_to_end(subject)
            while len(self._last_at) > SOURCES_KEPT:
                self._last_at.popitem(last=False)
        return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def _push(self, due: float, delivery: Delivery) -> None:
        with self._cond:
            if self._closed:
                return
            heapq.heappush(self._queue, (due, next(self._seq), delivery))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
                self._thread.start()
            self._cond.notify()

    # -- delivering ------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException:  # never silently: a dead sender would strand every delivery
            logger.exception("sandbox webhooks: the delivery thread stopped")
            raise

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (not self._queue or self._queue[0][0] > time.monotonic()):
                    wait = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._cond.wait(wait)
                if self._closed:
                    return
                _due, _seq, delivery = heapq.heappop(self._queue)
                self._in_flight += 1
            try:
                self._attempt(delivery)
            finally:
                with self._cond:
                    self._in_flight -= 1
                    self._cond.notify_all()

    def _attempt(self, delivery: Delivery) -> None:
        delivery.attempts += 1
        self.attempts += 1
        ok = False
        if self.faults.fail and self.faults.draw() < self.faults.fail:
            reason = "injected failure"
        else:
            request = urllib.request.Request(  # noqa: S310 - a URL the operator configured
                delivery.url,
                data=delivery.body,
                method="POST",
                headers={
                    "Content-Type": "application/json",
                    "X-Voucherify-Signature": sign(delivery.body, self._secret),
                    "User-Agent": "Voucherify-Sandbox-Webhooks",
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                    ok = 200 <= response.status < 300
                    reason = f"HTTP {response.status}"
            except urllib.error.HTTPError as exc:
                reason = f"HTTP {exc.code}"
            except Exception as exc:  # any failure of one attempt (a receiver answering garbage
                # raises http.client errors) is retried; the thread lives on
                reason = type(exc).__name__
        if ok:
            self.delivered += 1
            return
        if delivery.attempts >= self.max_attempts:
            self.given_up += 1
            logger.warning(
                "sandbox webhooks: gave up %s to %s (%s)", delivery.event_type, delivery.url, reason
            )
            return
        delay = min(self.backoff_max, self.backoff * 2 ** (delivery.attempts - 1))
        logger.info(
            "sandbox webhooks: %s to %s failed (%s); retry in %.1f s",
            delivery.event_type,
            delivery.url,
            reason,
            delay,
        )
        self._push(time.monotonic() + delay, delivery)

    # -- control ---------------------------------------------------------------------------

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until nothing is queued or in flight (True), or ``timeout`` (False)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
