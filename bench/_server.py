"""A loopback HTTP/1.1 keep-alive server that plays Voucherify's ``GET /v1/vouchers/{code}``.

Run in its own process (:func:`serve` is the context manager the benchmarks use), so its CPU
time never shows up in the client's ``time.process_time()``. It answers

* ``GET /v1/vouchers/{code}`` with a realistic ~2 KB voucher (the "Amount Discount" example of
  the ``get-voucher`` operation in the vendored spec, ``django_voucherify/sandbox/data/``), code substituted;
* ``GET /v1/vouchers?limit=n`` with a list page (``list-vouchers``' shape: ``object``, ``data_ref``,
  ``vouchers``, ``total``) of ``n`` (default 10, at most 100) such vouchers, codes ``BENCH-0``...:
  ~210 KB of JSON for 100, encoded once per ``limit``;
* ``GET /__stats`` with ``{"connections": n, "api_connections": m, "requests": r}``:
  accepted TCP connections, those that carried at least one ``/v1`` call, and ``/v1`` calls.

Bounded: it stops when its parent closes its stdin (or dies), and after ``--lifetime`` seconds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from urllib.request import urlopen

EXAMPLE = "Amount Discount"
APP_ID = "bench-app-id"
SECRET_KEY = "bench-secret-key"  # a fake, for the loopback server


def example_voucher() -> dict[str, Any]:
    """The spec's example response of ``get-voucher`` (a discount voucher, ~2 KB of JSON)."""
    from django_voucherify.sandbox.openapi import voucherify_spec

    spec = voucherify_spec()
    examples = spec["paths"]["/v1/vouchers/{code}"]["get"]["responses"]["200"]["content"]["application/json"][
        "examples"
    ]
    voucher: dict[str, Any] = examples[EXAMPLE]["value"]
    return voucher


class _Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.connections = 0
        self.api_connections = 0
        self.requests = 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless the client says "Connection: close"
    # Headers and body leave in one segment (flushed after each request), with TCP_NODELAY:
    # otherwise Nagle + delayed ACK stall every keep-alive call by ~40 ms.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    stats = _Stats()
    voucher: dict[str, Any] = {}
    pages: dict[int, bytes] = {}  # list pages by limit (one server process, threads share it)

    def setup(self) -> None:  # one handler instance per accepted TCP connection
        super().setup()
        self._served_api = False
        with self.stats.lock:
            self.stats.connections += 1

    def do_GET(self) -> None:
        if self.path == "/__stats":
            with self.stats.lock:
                body = {
                    "connections": self.stats.connections,
                    "api_connections": self.stats.api_connections,
                    "requests": self.stats.requests,
                }
            self._send(200, body)
        elif self.path == "/v1/vouchers" or self.path.startswith("/v1/vouchers?"):
            if self._authorised():
                self._send_raw(200, self._list_page(self.path))
        elif self.path.startswith("/v1/vouchers/"):
            if self._authorised():
                code = self.path.rsplit("/", 1)[1]
                self._send(200, {**self.voucher, "code": code})
        else:
            self._send(404, {"code": 404, "key": "not_found", "message": "Resource not found"})

    def _authorised(self) -> bool:
        if self.headers.get("X-App-Token") != SECRET_KEY:
            self._send(401, {"code": 401, "key": "unauthorized", "message": "Unauthorized"})
            return False
        with self.stats.lock:
            self.stats.requests += 1
            if not self._served_api:
                self._served_api = True
                self.stats.api_connections += 1
        return True

    def _list_page(self, path: str) -> bytes:
        query = parse_qs(urlsplit(path).query)
        limit = max(1, min(100, int(query.get("limit", ["10"])[0])))
        page = self.pages.get(limit)
        if page is None:
            vouchers = [{**self.voucher, "code": f"BENCH-{i}"} for i in range(limit)]
            body = {"object": "list", "data_ref": "vouchers", "vouchers": vouchers, "total": limit}
            page = self.pages[limit] = json.dumps(body).encode()
        return page

    def _send(self, status: int, body: dict[str, Any]) -> None:
        self._send_raw(status, json.dumps(body).encode())

    def _send_raw(self, status: int, raw: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("X-Request-Id", "v-0f5ad8b3e2c1")
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lifetime", type=float, default=900.0, help="hard stop, in seconds")
    args = parser.parse_args()
    _Handler.voucher = example_voucher()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)  # the parent reads the port from here

    def stop_when_parent_goes() -> None:
        sys.stdin.read()  # EOF when the parent closes the pipe or exits
        server.shutdown()

    threading.Thread(target=stop_when_parent_goes, daemon=True).start()
    timer = threading.Timer(args.lifetime, server.shutdown)
    timer.daemon = True
    timer.start()
    server.serve_forever(poll_interval=0.1)


class Server:
    """Handle on a running server process: its base URL and its counters."""

    def __init__(self, url: str) -> None:
        self.url = url

    def stats(self) -> dict[str, int]:
        with urlopen(self.url + "/__stats", timeout=5) as response:  # its own connection
            stats: dict[str, int] = json.load(response)
            return stats


@contextmanager
def serve(lifetime: float = 900.0) -> Iterator[Server]:
    """Start the server in a child process; stop it on exit."""
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--lifetime", str(lifetime)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        if not port.isdigit():
            raise RuntimeError(f"bench server failed to start (exit code {process.wait(5)})")
        yield Server(f"http://127.0.0.1:{port}")
    finally:
        if process.stdin:
            process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    main()
