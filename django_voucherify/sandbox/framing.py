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

from django_voucherify.sandbox.request_head import MAX_HEADERS, PLAIN_HEAD_CRLF, SIMPLE_REQUEST_LINE

#: WSGI environ key by which a transport hands the app a body it could not delimit.
BODY_ERROR_KEY = "sandbox.body_error"

_DIGITS = re.compile(r"[0-9]+")
_HEX = re.compile(rb"[0-9A-Fa-f]+")
# A chunk-size line is short; a longer one is not a chunk size (and reading on would be unbounded).
_MAX_SIZE_LINE = 1024
# A Content-Length of more digits than this is no length any client sends (10**18 bytes).
_MAX_LENGTH_DIGITS = 18


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
        raise BadFraming(f"Content-Length {value[:40]!r} is not a length in bytes")
    if len(value.lstrip("0")) > _MAX_LENGTH_DIGITS:
        # int() refuses more than 4,300 digits (a ValueError), and no body is that long.
        raise BadFraming(f"Content-Length {value[:40]!r}... is too large to be a length in bytes")
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


#: What the event loop (:mod:`.event_loop`) buffers of one request before it hands the
#: connection to a thread instead: heads and bodies larger than these are rare (uploads, odd
#: clients) and a thread reads them with the limits and answers (431, 413) of the stdlib's path.
LOOP_HEAD_LIMIT = 16 * 1024
LOOP_BODY_LIMIT = 64 * 1024


#: Heads :func:`plain_request_size` found plain, by their bytes, with the body length they
#: announce. A keep-alive client repeats its heads byte for byte (the same path, headers and body
#: length: a client redeeming with same-sized bodies, or reading the same voucher again), and
#: the reading below is pure: the same bytes always get the same answer. Cleared when full:
#: heads are the clients' choice, so only a bounded number of recent ones is kept.
_PLAIN_HEADS: dict[bytes, int] = {}
_PLAIN_HEADS_KEPT = 256


def plain_request_size(buffer: bytes | bytearray) -> int | None:
    """:func:`read_plain_request_size`, remembered per head (see :data:`_PLAIN_HEADS`): a head
    read before costs a look-up instead of its checks (~4 us of a redeem's ~120)."""
    end = buffer.find(b"\r\n\r\n")
    if end >= 0:
        head = bytes(buffer[: end + 4])
        length = _PLAIN_HEADS.get(head)
        if length is not None:
            size = end + 4 + length
            return size if len(buffer) >= size else 0
    read = read_plain_request_size(buffer)
    if read:  # a whole plain request: its head ends at the first blank line, as found above
        if len(_PLAIN_HEADS) >= _PLAIN_HEADS_KEPT:
            _PLAIN_HEADS.clear()
        _PLAIN_HEADS[head] = read - (end + 4)
    return read


def read_plain_request_size(buffer: bytes | bytearray) -> int | None:
    """How many bytes of ``buffer`` are its first request, if that request is plain enough
    for the event loop to serve from memory; ``0`` while the rest has yet to arrive; ``None``
    when the connection is for a thread (:meth:`SandboxServer.hand_over`).

    Plain means: a request line the fast path reads (:data:`SIMPLE_REQUEST_LINE`, ``\\r\\n``
    ended), header lines the fast path reads (:data:`PLAIN_HEAD_CRLF`), no ``Transfer-Encoding``, no
    ``Expect`` and at most one ``Content-Length``, whose value is a length within
    :data:`LOOP_BODY_LIMIT`. The handler parses that request again, from memory, exactly as it
    would from the socket: this only decides where the request ends, and when in doubt answers
    ``None``, so every unusual request still gets the threaded path's reading of it.
    """
    line_end = buffer.find(b"\n")
    if line_end < 0:
        return None if len(buffer) > LOOP_HEAD_LIMIT else 0
    if buffer[line_end - 1 : line_end] != b"\r" or not SIMPLE_REQUEST_LINE.match(buffer):
        return None
    end = buffer.find(b"\r\n\r\n", line_end - 1)
    head = buffer[: end + 2] if end >= 0 else buffer
    lines = head.count(b"\n")
    if lines != head.count(b"\r\n") or lines > MAX_HEADERS + 1:
        return None  # bare LF line ends, or more header lines than the limit: a thread's case
    if end < 0:
        return None if len(buffer) > LOOP_HEAD_LIMIT else 0
    if len(head) > LOOP_HEAD_LIMIT or not PLAIN_HEAD_CRLF.fullmatch(buffer, line_end + 1, end + 4):
        return None  # folded, colon-less, spaced, non-ASCII or bare-CR lines: the stdlib's reading
    lowered = head.lower()
    if lowered.find(b"\ntransfer-encoding") >= 0 or lowered.find(b"\nexpect") >= 0:
        return None
    length = 0
    start = lowered.find(b"\ncontent-length")
    if start >= 0:
        colon = start + 15  # len(b"\ncontent-length")
        if head[colon] != 58 or lowered.find(b"\ncontent-length", colon) >= 0:  # 58: ":"
            return None  # "Content-Length :" or two of them: a thread answers (400)
        try:  # the handler's own reading of the value (a thread answers the 400)
            length = content_length(bytes(head[colon + 1 : head.find(b"\r", colon)]).decode("latin-1"))
        except BadFraming:
            return None
        if length > LOOP_BODY_LIMIT:
            return None
    size = end + 4 + length
    return size if len(buffer) >= size else 0
