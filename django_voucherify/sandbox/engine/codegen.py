"""Code generation from a campaign's ``code_config`` (pattern, charset, prefix, postfix, length).

Voucherify's rules (CodeConfig in the spec): ``pattern`` wins over ``length``; each ``#`` of the
pattern is one random character of ``charset``, every other character is kept as is; ``prefix``
and ``postfix`` wrap the result; the default is 8 alphanumeric characters. Codes are unique
across the project (the create-campaign note "Global uniqueness"), which the caller checks
against the stored vouchers and the bin (:meth:`CodeSource.take`).

Why a class: a campaign asks for thousands of codes at once, so the config is checked once,
the capacity of its pattern (``len(charset) ** placeholders``) is known before any work (asking
a 2-placeholder pattern of charset ``AB`` for 5 codes is a 400, not a loop that never ends),
and each code costs one ``secrets`` draw per placeholder.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from typing import Any

from django_voucherify.sandbox.errors import invalid_payload

JSON = dict[str, Any]

ALPHANUMERIC = string.digits + string.ascii_letters
DEFAULT_LENGTH = 8
MAX_LENGTH = 100
#: Consecutive collisions after which a source stops: its space is (nearly) used up.
MAX_MISSES = 1000


class CodeSource:
    """Random codes from one ``code_config``; :meth:`take` draws one that ``taken`` refuses not."""

    def __init__(self, config: Any) -> None:
        cfg = config if config is not None else {}
        if not isinstance(cfg, dict):
            raise invalid_payload("code_config must be an object")
        charset = cfg.get("charset") or ALPHANUMERIC
        if not isinstance(charset, str):
            raise invalid_payload("code_config.charset must be a string")
        # A charset that repeats a character does not make that character likelier in
        # Voucherify's generator: its distinct characters are the alphabet.
        self.charset = "".join(dict.fromkeys(charset))
        self.prefix = self._text(cfg, "prefix")
        self.postfix = self._text(cfg, "postfix")
        pattern = cfg.get("pattern")
        if pattern is not None and not isinstance(pattern, str):
            raise invalid_payload("code_config.pattern must be a string")
        if pattern:
            self.pattern = pattern
        else:
            length = cfg.get("length")
            length = DEFAULT_LENGTH if length is None else length
            if isinstance(length, bool) or not isinstance(length, int | float) or length != int(length):
                raise invalid_payload("code_config.length must be an integer")
            if not 1 <= int(length) <= MAX_LENGTH:
                raise invalid_payload(f"code_config.length must be between 1 and {MAX_LENGTH}")
            self.pattern = "#" * int(length)
        self.placeholders = self.pattern.count("#")
        # A code longer than any code can be (the app's code rule stops at MAX_LENGTH too) is
        # refused before any work: an unbounded pattern made each code cost seconds under the
        # state lock (a 1M-character pattern: ~1 s a code).
        total = len(self.prefix) + len(self.pattern) + len(self.postfix)
        if total > MAX_LENGTH:
            raise invalid_payload(
                f"code_config makes codes of {total} characters (prefix, pattern and postfix); "
                f"at most {MAX_LENGTH}"
            )

    @staticmethod
    def _text(cfg: JSON, name: str) -> str:
        value = cfg.get(name)
        if value is not None and not isinstance(value, str):
            raise invalid_payload(f"code_config.{name} must be a string")
        return value or ""

    @property
    def capacity(self) -> int:
        """How many distinct codes this config can produce."""
        return int(len(self.charset) ** self.placeholders)

    def check_room(self, wanted: int, used: int = 0) -> None:
        """400 when ``wanted`` more codes cannot exist beside ``used`` codes of this config."""
        if wanted > self.capacity - used:
            raise invalid_payload(
                f"code_config can produce {self.capacity} distinct codes; {wanted} more requested"
                + (f" beside {used} existing" if used else "")
            )

    def draw(self) -> str:
        """One random code (not checked for uniqueness)."""
        chars = self.charset
        body = "".join(secrets.choice(chars) if c == "#" else c for c in self.pattern)
        return f"{self.prefix}{body}{self.postfix}"

    def take(self, taken: Callable[[str], bool]) -> str | None:
        """A code ``taken`` refuses not, or None after :data:`MAX_MISSES` collisions in a row."""
        for _ in range(MAX_MISSES):
            code = self.draw()
            if not taken(code):
                return code
        return None
