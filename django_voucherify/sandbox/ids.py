"""Random identifiers: object ids (``r_`` + 18 alphanumerics) and request ids (``v-`` + 18 hex).

Both come from the operating system's CSPRNG (:mod:`secrets`), drawn in blocks: a redeem makes
three ids, and one ``getrandom`` system call per id cost more than the rest of the id's making.
A :class:`CharPool` turns one 4 KiB draw into a run of characters and hands out slices of it
(~220 object ids or ~450 request ids per draw). Every character is used once, so ids are as
unpredictable and as independent as with a draw per id.
"""

from __future__ import annotations

import secrets
import string
import threading
from collections.abc import Callable

_ALNUM = string.ascii_lowercase + string.digits
# Bytes map onto _ALNUM with bytes.translate: bytes below 252 = 7 * 36 map uniformly, the
# rest are dropped (256 is not a multiple of 36: keeping them would make a..d likelier).
_UNIFORM_BELOW = len(_ALNUM) * (256 // len(_ALNUM))
_TO_ALNUM = bytes(ord(_ALNUM[b % len(_ALNUM)]) for b in range(_UNIFORM_BELOW)) + bytes(256 - _UNIFORM_BELOW)
_BIASED = bytes(range(_UNIFORM_BELOW, 256))
DRAW = 4096  # bytes per draw from the OS


def _alnum(raw: bytes) -> str:
    return raw.translate(_TO_ALNUM, _BIASED).decode("ascii")


def _hex(raw: bytes) -> str:
    return raw.hex()


class CharPool:
    """Characters made from random bytes drawn :data:`DRAW` at a time; thread-safe."""

    __slots__ = ("_chars", "_lock", "_make", "_pos")

    def __init__(self, make: Callable[[bytes], str]) -> None:
        self._make = make
        self._chars = ""
        self._pos = 0
        self._lock = threading.Lock()

    def take(self, n: int) -> str:
        """``n`` characters never handed out before."""
        with self._lock:
            end = self._pos + n
            if end > len(self._chars):
                rest = self._chars[self._pos :]
                while len(rest) < n:
                    rest += self._make(secrets.token_bytes(DRAW))
                self._chars, self._pos, end = rest, 0, n
            out = self._chars[self._pos : end]
            self._pos = end
            return out

    def reset(self) -> None:
        """Forget the characters drawn and not yet used (tests feeding chosen bytes)."""
        with self._lock:
            self._chars, self._pos = "", 0


ALNUM_POOL = CharPool(_alnum)
HEX_POOL = CharPool(_hex)


def new_id(prefix: str, length: int = 18) -> str:
    """A Voucherify-like id: ``prefix`` (``_`` appended if missing) + random a-z0-9."""
    p = prefix if prefix.endswith("_") else prefix + "_"
    return p + ALNUM_POOL.take(length)


def request_id() -> str:
    """An ``X-Request-Id``: ``v-`` + 18 random hexadecimal digits (72 bits)."""
    return "v-" + HEX_POOL.take(18)
