"""LOCK validation sessions: quantity and gift credits held for a session key.

Contract: a :class:`SessionRegistry` is not thread-safe by itself; every call
happens under the owning sandbox's ``state.lock`` (the handlers guarantee it).
Expiry is lazy: expired sessions are ignored by every query and dropped when
met, using the ``now`` the caller passes (the state clock), so tests can move
time forward without sleeping.

Holds are indexed per voucher code, so asking "how much of this voucher do
other sessions hold" is O(sessions on that voucher), not O(all sessions).
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

TTL_UNITS: dict[str, timedelta] = {
    "DAYS": timedelta(days=1),
    "HOURS": timedelta(hours=1),
    "MINUTES": timedelta(minutes=1),
    "SECONDS": timedelta(seconds=1),
    "MILLISECONDS": timedelta(milliseconds=1),
    "MICROSECONDS": timedelta(microseconds=1),
    "NANOSECONDS": timedelta(microseconds=0.001),
}
# Voucherify's documented default when no ttl is sent (the spec examples show 7 DAYS).
DEFAULT_TTL = 7
DEFAULT_TTL_UNIT = "DAYS"

JSON = dict[str, Any]

_ALPHABET = string.ascii_letters + string.digits


def new_session_key() -> str:
    """``ssn_`` + 32 random alphanumerics, the shape the spec examples show."""
    return "ssn_" + "".join(secrets.choice(_ALPHABET) for _ in range(32))


def ttl_delta(ttl: Any, unit: Any) -> timedelta:
    """Convert ``ttl``/``ttl_unit`` to a timedelta; raises ValueError when invalid."""
    unit_name = str(unit or DEFAULT_TTL_UNIT)
    if unit_name not in TTL_UNITS:
        raise ValueError(f"unknown ttl_unit {unit_name!r}")
    value = DEFAULT_TTL if ttl is None else ttl
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError("ttl must be a positive number")
    return TTL_UNITS[unit_name] * value


@dataclass(slots=True)  # slots: one made by every redeem's hold lookup, without an instance dict
class Hold:
    """What a session holds on one voucher."""

    quantity: int = 0
    credits: int = 0


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def session_view(session: JSON) -> JSON:
    """The spec's ``Session`` object for a stored session."""
    return {
        "key": session["key"],
        "type": "LOCK",
        "ttl": session["ttl"],
        "ttl_unit": session["ttl_unit"],
    }


class SessionRegistry:
    """Live sessions of one sandbox over a JSON-able ``store`` (``state.sessions``:
    key -> ``{key, type, ttl, ttl_unit, expires_at, holds: {code: {quantity, credits}}}``)
    plus derived in-memory indexes (holds per voucher code, parsed expiry)."""

    def __init__(self, store: dict[str, JSON]) -> None:
        self.store = store
        self._by_code: dict[str, dict[str, Hold]] = {}
        self._expiry: dict[str, datetime] = {}
        for session in store.values():
            self._index(session)

    def _index(self, session: JSON) -> None:
        self._expiry[session["key"]] = _parse(session["expires_at"])
        for code, hold in session["holds"].items():
            self._by_code.setdefault(code, {})[session["key"]] = Hold(
                int(hold.get("quantity", 0)), int(hold.get("credits", 0))
            )

    def _drop(self, key: str) -> None:
        session = self.store.pop(key, None)
        self._expiry.pop(key, None)
        for code in (session or {}).get("holds", {}):
            self._unindex(code, key)

    def _unindex(self, code: str, key: str) -> None:
        per_code = self._by_code.get(code)
        if per_code is not None:
            per_code.pop(key, None)
            if not per_code:
                del self._by_code[code]

    def _expire(self, key: str, now: datetime) -> bool:
        """Drop session ``key`` if expired; True when it is gone/absent."""
        if key not in self.store:
            return True
        if now >= self._expiry[key]:
            self._drop(key)
            return True
        return False

    def get(self, key: str, now: datetime) -> JSON | None:
        """The live session with ``key`` or None."""
        return None if self._expire(key, now) else self.store[key]

    def holds_anything(self) -> bool:
        """Whether any session holds anything (expired ones not yet dropped included)."""
        return bool(self._by_code)

    def held(self, code: str, now: datetime, exclude: str | None = None) -> Hold:
        """Quantity and credits held on ``code`` by live sessions other than ``exclude``."""
        per_code = self._by_code.get(code)
        total = Hold()
        if not per_code:
            return total
        for key in list(per_code):
            if key == exclude or self._expire(key, now):
                continue
            hold = per_code[key]
            total.quantity += hold.quantity
            total.credits += hold.credits
        return total

    def lock(
        self,
        key: str | None,
        ttl: Any,
        ttl_unit: Any,
        now: datetime,
        holds: dict[str, Hold],
    ) -> JSON:
        """Create (or overwrite, when ``key`` exists, as documented) a session
        holding ``holds`` (voucher code -> Hold).  Raises ValueError on bad ttl."""
        delta = ttl_delta(ttl, ttl_unit)
        if key and key in self.store:
            self._drop(key)
        session: JSON = {
            "key": key or new_session_key(),
            "type": "LOCK",
            "ttl": DEFAULT_TTL if ttl is None else ttl,
            "ttl_unit": str(ttl_unit or DEFAULT_TTL_UNIT),
            "expires_at": _iso(now + delta),
            "holds": {c: {"quantity": h.quantity, "credits": h.credits} for c, h in holds.items()},
        }
        self.store[session["key"]] = session
        self._index(session)
        # Keep the exact expiry (the ISO string is rounded to milliseconds).
        self._expiry[session["key"]] = now + delta
        return session

    def consume(self, key: str, code: str) -> None:
        """A redemption used the session's hold on ``code``: release that hold."""
        session = self.store.get(key)
        if session is None or code not in session["holds"]:
            return
        del session["holds"][code]
        self._unindex(code, key)
        if not session["holds"]:
            self._drop(key)

    def release(self, code: str, key: str, now: datetime) -> bool:
        """Release the session's hold on ``code`` (DELETE .../sessions/{key}).
        Returns False when there is no live session with that key on that voucher."""
        if self._expire(key, now):
            return False
        if code not in self.store[key]["holds"]:
            return False
        self.consume(key, code)
        return True
