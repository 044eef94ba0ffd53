"""A loopback HTTP peer that misbehaves on purpose: resets, silences, non-JSON 2xx answers.

The sandbox answers like Voucherify; a proxy, a CDN or a dying load balancer does not. Each
connection reads one request (headers, and a body up to ``Content-Length`` unless told not to),
records its raw bytes, then does what ``mode`` says.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any

#: mode -> raw bytes answered after the request was read (None: a special action, see below).
CANNED: dict[str, bytes] = {
    "html_200": (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Request-Id: v-proxy-1\r\n"
        b"Content-Length: 60\r\n\r\n"
        b"<html><body><h1>Welcome to the captive portal</h1></body>..."
    ),
    "array_200": (
        b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n[{"id": "x"}]'
    ),
    # No Content-Length: the body ends when the connection closes, cut in the middle.
    "truncated_200": (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
        b'\r\n{"id": "r_1", "result": "SUCC'
    ),
    # A download promised 100000 bytes; the connection ends after a few.
    "short_download": (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\ncode,amount\nA,100\n"
    ),
}


class RawServer:
    """``with RawServer("reset") as srv: ... srv.url``; ``srv.requests`` holds what arrived."""

    def __init__(self, mode: str, *, read_body: bool = True) -> None:
        self.mode = mode
        self.read_body = read_body
        self.requests: list[bytes] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.1)
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.close()
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self._conns.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        data = b""
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = _content_length(head)
            if self.read_body:
                while len(body) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    body += chunk
            self.requests.append(head + b"\r\n\r\n" + body)
            if self.mode in ("reset", "reset_mid_body"):
                reset(conn)
            elif self.mode == "hang":
                self._stop.wait(10)
            else:
                conn.sendall(CANNED[self.mode])
                conn.shutdown(socket.SHUT_WR)


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


def exchange(url: str, raw: bytes, *, half_close: bool = False, timeout: float = 5.0) -> bytes:
    """Send ``raw`` bytes to the server at ``url`` and return all it answers until it closes.

    The sending side stays open (a client waiting for its answer) unless ``half_close`` (a
    client that stopped sending), so a server that waits for more body hangs here; ``timeout``
    turns that into ``TimeoutError`` rather than a hung test.
    """
    host, port = url.removeprefix("http://").rsplit(":", 1)
    answer = b""
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(raw)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                answer += chunk
    return answer


def reset(conn: socket.socket) -> None:
    """Close with RST (SO_LINGER 0): the peer sees ECONNRESET, not an orderly end."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def free_port() -> int:
    """A loopback TCP port nobody listens on now: free for a server to take, and until one does,
    connections to it are refused."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct :func:`free_port` ports. Asked one at a time, the kernel may give the
    port it just handed out again (the demo's shop and sandbox were once both given 36771)."""
    with contextlib.ExitStack() as held:
        socks = [held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))  # all bound at once: the kernel gives each its own port
        return [int(sock.getsockname()[1]) for sock in socks]


@contextlib.contextmanager
def failing_dns(monkeypatch: Any, host: str) -> Iterator[None]:
    """``host`` does not resolve (socket.gaierror), as with a DNS outage; others resolve."""
    real = socket.getaddrinfo

    def getaddrinfo(name: Any, *args: Any, **kwargs: Any) -> Any:
        if name == host:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield
