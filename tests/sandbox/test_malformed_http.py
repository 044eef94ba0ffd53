"""Bodies whose framing cannot be read get a quick 400 with Voucherify's error body and the
connection closed (where the next request starts is unknown); chunked bodies cut short are
never processed nor answered, like cut-short Content-Length bodies (test_cut_short_requests).

Old server: ``Content-Length: -1`` waited for the client to close (``read(-1)``), and a chunk
size of ``-5`` or ``zz`` dropped the connection with a traceback on stderr and no answer."""

from __future__ import annotations

import json

import pytest

from django_voucherify.sandbox.server import start_in_thread
from tests.support.raw_http import exchange


@pytest.fixture
def server():
    srv = start_in_thread()
    yield srv
    srv.stop()


def _post(server, framing: str, body: bytes, path: str = "/v1/customers", half_close: bool = False) -> bytes:
    sandbox = server.sandbox
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"X-App-Id: {sandbox.app_id}\r\nX-App-Token: {sandbox.app_token}\r\n{framing}\r\n"
    )
    return exchange(server.url, head.encode() + body, half_close=half_close)


def _error(answer: bytes) -> tuple[bytes, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert b"\r\nConnection: close" in head  # the server hangs up: exchange() returns
    return head, json.loads(body)


@pytest.mark.parametrize("length", ["-1", "+2", "1_0", "2, 2", "two"])
def test_a_content_length_that_is_not_a_length_is_a_400_and_the_connection_closes(server, length):
    head, body = _error(_post(server, f"Content-Length: {length}\r\n", b"{}"))
    assert body["key"] == "invalid_payload"
    assert body["details"] == f"Content-Length {length!r} is not a length in bytes"
    assert f"X-Request-Id: {body['request_id']}".encode() in head
    assert server.sandbox.state.customers == {}


@pytest.mark.parametrize(
    ("size", "shown"), [(b"-5", "-5"), (b"zz", "zz"), (b"0x5", "0x5"), (b"", ""), (b"5 5", "5 5")]
)
def test_a_chunk_size_that_is_not_hexadecimal_is_a_400_and_the_connection_closes(server, size, shown):
    _, body = _error(_post(server, "Transfer-Encoding: chunked\r\n", size + b"\r\n{}   \r\n0\r\n\r\n"))
    assert body["key"] == "invalid_payload"
    assert body["details"] == f"chunk size {shown!r} is not a hexadecimal number"
    assert server.sandbox.state.customers == {}


def test_a_chunk_longer_than_its_size_is_a_400(server):
    _, body = _error(_post(server, "Transfer-Encoding: chunked\r\n", b"1\r\n{}\r\n0\r\n\r\n"))
    assert body["details"] == "a chunk is longer than its size"


def test_a_bad_framing_on_an_unknown_path_still_ends_the_connection(server):
    answer = _post(server, "Content-Length: -1\r\n", b"{}", path="/v1/nowhere")
    assert answer.startswith(b"HTTP/1.1 404 ") and b"\r\nConnection: close" in answer


@pytest.mark.parametrize(
    "cut",
    [b"2\r\n{}\r\n", b"8\r\n{}", b"2\r\n{}", b"2\r\n{}\r\n0\r\n"],
    ids=["no-last", "in-chunk", "no-crlf", "trailers"],
)
def test_a_chunked_body_cut_short_is_neither_processed_nor_answered(server, cut):
    # The client stops sending (half-close) before the body's end: nothing comes back.
    assert _post(server, "Transfer-Encoding: chunked\r\n", cut, half_close=True) == b""
    assert server.sandbox.state.customers == {}


def test_a_well_framed_chunked_body_keeps_working(server):
    answer = _post(
        server, "Transfer-Encoding: chunked\r\nConnection: close\r\n", b"2;ext=1\r\n{}\r\n0\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert len(server.sandbox.state.customers) == 1


@pytest.mark.parametrize(
    ("framing", "reason"),
    [
        ("Content-Length: 2\r\nContent-Length: 2\r\n", "more than one Content-Length header"),
        ("Content-Length: 2\r\nContent-Length: 40\r\n", "more than one Content-Length header"),
        (
            "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n",
            "Content-Length together with Transfer-Encoding",
        ),
        ("Transfer-Encoding: gzip\r\n", "unsupported Transfer-Encoding 'gzip' (only chunked)"),
        (
            "Transfer-Encoding: gzip, chunked\r\n",
            "unsupported Transfer-Encoding 'gzip, chunked' (only chunked)",
        ),
    ],
)
def test_ambiguous_framing_is_a_400_and_the_connection_closes(server, framing, reason):
    """Review of issue 14: the first Content-Length won, a length beside a transfer coding was
    accepted (the request-smuggling pattern), and a gzip coding read the body as empty, the rest
    of it parsed as the next request."""
    _, body = _error(_post(server, framing, b"{}"))
    assert body["key"] == "invalid_payload" and body["details"] == reason
    assert server.sandbox.state.customers == {}


@pytest.mark.parametrize(
    ("request_line", "status"),
    [
        (b"GET /v1/vouchers HTTP/1.1 extra\r\n", 400),  # too many words
        (b"GET /v1/vouchers HTTP/x.y\r\n", 400),  # a version that is not a number
        (b"GET /v1/vouchers HTTP/2.0\r\n", 505),  # a version this server does not speak
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n", 400),  # a TLS hello on the plain port
    ],
)
def test_request_lines_the_standard_library_refuses_answer_voucherify_json(server, request_line, status):
    """Those used to get the standard library's HTML error page: every answer is JSON."""
    answer = exchange(server.url, request_line + b"Host: x\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode())
    assert b"Content-Type: application/json" in head and b"\r\nConnection: close" in head
    error = json.loads(body)
    assert error["code"] == status and error["key"] in ("invalid_request", "internal_error")
    assert f"X-Request-Id: {error['request_id']}".encode() in head
