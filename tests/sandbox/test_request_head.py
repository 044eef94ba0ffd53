"""The server's fast reading of request heads (sandbox/request_head.py) agrees with the stdlib.

The fast path replaced ``http.client.parse_headers`` (the ``email`` package) for plain requests;
the environ the app sees must be the one wsgiref built, and every odd request must still get
the standard library's answer.
"""

from __future__ import annotations

import http.client
import io
import json
import socket
from http.client import HTTPMessage
from wsgiref.simple_server import WSGIRequestHandler

import pytest
from hypothesis import given
from hypothesis import strategies as st

from django_voucherify.sandbox import request_head
from django_voucherify.sandbox.app import APP_HEADERS_KEY, _headers_of
from django_voucherify.sandbox.request_head import (
    _PLAIN_FIELD,
    _PLAIN_HEAD,
    SIMPLE_REQUEST_LINE,
    HeadTooLarge,
    RequestHeaders,
    parse_header_lines,
    plain_fields,
    read_head,
    read_header_lines,
)
from django_voucherify.sandbox.server import _Handler, start_in_thread
from tests.support.raw_http import exchange

TOKEN = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=1, max_size=12)
# Header values as clients send them: printable latin-1, possibly padded with spaces/tabs.
# \x0b, \x0c, \x1c and \x85 end a line for the email parser (str.splitlines): never fast.
VALUE = st.text(
    st.characters(
        min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f", include_characters="\x0b\x0c\x1c"
    ),
    max_size=20,
)
PADDING = st.sampled_from(["", " ", "  ", "\t", " \t"])
NAMES = st.one_of(TOKEN, st.sampled_from(["Content-Type", "content-length", "X-App-Id", "Connection"]))


def _environ(headers: object, path: str = "/v1/x?a=1") -> dict:
    class _Server:
        base_environ = {"SERVER_NAME": "x", "CONTENT_LENGTH": ""}

    handler = _Handler.__new__(_Handler)
    handler.server = _Server()  # type: ignore[assignment]
    handler.request_version, handler.command, handler.path = "HTTP/1.1", "POST", path
    handler.client_address = ("127.0.0.1", 1)
    handler.headers = headers  # type: ignore[assignment]
    return handler.get_environ()


def _wsgiref_environ(raw_head: bytes, path: str = "/v1/x?a=1") -> dict:
    handler = _Handler.__new__(_Handler)

    class _Server:
        base_environ = {"SERVER_NAME": "x", "CONTENT_LENGTH": ""}

    handler.server = _Server()  # type: ignore[assignment]
    handler.request_version, handler.command, handler.path = "HTTP/1.1", "POST", path
    handler.client_address = ("127.0.0.1", 1)
    handler.headers = http.client.parse_headers(io.BytesIO(raw_head))
    env = WSGIRequestHandler.get_environ(handler)
    env["RAW_URI"] = path
    return env


@given(st.lists(st.tuples(NAMES, PADDING, VALUE, PADDING), max_size=12), st.sampled_from(["\r\n", "\n"]))
def test_the_environ_is_the_one_wsgiref_built(fields, eol):
    raw = "".join(f"{name}:{pre}{value}{post}{eol}" for name, pre, value, post in fields) + eol
    raw_head = raw.encode("latin-1")
    lines = read_header_lines(io.BytesIO(raw_head))
    fast = parse_header_lines(lines, http.client.HTTPMessage)
    expected = _wsgiref_environ(raw_head)
    got = _environ(fast)
    # The same head again (the fields and what the server derived from them are kept): the
    # same environ, with a header dict of its own.
    again = _environ(parse_header_lines(lines, http.client.HTTPMessage))
    assert again == got and again[APP_HEADERS_KEY] is not got[APP_HEADERS_KEY]
    # The app's header dict, made in the same pass, is the one the app builds from the environ.
    assert got.pop(APP_HEADERS_KEY) == _headers_of(got)
    # wsgiref does not strip Content-Type/-Length; the app strips both before use.
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        assert got.get(key, "").strip() == expected.get(key, "").strip()
        got.pop(key, None), expected.pop(key, None)
    assert got == expected


@given(
    st.lists(
        st.tuples(
            NAMES, PADDING, VALUE | st.text("\t \r:x", max_size=6), PADDING, st.sampled_from(["\r\n", "\n"])
        )
    ),
    st.sampled_from(["\r\n", "\n"]),
)
def test_plain_fields_split_as_the_field_expression_does(fields, eol):
    text = "".join(f"{name}:{pre}{value}{post}{end}" for name, pre, value, post, end in fields) + eol
    if _PLAIN_HEAD.fullmatch(text):
        assert plain_fields(text) == _PLAIN_FIELD.findall(text)


@pytest.mark.parametrize(
    "lines",
    [
        [b"X-Folded: a\r\n", b" continued\r\n", b"\r\n"],  # obsolete line folding
        [b"No colon here\r\n", b"\r\n"],
        [b"Spaced-Name : v\r\n", b"\r\n"],
    ],
)
def test_odd_header_lines_are_read_by_the_email_parser(lines):
    parsed = parse_header_lines(lines, http.client.HTTPMessage)
    assert isinstance(parsed, http.client.HTTPMessage)


def test_a_plain_head_read_before_is_not_read_again_and_the_heads_kept_are_bounded(monkeypatch):
    read = []
    monkeypatch.setattr(request_head, "plain_fields", lambda text: read.append(text) or plain_fields(text))
    monkeypatch.setattr(request_head, "_PLAIN_BLOCKS", {})
    lines = [b"A: 1\r\n", b"B: 2\r\n", b"\r\n"]
    first = parse_header_lines(lines, http.client.HTTPMessage)
    assert parse_header_lines(list(lines), http.client.HTTPMessage) is first  # shared: read-only
    assert read == ["A: 1\r\nB: 2\r\n\r\n"]
    odd = [b"X-Folded: a\r\n", b" continued\r\n", b"\r\n"]  # the email parser's: never kept
    assert parse_header_lines(odd, HTTPMessage) is not parse_header_lines(odd, HTTPMessage)
    for n in range(request_head._PLAIN_BLOCKS_KEPT + 5):  # heads are the clients' choice: bounded
        parse_header_lines([f"X-N: {n}\r\n".encode(), b"\r\n"], http.client.HTTPMessage)
    assert 0 < len(request_head._PLAIN_BLOCKS) <= request_head._PLAIN_BLOCKS_KEPT


def _parsed(raw_head: bytes) -> _Handler:
    handler = _Handler.__new__(_Handler)
    handler.rfile = io.BufferedReader(io.BytesIO(raw_head))
    handler.wfile = io.BytesIO()
    handler.raw_requestline = handler.rfile.readline(65537)
    assert handler.parse_request()
    return handler


def test_a_request_line_read_before_is_taken_as_read_and_the_lines_kept_are_bounded(monkeypatch):
    from django_voucherify.sandbox import server as server_module

    reads = []
    reading = server_module._read_request_line
    monkeypatch.setattr(server_module, "_REQUEST_LINES", {})
    monkeypatch.setattr(server_module, "_read_request_line", lambda raw: reads.append(raw) or reading(raw))
    raw = b"POST /v1/x?a=1 HTTP/1.0\r\nConnection: Keep-Alive\r\nExpect: 100-Continue\r\n\r\n"
    first, second = _parsed(raw), _parsed(raw)
    assert reads == [b"POST /v1/x?a=1 HTTP/1.0\r\n"]  # the second request's line was known
    for handler in (first, second):
        line = (handler.command, handler.path, handler.request_version, handler.requestline)
        assert line == ("POST", "/v1/x?a=1", "HTTP/1.0", "POST /v1/x?a=1 HTTP/1.0")
        assert handler.close_connection is False  # HTTP/1.0 with Connection: keep-alive
        assert handler.headers.connection == "keep-alive" and handler.headers.expect == "100-continue"
    assert _parsed(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").close_connection is True
    assert _parsed(b"GET / HTTP/1.0\r\n\r\n").close_connection is True
    for n in range(server_module._REQUEST_LINES_KEPT + 5):  # lines are the clients' choice
        reading(f"GET /{n} HTTP/1.1\r\n".encode())
    assert 0 < len(server_module._REQUEST_LINES) <= server_module._REQUEST_LINES_KEPT


def test_plain_header_lines_skip_the_email_parser():
    parsed = parse_header_lines([b"A: 1\r\n", b"a: 2\r\n", b"B:3\r\n", b"\r\n"], http.client.HTTPMessage)
    assert isinstance(parsed, RequestHeaders)
    assert parsed.get("A") == "1"  # the first of repeated fields, like Message.get
    assert parsed["b"] == "3" and "B" in parsed and parsed.get("c", "-") == "-"
    assert parsed.items() == [("A", "1"), ("a", "2"), ("B", "3")]


def test_the_limits_are_the_stdlibs():
    with pytest.raises(HeadTooLarge, match="header line"):
        read_header_lines(io.BytesIO(b"X: " + b"a" * 70_000 + b"\r\n\r\n"))
    with pytest.raises(HeadTooLarge, match="more than 100 headers"):
        read_header_lines(io.BytesIO(b"X: 1\r\n" * 101 + b"\r\n"))
    assert len(read_header_lines(io.BytesIO(b"X: 1\r\n" * 99 + b"\r\n"))) == 100


@pytest.mark.parametrize(
    ("line", "fast"),
    [
        (b"POST /v1/redemptions HTTP/1.1\r\n", True),
        (b"GET /v1/vouchers/A%2FB?x=1 HTTP/1.0\n", True),
        (b"GET //evil.example/x HTTP/1.1\r\n", False),  # the stdlib rewrites "//" (gh-87389)
        (b"GET http://h/v1/x HTTP/1.1\r\n", False),  # absolute form
        (b"GET /x HTTP/2.0\r\n", False),
        (b"GET /x\r\n", False),  # HTTP/0.9
        (b"GET  /x HTTP/1.1\r\n", False),
        (b"GET /\xa0x HTTP/1.1\r\n", False),  # str.split() splits on \xa0
        (b"get /x HTTP/1.1\r\n", False),
    ],
)
def test_which_request_lines_take_the_fast_path(line, fast):
    assert (SIMPLE_REQUEST_LINE.fullmatch(line) is not None) is fast


@pytest.fixture
def server():
    srv = start_in_thread()
    yield srv
    srv.stop()


def _auth(server) -> str:
    return f"X-App-Id: {server.sandbox.app_id}\r\nX-App-Token: {server.sandbox.app_token}\r\n"


def test_too_many_headers_is_431(server):
    answer = exchange(server.url, b"GET /v1/vouchers HTTP/1.1\r\n" + b"X-A: 1\r\n" * 101 + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 431 ")


def test_a_header_line_too_long_is_431(server):
    answer = exchange(server.url, b"GET /v1/vouchers HTTP/1.1\r\nX-A: " + b"a" * 70_000 + b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 431 ")


def test_http_2_is_505_and_bad_syntax_400(server):
    # The stdlib refuses these before it knows the version to answer in; the answer is still a
    # status line with Voucherify's JSON error (test_malformed_http has more of them).
    assert exchange(server.url, b"GET /v1/vouchers HTTP/2.0\r\n\r\n").startswith(b"HTTP/1.1 505 ")
    assert exchange(server.url, b"GET /v1/vouchers HTTP/1.1 extra\r\n\r\n").startswith(b"HTTP/1.1 400 ")


def test_http_1_0_closes_after_the_answer_and_1_1_keeps_it_open(server):
    answer = exchange(server.url, f"GET /v1/vouchers HTTP/1.0\r\n{_auth(server)}\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 200 ") and b"\r\nConnection: close\r\n" in answer
    # Two HTTP/1.1 requests on one connection, the second saying "close": both answered.
    two = f"GET /v1/vouchers HTTP/1.1\r\n{_auth(server)}\r\n".encode()
    two += f"GET /v1/vouchers HTTP/1.1\r\nConnection: close\r\n{_auth(server)}\r\n".encode()
    assert exchange(server.url, two).count(b"HTTP/1.1 200 ") == 2


def test_expect_100_continue_is_answered_before_the_body(server):
    body = json.dumps({"source_id": "c-1"}).encode()
    head = (
        f"POST /v1/customers HTTP/1.1\r\n{_auth(server)}Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
    )
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(head.encode())
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n")
        sock.sendall(body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert b"HTTP/1.1 200 " in answer and len(server.sandbox.state.customers) == 1


def test_a_folded_header_still_reaches_the_app(server):
    raw = (
        f"GET /v1/vouchers HTTP/1.1\r\nX-App-Id: {server.sandbox.app_id}\r\n"
        f"X-App-Token:\r\n {server.sandbox.app_token}\r\nConnection: close\r\n\r\n"
    )
    # Unfolded by the email parser as wsgiref saw it: the token is found, the request is served.
    assert exchange(server.url, raw.encode()).startswith(b"HTTP/1.1 200 ")


def test_a_response_leaves_in_one_write_with_date_and_server_headers():
    """Headers and body used to be two sends per response (two segments, two syscalls)."""
    srv = start_in_thread()
    try:
        writes: list[bytes] = []

        class _Sock:
            def makefile(self, mode, bufsize=-1):
                head = f"GET /v1/vouchers HTTP/1.1\r\n{_auth(srv)}\r\n".encode()
                return io.BufferedReader(io.BytesIO(head * 2))

            def sendall(self, data):
                writes.append(bytes(data))

        _Handler(_Sock(), ("127.0.0.1", 1), srv.server)  # type: ignore[arg-type]
    finally:
        srv.stop()
    assert len(writes) == 2  # one per response
    head, _, body = writes[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nServer: WSGIServer/" in head and b"\r\nDate: " in head and b" GMT" in head
    assert json.loads(body)["object"] == "list"


def test_the_server_header_is_made_once_and_a_body_read_whole_is_not_measured_again(monkeypatch):
    from django_voucherify.sandbox import server as server_module

    made = []
    monkeypatch.setattr(server_module, "_SERVER_HEADERS", {})
    monkeypatch.setattr(_Handler, "version_string", lambda self: made.append(1) or "Sandbox/1")
    srv = start_in_thread()
    try:
        request = f"GET /v1/vouchers HTTP/1.1\r\n{_auth(srv)}\r\n".encode()
        for _ in range(2):  # each served from memory by the loop: a handler per request
            with socket.socket() as sock:
                served = srv.server.serve_from_memory(sock, ("127.0.0.1", 1), request)
            assert served is not None and not served[1]
            assert served[0].startswith(b"HTTP/1.1 200 OK\r\nServer: Sandbox/1\r\n")
    finally:
        srv.stop()
    assert made == [1]  # made of class attributes: once per handler class
    # The length the app read whole, written as read, is taken as is; any other is read.
    monkeypatch.setattr(server_module, "content_length", None)  # not called
    assert server_module._length({"CONTENT_LENGTH": "5"}, 5) == 5
    monkeypatch.undo()
    assert server_module._length({"CONTENT_LENGTH": " 05"}, 5) == 5
    assert server_module._length({"CONTENT_LENGTH": "7"}, 5) == 7
    assert server_module._length({"CONTENT_LENGTH": "-1"}, 0) == -1
    assert server_module._length({}, 0) == 0


def test_the_limits_are_the_same_numbers_as_http_clients():
    from django_voucherify.sandbox import request_head

    assert (request_head.MAX_LINE, request_head.MAX_HEADERS) == (
        http.client._MAXLINE,
        http.client._MAXHEADERS,
    )


class _Listed:
    """Header fields with nothing but ``items()``: what ``ambiguity`` reads of any headers."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._items = items

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)


FRAMING_NAMES = st.sampled_from(
    [
        "Content-Length",
        "content-length",
        "CONTENT-LENGTH",
        "Transfer-Encoding",
        "transfer-encoding",
        "Host",
        "X-A",
    ]
)
FRAMING_VALUES = st.sampled_from(["5", "chunked", "gzip", "chunked, gzip", " Chunked ", "x"])


@given(st.lists(st.tuples(FRAMING_NAMES, FRAMING_VALUES), max_size=5))
def test_the_fast_headers_framing_shortcut_changes_no_answer(items):
    from django_voucherify.sandbox.framing import ambiguity

    assert ambiguity(RequestHeaders(items)) == ambiguity(_Listed(items))


def _read(reader_function, data: bytes, buffer_size: int):
    reader = io.BufferedReader(io.BytesIO(data), buffer_size=buffer_size)
    try:
        head = b"".join(reader_function(reader))
    except HeadTooLarge as exc:
        return ("too large", exc.reason, reader.read())
    return (head, reader.read())


@given(
    st.lists(
        st.tuples(st.text("abc:- \t\r", max_size=8), st.sampled_from(["\r\n", "\n"])),
        max_size=8,
    ).map(lambda lines: "".join(text + end for text, end in lines)),
    st.sampled_from(["\r\n", "\n", ""]),
    st.sampled_from([b"", b"POST /next HTTP/1.1\r\n\r\n", b"body"]),
    st.sampled_from([1, 16, 64, 8192]),
    st.integers(0, 105),
)
def test_reading_the_head_at_once_gives_the_lines_read_one_by_one(lines, blank, rest, buffer_size, extra):
    data = ("X-Many: 1\r\n" * extra + lines + blank).encode("latin-1") + rest
    assert _read(read_head, data, buffer_size) == _read(read_header_lines, data, buffer_size)


@pytest.mark.parametrize("count", [99, 100, 101])
def test_reading_the_head_at_once_keeps_the_header_count_limit(count):
    data = b"X-Many: 1\r\n" * count + b"\r\n" + b"next"
    assert _read(read_head, data, 8192) == _read(read_header_lines, data, 8192)
    assert (_read(read_head, data, 8192)[0] == "too large") is (count >= 100)
