"""The "plain HTTP server" that ``sandbox_throughput.py`` compares the sandbox with.

The standard library's threaded HTTP server (``http.server.ThreadingHTTPServer`` +
``BaseHTTPRequestHandler``, the base the sandbox's own server started from), HTTP/1.1 keep-alive,
one thread per connection, TCP_NODELAY, no logging. It answers every ``POST`` by reading the
body its ``Content-Length`` announces and sending a canned body (a real sandbox redeem response,
given as a file) with the headers the sandbox sends (Content-Type, Content-Length,
X-Request-Id), headers and body in one write. ``GET /__count`` answers how many POSTs it served.

    python bench/_canned_server.py BODY_FILE     # prints its port, stops when stdin closes
"""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class _Counter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.posts = 0


class CannedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    counter = _Counter()
    body = b"{}"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        with self.counter.lock:
            self.counter.posts += 1
        self._answer(200, self.body)

    def do_GET(self) -> None:
        with self.counter.lock:
            posts = self.counter.posts
        self._answer(200, str(posts).encode())

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Request-Id", "v-0123456789abcdef01")
        self._headers_buffer.append(b"\r\n")  # end_headers() without its separate flush
        self.wfile.write(b"".join(self._headers_buffer) + body)
        self._headers_buffer = []

    def log_message(self, format: str, *args: Any) -> None:  # quiet, like the sandbox
        pass


class CannedServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # as the sandbox's: the default 5 resets bursts of clients


def main() -> None:
    CannedHandler.body = Path(sys.argv[1]).read_bytes()
    server = CannedServer(("127.0.0.1", 0), CannedHandler)
    print(server.server_address[1], flush=True)

    def stop_when_parent_goes() -> None:
        sys.stdin.read()
        server.shutdown()

    threading.Thread(target=stop_when_parent_goes, daemon=True).start()
    server.serve_forever(poll_interval=0.1)


if __name__ == "__main__":
    main()
