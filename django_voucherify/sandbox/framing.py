"""Where a request body ends: its ``Content-Length``, or its chunked transfer coding.

A length or chunk size the sandbox cannot read (``Content-Length: -1``, a chunk size ``-5`` or
``zz``) is :class:`BadFraming`: the request is answered 400 ``invalid_payload`` with the reason
and the connection closed, since where the next request starts is unknown. A body that stops
before its framing says it ends is :class:`CutShort`: never processed and never answered, as a
server never holds a whole request then (see "Fault injection" in docs/sandbox.md).
"""

from __future__ import annotations

import io
import re
from typing import Any

#: WSGI environ key by which a transport hands the app a body it could not delimit.
BODY_ERROR_KEY = "sandbox.body_error"

_DIGITS = re.compile(r"[0-9]+")
_HEX = re.compile(rb"[0-9A-Fa-f]+")
# A chunk-size line is short; a longer one is not a chunk size (and reading on would be unbounded).
_MAX_SIZE_LINE = 1024


class BadFraming(ValueError):
    """The body's length or chunk sizes cannot be read."""


class CutShort(EOFError):
    """The body ended (the client closed) before its framing said it would."""


def ambiguity(headers: Any) -> str | None:
    """Why a request's framing is ambiguous, or None: two ``Content-Length`` headers, a length
    beside ``Transfer-Encoding`` (the request-smuggling pattern), or a transfer coding other
    than ``chunked`` alone. Such a request is answered 400 and its connection closed."""
    if getattr(headers, "plain_framing", False):  # the fast path's headers know it already
        return None
    names = [str(name).lower() for name, _value in headers.items()]
    codings = [
        str(value).strip().lower()
        for name, value in headers.items()
        if str(name).lower() == "transfer-encoding"
    ]
    if names.count("content-length") > 1:
        return "more than one Content-Length header"
    if codings and "content-length" in names:
        return "Content-Length together with Transfer-Encoding"
    if codings and codings != ["chunked"]:
        return f"unsupported Transfer-Encoding {', '.join(codings)!r} (only chunked)"
    return None


def content_length(value: str) -> int:
    """The body length a ``Content-Length`` header gives: decimal digits only (HTTP's
    ``1*DIGIT``), so ``-1``, ``+5``, ``1_0`` or ``5, 6`` are :class:`BadFraming`."""
    value = value.strip()
    if not _DIGITS.fullmatch(value):
        raise BadFraming(f"Content-Length {value!r} is not a length in bytes")
    return int(value)


def read_chunked(rfile: Any, limit: int) -> bytes | None:
    """Decode a chunked request body; None when it exceeds ``limit`` (the rest left unread)."""
    buf = io.BytesIO()
    while True:
        size = _chunk_size(rfile.readline(_MAX_SIZE_LINE))
        if size == 0:
            while (trailer := rfile.readline(_MAX_SIZE_LINE)) not in (b"\r\n", b"\n"):
                if not trailer:
                    raise CutShort("chunked body ended in its trailers")
            return buf.getvalue()
        if buf.tell() + size > limit:
            return None
        data = rfile.read(size)
        if len(data) < size:
            raise CutShort("chunked body ended inside a chunk")
        buf.write(data)
        end = rfile.readline(_MAX_SIZE_LINE)
        if not end:
            raise CutShort("chunked body ended after a chunk")
        if end not in (b"\r\n", b"\n"):
            raise BadFraming("a chunk is longer than its size")


def _chunk_size(line: bytes) -> int:
    if not line:
        raise CutShort("chunked body ended before its last chunk")
    size = line.split(b";", 1)[0].strip()  # ";name=value" chunk extensions are ignored
    if not _HEX.fullmatch(size):
        shown = size[:40].decode("latin-1")
        raise BadFraming(f"chunk size {shown!r} is not a hexadecimal number")
    return int(size, 16)
