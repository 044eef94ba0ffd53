"""Streamed CSV imports: path, bytes or binary file; exact multipart bytes; bounded memory.

``responses`` reads a file-like request body into memory itself, so these tests send to a tiny
HTTP/1.1 server on 127.0.0.1 that reads the body in 64 KiB chunks (plain or chunked framing),
hashes it and throws it away. The retry tests use a requests adapter that fails the first
attempt the way urllib3 reports a refused connection.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import threading
import tracemalloc
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter
from urllib3.exceptions import MaxRetryError, NewConnectionError

from django_voucherify.api import RetryPolicy, TransportError, VoucherifyClient
from tests.api.wire import FakeSleep

CSV = (
    "Code,Voucher Type,Value,Discount Type,Category,Expiration Date\r\n"
    "SUMMER-15,DISCOUNT_VOUCHER,15,PERCENT,summer,2024-09-01\r\n"
    'GIFT-"Q",GIFT_VOUCHER,5000,,gift,\r\n'
    "ÜNÏ-ÇØDÉ,DISCOUNT_VOUCHER,500,AMOUNT,,\r\n"
).encode()
ACCEPTED = {"async_action_id": "AA0a1b2c3d4e5f6", "x_future_field": [1, {"a": None}]}
KEEP_LIMIT = 1 << 20  # the fake server keeps bodies up to 1 MiB for byte-exact checks


# --- a loopback server that reads and discards ------------------------------------------------


class Received:
    def __init__(
        self, path: str, headers: dict[str, str], size: int, sha256: str, body: bytes | None
    ) -> None:
        self.path = path
        self.headers = headers
        self.size = size
        self.sha256 = sha256
        self.body = body


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:
        digest = hashlib.sha256()
        size = 0
        kept = bytearray()

        def feed(block: bytes) -> None:
            nonlocal size
            digest.update(block)
            size += len(block)
            if self.server.keep_bodies and size <= KEEP_LIMIT:
                kept.extend(block)

        def read_exactly(count: int) -> None:
            while count:
                block = self.rfile.read(min(64 * 1024, count))
                if not block:
                    raise ConnectionError("client closed mid-body")
                feed(block)
                count -= len(block)

        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                size_line = self.rfile.readline()
                chunk = int(size_line.split(b";")[0].strip(), 16)
                if chunk == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                read_exactly(chunk)
                self.rfile.readline()  # CRLF after the chunk
        else:
            read_exactly(int(self.headers.get("Content-Length", "0")))

        self.server.received.append(
            Received(
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                size,
                digest.hexdigest(),
                bytes(kept) if self.server.keep_bodies and size <= KEEP_LIMIT else None,
            )
        )
        payload = json.dumps(ACCEPTED).encode()
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    keep_bodies = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[Received] = []


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


@pytest.fixture
def client(server: _Server) -> Iterator[VoucherifyClient]:
    url = f"http://127.0.0.1:{server.server_address[1]}"
    with VoucherifyClient(
        "test-app-id",
        "test-secret-key",
        url,
        sleep=FakeSleep(),
        retry=RetryPolicy(max_retries=0, budget=0.0),
        read_timeout=30,
    ) as built:
        yield built


def parse_multipart(received: Received) -> tuple[str, bytes]:
    """(file part headers, file content) of a one-file multipart body, checked strictly."""
    match = re.fullmatch(
        r"multipart/form-data; boundary=([0-9A-Za-z'()+_,./:=?-]{1,70})", received.headers["content-type"]
    )
    assert match, received.headers["content-type"]
    boundary = match.group(1).encode()
    body = received.body
    assert body is not None
    opening = b"--" + boundary + b"\r\n"
    closing = b"\r\n--" + boundary + b"--\r\n"
    assert body.startswith(opening) and body.endswith(closing)
    inner = body[len(opening) : -len(closing)]
    assert boundary not in inner[:200]  # one part only
    head, separator, content = inner.partition(b"\r\n\r\n")
    assert separator
    return head.decode(), content


# --- sources -----------------------------------------------------------------------------------


def check_upload(received: Received, content: bytes, *, path: str, filename: str) -> None:
    assert received.path == path
    assert received.headers["x-app-id"] == "test-app-id"
    assert received.headers["x-app-token"] == "test-secret-key"
    assert received.headers["user-agent"].startswith("django-voucherify/")
    head, sent = parse_multipart(received)
    assert sent == content
    assert f'Content-Disposition: form-data; name="file"; filename="{filename}"' in head.splitlines()
    assert "Content-Type: text/csv" in head.splitlines()


def test_import_from_path(client, server, tmp_path):
    source = tmp_path / "summer vouchers.csv"
    source.write_bytes(CSV)

    assert client.vouchers.import_csv(source) == ACCEPTED

    [received] = server.received
    check_upload(received, CSV, path="/v1/vouchers/importCSV", filename="summer vouchers.csv")
    assert int(received.headers["content-length"]) == received.size
    assert "transfer-encoding" not in received.headers


def test_import_from_str_path(client, server, tmp_path):
    source = tmp_path / "customers.csv"
    source.write_bytes(CSV)
    assert client.customers.import_csv(str(source)) == ACCEPTED
    [received] = server.received
    check_upload(received, CSV, path="/v1/customers/importCSV", filename="customers.csv")
    assert int(received.headers["content-length"]) == received.size


def test_import_from_bytes(client, server):
    assert client.vouchers.import_csv(CSV, filename='we"ird\r\nname.csv') == ACCEPTED
    [received] = server.received
    head, sent = parse_multipart(received)
    assert sent == CSV
    assert int(received.headers["content-length"]) == received.size
    # A filename cannot break out of its header line or its quotes.
    assert len(head.splitlines()) == 2
    disposition = head.splitlines()[0]
    assert re.fullmatch(r'Content-Disposition: form-data; name="file"; filename="[^"\r\n]*"', disposition)


def test_import_from_binary_file_object(client, server, tmp_path):
    source = tmp_path / "codes.csv"
    source.write_bytes(CSV)
    with source.open("rb") as handle:
        assert client.customers.import_csv(handle) == ACCEPTED
        assert not handle.closed  # the caller's file stays the caller's
    [received] = server.received
    check_upload(received, CSV, path="/v1/customers/importCSV", filename="codes.csv")
    assert int(received.headers["content-length"]) == received.size


def test_import_from_bytesio_starts_at_current_position(client, server):
    handle = io.BytesIO(b"IGNORED PREAMBLE\n" + CSV)
    handle.seek(len(b"IGNORED PREAMBLE\n"))
    client.vouchers.import_csv(handle)
    [received] = server.received
    _, sent = parse_multipart(received)
    assert sent == CSV
    assert int(received.headers["content-length"]) == received.size


def test_path_opened_by_the_client_is_closed(client, server, tmp_path):
    source = tmp_path / "v.csv"
    source.write_bytes(CSV)
    fd_dir = Path("/proc/self/fd")
    if not fd_dir.exists():  # pragma: no cover - Linux CI
        pytest.fail("needs /proc to count open files")

    def open_to_source() -> int:
        count = 0
        for fd in os.listdir(fd_dir):
            with contextlib.suppress(OSError):
                count += os.readlink(fd_dir / fd) == str(source)
        return count

    client.vouchers.import_csv(source)
    assert open_to_source() == 0


def test_rejects_text_and_other_sources(client, server):
    with pytest.raises(TypeError):
        client.vouchers.import_csv(12345)  # type: ignore[arg-type]
    assert server.received == []


class OneShotStream(io.RawIOBase):
    """A pipe-like source: readable once, no seek, no tell, no length."""

    def __init__(self, data: bytes, block: int = 7_919) -> None:
        self._data = data
        self._position = 0
        self._block = block
        self.reads = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: Any) -> int:
        self.reads += 1
        chunk = self._data[self._position : self._position + min(len(buffer), self._block)]
        buffer[: len(chunk)] = chunk
        self._position += len(chunk)
        return len(chunk)


def test_non_seekable_stream_is_sent_chunked(client, server):
    content = (CSV * 5_000)[:900_000]  # below KEEP_LIMIT, so the server keeps it for comparison
    stream = OneShotStream(content)

    assert client.vouchers.import_csv(stream, filename="pipe.csv") == ACCEPTED

    [received] = server.received
    assert received.headers.get("transfer-encoding", "").lower() == "chunked"
    assert "content-length" not in received.headers
    _, sent = parse_multipart(received)
    assert sent == content
    assert stream.reads > 2  # read in pieces, not in one go


def test_real_pipe_is_sent_chunked(client, server):
    read_fd, write_fd = os.pipe()
    content = CSV * 100

    def produce() -> None:
        with os.fdopen(write_fd, "wb") as sink:
            sink.write(content)

    producer = threading.Thread(target=produce)
    producer.start()
    with os.fdopen(read_fd, "rb") as source:
        client.customers.import_csv(source, filename="pipe.csv")
    producer.join(5)

    [received] = server.received
    assert received.headers.get("transfer-encoding", "").lower() == "chunked"
    assert parse_multipart(received)[1] == content


# --- a large file is streamed ------------------------------------------------------------------


def test_large_file_is_streamed_with_bounded_memory(client, server, tmp_path):
    """A 20 MB CSV goes out with a Content-Length, and the client never holds more than a few
    chunks of it (peak traced memory during the call far below the file size)."""
    source = tmp_path / "big.csv"
    with source.open("wb") as out:
        out.write(b"Code,Voucher Type,Value\n")
        row = 0
        while out.tell() < 20 * 1024 * 1024:
            block = b"".join(
                b"BIG-%08d,DISCOUNT_VOUCHER,%d\n" % (n, n % 90 + 10) for n in range(row, row + 10_000)
            )
            out.write(block)
            row += 10_000
    file_size = source.stat().st_size
    server.keep_bodies = False

    client.vouchers.import_csv(CSV)  # warm up: imports, connection pool
    server.received.clear()

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        baseline, _ = tracemalloc.get_traced_memory()
        result = client.vouchers.import_csv(source)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert result == ACCEPTED
    [received] = server.received
    assert "transfer-encoding" not in received.headers
    assert int(received.headers["content-length"]) == received.size
    overhead = received.size - file_size
    assert 0 < overhead < 1_000  # the multipart head and tail only
    used = peak - baseline
    assert used < file_size // 10, f"peak {used:,} bytes while uploading {file_size:,}"
    boundary = received.headers["content-type"].split("boundary=", 1)[1]
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="big.csv"\r\nContent-Type: text/csv\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    assert received.size == len(head) + file_size + len(tail)
    whole = hashlib.sha256(head)
    with source.open("rb") as again:
        while block := again.read(1 << 20):
            whole.update(block)
    whole.update(tail)
    assert received.sha256 == whole.hexdigest()  # byte for byte, in order


def test_large_file_bytes_hash_matches(client, server, tmp_path):
    """Same large upload, checking the content hash of the file part (framing stripped)."""
    source = tmp_path / "big.csv"
    content = b"".join(b"H-%08d,DISCOUNT_VOUCHER,10\n" % n for n in range(300_000))  # ~8.7 MB
    source.write_bytes(content)
    server.keep_bodies = False

    client.customers.import_csv(source)
    [received] = server.received
    boundary = received.headers["content-type"].split("boundary=", 1)[1]
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="big.csv"\r\nContent-Type: text/csv\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    assert received.sha256 == hashlib.sha256(head + content + tail).hexdigest()
    assert int(received.headers["content-length"]) == len(head) + len(content) + len(tail)


# --- retries re-send the whole body --------------------------------------------------------------


def refused(request: requests.PreparedRequest) -> requests.ConnectionError:
    """What requests raises when the TCP connection is refused (nothing reached the server)."""
    cause = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] refused")  # type: ignore[arg-type]
    return requests.ConnectionError(MaxRetryError(None, request.url, reason=cause), request=request)  # type: ignore[arg-type]


def drain(body: Any, limit: int | None = None) -> bytes:
    """Read a prepared body the way urllib3 does (``read`` in blocks, or iterate)."""
    if body is None:
        return b""
    if isinstance(body, bytes | str):
        data = body.encode() if isinstance(body, str) else body
        return data[:limit] if limit is not None else data
    out = bytearray()
    if hasattr(body, "read"):
        while limit is None or len(out) < limit:
            block = body.read(16_384 if limit is None else min(16_384, limit - len(out)))
            if not block:
                break
            out += block
    else:
        for block in body:
            out += block
            if limit is not None and len(out) >= limit:
                break
    return bytes(out)


class FailFirstAdapter(BaseAdapter):
    """Attempt 1: read ``partial`` bytes of the body (0 = none), then fail as refused.
    Later attempts: read the whole body and answer 202."""

    def __init__(self, partial: int = 0) -> None:
        super().__init__()
        self.partial = partial
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.headers.append(dict(request.headers))
        if len(self.bodies) == 0:
            self.bodies.append(drain(request.body, self.partial) if self.partial else b"")
            raise refused(request)
        self.bodies.append(drain(request.body))
        response = requests.Response()
        response.status_code = 202
        response.headers["Content-Type"] = "application/json"
        response._content = json.dumps(ACCEPTED).encode()
        response.request = request
        response.url = request.url or ""
        return response

    def close(self) -> None:
        pass


def retrying_client(adapter: FailFirstAdapter, sleep: FakeSleep) -> VoucherifyClient:
    built = VoucherifyClient(
        "test-app-id",
        "test-secret-key",
        "https://api.voucherify.io",
        sleep=sleep,
        retry=RetryPolicy(max_retries=2, budget=60, backoff_base=0.01),
    )
    built.transport.session.mount("https://", adapter)
    return built


def content_of(body: bytes) -> bytes:
    boundary = body.split(b"\r\n", 1)[0][2:]
    _, _, rest = body.partition(b"\r\n\r\n")
    assert rest.endswith(b"\r\n--" + boundary + b"--\r\n")
    return rest[: -len(b"\r\n--" + boundary + b"--\r\n")]


@pytest.mark.parametrize("partial", [0, 1_000], ids=["untouched", "partly-read"])
@pytest.mark.parametrize("kind", ["path", "bytes", "file"])
def test_retry_after_connect_failure_resends_the_full_body(tmp_path, kind, partial):
    content = CSV * 2_000  # ~320 kB: several chunks
    source: Any
    if kind == "path":
        source = tmp_path / "retry.csv"
        source.write_bytes(content)
    elif kind == "bytes":
        source = content
    else:
        source = io.BytesIO(content)
    adapter = FailFirstAdapter(partial=partial)
    sleep = FakeSleep()
    with retrying_client(adapter, sleep) as client:
        assert client.vouchers.import_csv(source) == ACCEPTED

    assert len(adapter.bodies) == 2
    assert len(sleep.calls) == 1
    second = adapter.bodies[1]
    assert content_of(second) == content
    assert int(adapter.headers[1]["Content-Length"]) == len(second)
    assert adapter.headers[0]["Content-Type"] == adapter.headers[1]["Content-Type"]


def test_retry_of_untouched_non_seekable_stream_sends_it_whole():
    """Connect refused before a byte was read: the one-shot stream is still whole."""
    content = CSV * 500
    adapter = FailFirstAdapter(partial=0)
    with retrying_client(adapter, FakeSleep()) as client:
        client.vouchers.import_csv(OneShotStream(content), filename="pipe.csv")
    assert content_of(adapter.bodies[1]) == content


def test_partly_consumed_non_seekable_stream_is_never_resent_truncated():
    """If a failed attempt consumed part of a one-shot stream, it cannot be sent again whole:
    the client must fail (TransportError) rather than upload the remainder as if complete."""
    content = CSV * 2_000
    adapter = FailFirstAdapter(partial=100_000)
    outcome: Any
    with retrying_client(adapter, FakeSleep()) as client:
        try:
            outcome = client.vouchers.import_csv(OneShotStream(content), filename="pipe.csv")
        except TransportError as exc:
            outcome = exc
    if isinstance(outcome, TransportError):
        assert len(adapter.bodies) == 1
    else:
        assert len(adapter.bodies) == 2
        resent = adapter.bodies[1]
        assert resent.startswith(b"--") and content in resent, (
            f"retry sent {len(resent):,} bytes starting {resent[:40]!r}: the remainder of a "
            "half-read stream was uploaded as if it were the whole CSV"
        )
