"""The transport reads a body in one ``read()`` from urllib3 (``bodies.read_body``), and every
guarantee of the old chunked read still holds on a real socket: truncated bodies, stalls in the
middle of a body, gzip, chunked framing, the token never in an error, connections reused."""

from __future__ import annotations

import gzip
import io
import json
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import urllib3
from hypothesis import given, settings
from hypothesis import strategies as st

from django_voucherify.api import RequestTimeout, RetryPolicy, TransportError, VoucherifyClient
from django_voucherify.api.bodies import read_body

TOKEN = "sk-body-reading-secret-token"

#: Answers one request on an accepted connection: gets the request bytes, sends raw bytes.
Answer = Callable[[socket.socket, bytes], None]


class RawServer:
    """A loopback HTTP/1.1 server whose answers are raw bytes written by the test."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        self.requests: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _connection(self, conn: socket.socket) -> None:
        with conn:
            buffer = b""
            while not self._stop.is_set():
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                buffer += data
                while b"\r\n\r\n" in buffer:
                    head, buffer = buffer.split(b"\r\n\r\n", 1)
                    self.requests.append(head)
                    try:
                        self.answer(conn, head)
                    except OSError:
                        return

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        self._thread.join(5)


@pytest.fixture
def serve() -> Iterator[Callable[[Answer], RawServer]]:
    servers: list[RawServer] = []

    def start(answer: Answer) -> RawServer:
        server = RawServer(answer)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def client_for(server: RawServer, **kwargs: Any) -> VoucherifyClient:
    kwargs.setdefault("retry", RetryPolicy(max_retries=0))
    return VoucherifyClient("app-id", TOKEN, api_url=server.url, **kwargs)


def respond(body: bytes, *, headers: dict[str, str] | None = None, length: int | None = None) -> Answer:
    def answer(conn: socket.socket, _: bytes) -> None:
        lines = [
            "HTTP/1.1 200 OK",
            "Content-Type: application/json",
            f"Content-Length: {len(body) if length is None else length}",
            *[f"{k}: {v}" for k, v in (headers or {}).items()],
        ]
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    return answer


def list_page(count: int) -> dict[str, Any]:
    vouchers = [{"code": f"CODE-{i}", "metadata": {"note": "x" * 1500}} for i in range(count)]
    return {"object": "list", "data_ref": "vouchers", "vouchers": vouchers, "total": count}


def test_a_list_page_is_read_in_one_read_and_parsed_whole(serve, monkeypatch) -> None:
    page = list_page(100)
    server = serve(respond(json.dumps(page).encode()))
    reads: list[Any] = []
    original = urllib3.HTTPResponse.read

    def spy(self: urllib3.HTTPResponse, amt: int | None = None, *args: Any, **kwargs: Any) -> bytes:
        reads.append(amt)
        return original(self, amt, *args, **kwargs)

    monkeypatch.setattr(urllib3.HTTPResponse, "read", spy)
    client = client_for(server)
    assert client.vouchers.list(limit=100) == page
    assert client.vouchers.list(limit=100) == page
    # requests' Response.content would have read ~150 KB in 10 KB pieces (amt=10240 each).
    assert reads == [None, None]
    assert server.connections == 1  # fully read, so the connection went back to the pool


@settings(max_examples=25, deadline=None)
@given(
    body=st.dictionaries(st.text(max_size=20), st.text(max_size=200), max_size=30), chunk=st.integers(1, 64)
)
def test_chunked_and_gzip_bodies_read_like_requests_would(body: dict[str, str], chunk: int) -> None:
    raw = json.dumps(body).encode()
    zipped = gzip.compress(raw)
    pieces = [zipped[i : i + chunk] for i in range(0, len(zipped), chunk)]
    framed = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"

    def answer(conn: socket.socket, _: bytes) -> None:
        head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
        conn.sendall((head + "Transfer-Encoding: chunked\r\n\r\n").encode() + framed)

    server = RawServer(answer)
    try:
        assert client_for(server).vouchers.list() == body
    finally:
        server.close()


def test_a_body_shorter_than_its_content_length_is_a_transport_error_that_was_sent(serve) -> None:
    def answer(conn: socket.socket, _: bytes) -> None:
        respond(b'{"code": "CODE-1", "pad": "' + b"x" * 5000, length=20000)(conn, _)
        conn.shutdown(socket.SHUT_RDWR)

    server = serve(answer)
    with pytest.raises(TransportError) as caught:
        client_for(server).vouchers.get("CODE-1")
    error = caught.value
    assert error.request_sent is True  # the server got it: the outcome is unknown
    assert error.__cause__ is None and error.__context__ is None
    assert TOKEN not in str(error) and TOKEN not in repr(error)


def test_a_post_whose_body_breaks_off_is_not_sent_again(serve) -> None:
    def answer(conn: socket.socket, _: bytes) -> None:
        respond(b'{"object": "voucher", "pad": "' + b"x" * 5000, length=20000)(conn, _)
        conn.shutdown(socket.SHUT_RDWR)

    server = serve(answer)
    client = client_for(server, retry=RetryPolicy(max_retries=3, backoff_base=0, budget=60))
    with pytest.raises(TransportError):
        client.vouchers.enable("CODE-1")
    assert sum(head.startswith(b"POST ") for head in server.requests) == 1


def test_a_stall_in_the_middle_of_a_body_is_a_read_timeout(serve) -> None:
    """urllib3 raises its own ReadTimeoutError while the body is read (requests would have
    wrapped it as a ConnectionError): it is a RequestTimeout all the same."""
    release = threading.Event()

    def answer(conn: socket.socket, _: bytes) -> None:
        respond(b'{"code": "CODE-1", "pad": "', length=5000)(conn, _)
        release.wait(10)  # headers and the start of the body, then nothing

    server = serve(answer)
    try:
        with pytest.raises(RequestTimeout) as caught:
            client_for(server, read_timeout=0.3).vouchers.get("CODE-1")
    finally:
        release.set()
    assert caught.value.request_sent is True
    assert "read timeout" in str(caught.value)


def test_with_trust_env_the_body_is_read_in_one_read_too(serve, monkeypatch) -> None:
    page = list_page(20)
    server = serve(respond(json.dumps(page).encode()))
    reads: list[Any] = []
    original = urllib3.HTTPResponse.read

    def spy(self: urllib3.HTTPResponse, amt: int | None = None, *args: Any, **kwargs: Any) -> bytes:
        reads.append(amt)
        return original(self, amt, *args, **kwargs)

    monkeypatch.setattr(urllib3.HTTPResponse, "read", spy)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert client_for(server, trust_env=True).vouchers.list() == page
    assert reads == [None]


def test_read_body_leaves_a_response_already_read_alone() -> None:
    response = urllib3.HTTPResponse(body=io.BytesIO(b'{"a": 1}'), preload_content=False)
    wrapped = requests.Response()
    wrapped.raw = response
    wrapped.status_code = 200
    assert wrapped.content == b'{"a": 1}'
    read_body(wrapped)  # must not read again (the raw stream is exhausted)
    assert wrapped.json() == {"a": 1}
