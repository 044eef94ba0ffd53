"""A light HTTP/1.1 keep-alive load generator: N connections, one request in flight on each.

One thread drives every connection with ``selectors`` and raw sockets (no HTTP library), so the
client side costs the same few microseconds per request whichever server answers: what differs
between two runs is the server. Each connection sends the same request bytes, reads the whole
response (status line, headers up to the blank line, ``Content-Length`` bytes of body), counts it
by status, and sends the next one.
"""

from __future__ import annotations

import selectors
import socket
import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    """What one load run did: responses by status, for how long, at what rate."""

    statuses: Counter[int] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def answered(self) -> int:
        return sum(self.statuses.values())

    @property
    def rate(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0


def http_request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    """The bytes of one request (with ``Content-Length`` when there is a body)."""
    lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _Conn:
    __slots__ = ("buf", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def take_response(self) -> int | None:
        """The status of the complete response at the start of ``buf`` (consumed), or None."""
        head_end = self.buf.find(b"\r\n\r\n")
        if head_end < 0:
            return None
        head = self.buf[:head_end].decode("latin-1")
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        end = head_end + 4 + length
        if len(self.buf) < end:
            return None
        self.buf = self.buf[end:]
        return int(head.split(" ", 2)[1])


def run_load(
    port: int, request: bytes, clients: int, *, seconds: float = 0.0, requests: int = 0
) -> LoadResult:
    """Keep ``clients`` connections busy for ``seconds``, or until ``requests`` were answered."""
    sel = selectors.DefaultSelector()
    conns = []
    for _ in range(clients):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = _Conn(sock)
        conns.append(conn)
        sel.register(sock, selectors.EVENT_READ, conn)
    result = LoadResult()
    sent = 0
    started = time.perf_counter()
    deadline = started + seconds if seconds else float("inf")
    for conn in conns:
        conn.sock.sendall(request)
        sent += 1
    in_flight = clients
    try:
        while in_flight:
            events = sel.select(timeout=30)
            if not events:
                raise TimeoutError(f"no response for 30 s with {in_flight} requests in flight")
            for key, _ in events:
                conn = key.data
                data = conn.sock.recv(262144)
                if not data:
                    raise ConnectionError("the server closed a keep-alive connection")
                conn.buf += data
                while (status := conn.take_response()) is not None:
                    result.statuses[status] += 1
                    in_flight -= 1
                    more = sent < requests if requests else time.perf_counter() < deadline
                    if more:
                        conn.sock.sendall(request)
                        sent += 1
                        in_flight += 1
    finally:
        result.seconds = time.perf_counter() - started
        for conn in conns:
            sel.unregister(conn.sock)
            conn.sock.close()
        sel.close()
    return result
