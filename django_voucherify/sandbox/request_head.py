"""Reading a request's head (request line and header fields) fast, with the stdlib's answers.

``http.server`` parses every header block with the ``email`` package, which cost the sandbox
more than routing, pricing and recording a redeem together. The common shape -- ``METHOD
/path HTTP/1.1`` and ``Name: value`` lines -- is read here with a regular expression and
``str.partition``; anything else (absolute-form or ``//`` targets, HTTP/0.9 and 2+, bad syntax,
folded or colon-less header lines) goes to the standard library exactly as before, so odd
requests keep getting the stdlib's answers. Both paths share the stdlib's limits: a header line
over 65,536 bytes or more than 100 header lines is 431.
"""

from __future__ import annotations

import email.parser
import re
from collections.abc import Iterator
from typing import Any

#: The request lines read here; any other goes to ``BaseHTTPRequestHandler.parse_request``.
#: Printable ASCII only: ``str.split`` (which the stdlib uses) also splits on ``\x85`` and
#: ``\xa0``, and a ``//`` target is rewritten by the stdlib (gh-87389).
SIMPLE_REQUEST_LINE = re.compile(rb"([A-Z]+) (/(?!/)[\x21-\x7e]*) HTTP/1\.([01])\r?\n")

MAX_LINE = 65536  # http.client._MAXLINE
MAX_HEADERS = 100  # http.client._MAXHEADERS
_END = (b"\r\n", b"\n", b"")
# A header block of token names and printable-ASCII values, ended by a blank line.
_NAME = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_PLAIN_HEAD = re.compile(rf"(?:{_NAME}:[\t -~]*\r?\n)*\r?\n")
#: Such a block with ``\r\n`` line ends, as bytes: the heads the event loop serves itself
#: (:func:`~django_voucherify.sandbox.framing.plain_request_size`), which the handler then reads
#: with :func:`plain_fields`, so both find the same ``Content-Length`` where the request ends
#: (the ``email`` parser ends a head at a colon-less line and splits lines on a bare ``\r``).
PLAIN_HEAD_CRLF = re.compile(rf"(?:{_NAME}:[\t -~]*\r\n)*\r\n".encode())
#: One field of such a block (the rule :func:`plain_fields` follows; the tests compare them).
_PLAIN_FIELD = re.compile(rf"({_NAME}):[\t ]*([\t -~]*?)[\t ]*\r?\n")


class HeadTooLarge(Exception):
    """A header line or the number of header lines is over the limit (answered 431)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class RequestHeaders:
    """Header fields in arrival order; ``get`` is case-insensitive and gives the first value
    (as ``email.message.Message.get`` does). Read-only: one is shared by every request that
    sends the same head (see :func:`parse_header_lines`)."""

    __slots__ = ("_first", "_items", "connection", "expect", "plain_framing", "wsgi")

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._items = items
        #: What the server derives from these fields for the WSGI environ, kept by it (the
        #: server's ``get_environ``): computed once per head, not once per request.
        self.wsgi: Any = None
        self._first: dict[str, str] = {}
        for name, value in reversed(items):
            self._first[name.lower()] = value
        #: The ``Connection`` and ``Expect`` values, lower-case ("" when absent): what the
        #: server asks of every request's head, read once per head.
        self.connection = self._first.get("connection", "").lower()
        self.expect = self._first.get("expect", "").lower()
        #: No ``Transfer-Encoding`` and at most one ``Content-Length``: nothing for
        #: :func:`~django_voucherify.sandbox.framing.ambiguity` to look into.
        self.plain_framing = "transfer-encoding" not in self._first and (
            "content-length" not in self._first
            or len(self._first) == len(items)
            or sum(1 for name, _ in items if name.lower() == "content-length") == 1
        )

    def get(self, name: str, default: Any = None) -> Any:
        return self._first.get(name.lower(), default)

    def __getitem__(self, name: str) -> str | None:
        return self._first.get(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._first

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)


def read_head(rfile: Any) -> list[bytes]:
    """:func:`read_header_lines`' bytes, taken in one read when the whole head is already in
    the reader's buffer with ``\r\n`` line ends (the usual case; eleven ``readline`` calls
    otherwise). Any other head (bare ``\n``, no header at all, more than the buffer, more lines
    than allowed) is read line by line, limits and all."""
    peek = getattr(rfile, "peek", None)
    if peek is not None:
        buffered = peek(MAX_LINE)  # what is buffered (one read from the socket if nothing is)
        end = buffered.find(b"\r\n\r\n")
        if end > 0 and not buffered.startswith(b"\r\n"):
            head = buffered[: end + 4]
            lines = head.count(b"\n")
            if lines <= MAX_HEADERS and lines == head.count(b"\r\n"):
                return [rfile.read(end + 4)]
    return read_header_lines(rfile)


def read_header_lines(rfile: Any) -> list[bytes]:
    """The header lines up to and including the blank line (or EOF), within the limits."""
    lines: list[bytes] = []
    while True:
        line = rfile.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise HeadTooLarge("Line too long", "header line")
        lines.append(line)
        if len(lines) > MAX_HEADERS:
            raise HeadTooLarge("Too many headers", f"got more than {MAX_HEADERS} headers")
        if line in _END:
            return lines


def plain_fields(text: str) -> list[tuple[str, str]]:
    """The ``(name, value)`` pairs of a header block ``_PLAIN_HEAD`` matched: what
    ``_PLAIN_FIELD.findall`` gives (the value without the spaces and tabs around it), split with
    ``str`` methods, a fraction of the cost of that expression's backtracking. ``splitlines``
    splits on more than ``\n`` and ``\r\n``, but none of those characters is in such a block."""
    return [
        (name, value.strip(" \t"))
        for name, _, value in (line.partition(":") for line in text.splitlines()[:-1])
    ]


#: The :class:`RequestHeaders` of the plain header blocks read lately, by their text: a
#: keep-alive client sends the same block again and again (~5 us to read, of a redeem's ~120).
#: Cleared when full (the blocks are the clients' choice).
_PLAIN_BLOCKS: dict[str, RequestHeaders] = {}
_PLAIN_BLOCKS_KEPT = 256


def parse_header_lines(lines: list[bytes], message_class: Any) -> Any:
    """A :class:`RequestHeaders` for plain ``Name: value`` lines (the same object for the same
    lines read lately); otherwise what the stdlib builds from the same bytes
    (``http.client.parse_headers``: an ``HTTPMessage``, a new one each time)."""
    text = b"".join(lines).decode("iso-8859-1")
    known = _PLAIN_BLOCKS.get(text)
    if known is not None:
        return known
    if _PLAIN_HEAD.fullmatch(text):
        headers = RequestHeaders(plain_fields(text))
        if len(_PLAIN_BLOCKS) >= _PLAIN_BLOCKS_KEPT:
            _PLAIN_BLOCKS.clear()
        _PLAIN_BLOCKS[text] = headers
        return headers
    # Folded, colon-less, oddly spaced or non-ASCII lines: the email parser's reading (which
    # also splits lines on \x0c, \x85 and the like) is the reference.
    return email.parser.Parser(_class=message_class).parsestr(text)
