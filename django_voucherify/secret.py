"""``Secret``: a credential that shows itself to nobody but the socket.

The app token is sent on every request, so it lives in header dicts, prepared requests and
urllib3/http.client frames, all of which error pages (Django's technical 500 page,
``AdminEmailHandler`` mails, Sentry) render from frame locals. A :class:`Secret` is what those
places hold instead of the string: its ``str``/``repr`` are masked, it cannot be pickled, and it
keeps the value XOR-masked with a random pad, so no serialiser walking objects finds the token
either. The value is produced only by :meth:`encode`, which is what ``http.client`` calls on a
header value just before writing it to the socket, and by :meth:`reveal` for code that must
hand the string on (a test adapter).

This module imports nothing heavy: settings (``conf``) wrap the token as soon as they read it.
"""

from __future__ import annotations

import hmac
import os
from typing import Any, NoReturn
from urllib.parse import urlsplit

MASK = "********"


def masked_url(url: str) -> str:
    """``url`` with the credentials of its authority (``user:password@``) masked: what a repr or
    a message shows of a URL (a gateway's or a proxy's may carry its password)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not even parsable (an unbalanced "["): nothing of it can be shown safely
        return MASK
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=f"{MASK}@{parts.netloc.rpartition('@')[2]}").geturl()


def can_hold(value: str) -> bool:
    """Whether ``value`` can be a :class:`Secret`: UTF-8 text. A lone surrogate (what
    ``os.environ`` makes of bytes that are not UTF-8) can be neither sent nor signed with."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def header_defect(value: str) -> str | None:
    """What keeps ``value`` from being sent as an HTTP header value as it is (None if nothing).

    A field value (RFC 9110) is visible characters with spaces and tabs inside, written by
    http.client in Latin-1: a line break is refused there (ValueError, at every request), a
    character outside Latin-1 (a lone surrogate included) cannot be encoded, and a server
    answers 400 to any other control character (NUL, DEL). Spaces and tabs at either end are
    no defect: they are not part of a field value (a server drops them), so the settings drop
    them too (:meth:`Secret.trimmed`) rather than refuse a key that worked.
    """
    for char in value:
        code = ord(char)
        if char in "\r\n":
            return "a line break"
        if code > 0xFF:
            return "a character outside Latin-1"
        if (code < 0x20 and char != "\t") or 0x7F <= code <= 0x9F:
            return "a control character"
    return None


class Secret:
    """An immutable credential; ``Secret(value) == value`` compares in constant time."""

    __slots__ = ("_length", "_masked", "_pad")

    _length: int
    _masked: int
    _pad: int

    def __init__(self, value: str | Secret) -> None:
        if isinstance(value, Secret):
            raw = value._bytes()
        elif isinstance(value, str):
            raw = value.encode("utf-8")
        else:
            raise TypeError(f"a Secret wraps a str, not {type(value).__name__}")
        pad = int.from_bytes(os.urandom(len(raw)), "big")
        object.__setattr__(self, "_length", len(raw))
        object.__setattr__(self, "_pad", pad)
        object.__setattr__(self, "_masked", int.from_bytes(raw, "big") ^ pad)

    @classmethod
    def wrap(cls, value: str | Secret) -> Secret:
        """``value`` itself when it is a :class:`Secret` already, else a new one."""
        return value if isinstance(value, Secret) else cls(value)

    def _bytes(self) -> bytes:
        return (self._masked ^ self._pad).to_bytes(self._length, "big")

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        """The value as bytes: ``http.client`` calls this to write a header value."""
        raw = self._bytes()
        if raw.isascii():  # every codec http.client or a test adapter asks for agrees on ASCII
            return raw
        return raw.decode("utf-8").encode(encoding, errors)

    def reveal(self) -> str:
        """The value as a string, for the rare code that must pass it on as one."""
        return self._bytes().decode("utf-8")

    def header_defect(self) -> str | None:
        """:func:`header_defect` of the value (a temporary of this call, never a name here)."""
        return header_defect(self.reveal())

    def trimmed(self) -> Secret:
        """The value without spaces or tabs at either end, as a new Secret: what a server reads
        of a header value (RFC 9110 drops them), and what requests accepts (it refuses a value
        starting with one). The value is a temporary of this call, never a name here."""
        return Secret(self.reveal().strip(" \t"))

    def __bool__(self) -> bool:
        return self._length > 0

    def masked_in(self, text: str) -> str:
        """``text`` with every occurrence of the value replaced by the mask (the value is a
        temporary of this expression, never a name in any frame)."""
        return text.replace(self.reveal(), MASK) if self._length else text

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return hmac.compare_digest(self._bytes(), other._bytes())
        if isinstance(other, str):
            return hmac.compare_digest(self._bytes(), other.encode("utf-8"))
        return NotImplemented

    def __hash__(self) -> int:
        return hash((Secret, self._bytes()))

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return format(MASK, spec)

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError("a Secret is immutable")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: Any) -> Secret:
        return self

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled (it would be written out in clear)")


class Withheld:
    """What stands in for a value where secrets were expected but which cannot be one (a
    string where a list is wanted, a dict, a nested list): it keeps the type's name, for the
    validator's message, and every string inside as a :class:`Secret` (:attr:`secrets`), so
    that text quoting one can still be masked, while no frame holding the settings (an error
    page renders the locals of the frame that raised) holds the secret in clear.

    A string that is a secret but cannot be sent (:func:`header_defect`) is withheld with its
    ``defect``, which the validator words instead of the type."""

    __slots__ = ("defect", "secrets", "type_name")

    #: Containers walked at most this deep (a value that nests itself ends there).
    DEPTH = 8

    def __init__(self, value: object, *, defect: str | None = None) -> None:
        self.type_name = type(value).__name__
        self.secrets: tuple[Secret, ...] = tuple(_strings_in(value, self.DEPTH))
        self.defect = defect

    def __repr__(self) -> str:
        return f"Withheld({self.type_name})"


def _strings_in(value: object, depth: int) -> list[Secret]:
    """Every non-blank string in ``value`` (itself, the items of a list, tuple or set, a dict's
    values: its keys are names), each wrapped as soon as it is found."""
    if isinstance(value, Secret):
        return [value] if value else []
    if isinstance(value, str):  # (one that no Secret can hold cannot be quoted in UTF-8 text either)
        return [Secret(value)] if value.strip() and can_hold(value) else []
    if isinstance(value, Withheld):
        return list(value.secrets)
    if depth <= 0:
        return []
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list | tuple | set | frozenset):
        return [secret for item in value for secret in _strings_in(item, depth - 1)]
    return []
