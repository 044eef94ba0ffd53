"""The pooled adapter over a real loopback server: keep-alive, and recovery of a closed pool."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from django_voucherify.api import VoucherifyClient


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    connections: set[tuple[str, int]] = set()

    def do_GET(self) -> None:
        type(self).connections.add(self.client_address)
        body = json.dumps({"code": self.path.rsplit("/", 1)[-1], "object": "voucher"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Set-Cookie", "tracking=1")  # must not leak into later requests
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.cookie_sent = self.headers.get("Cookie")
        if self.cookie_sent:
            type(self).cookies_seen = True

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server():
    _Handler.connections = set()
    _Handler.cookies_seen = False
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_sequential_calls_share_one_connection_and_send_no_cookies(server):
    client = VoucherifyClient("app", "key", server)
    for n in range(20):
        assert client.vouchers.get(f"C{n}")["code"] == f"C{n}"
    assert len(_Handler.connections) == 1
    assert _Handler.cookies_seen is False


def test_a_pool_closed_underneath_is_replaced(server):
    client = VoucherifyClient("app", "key", server)
    client.vouchers.get("A")
    adapter = client.transport.session.get_adapter(server)
    adapter.poolmanager.clear()  # what urllib3 does when it evicts a pool
    assert client.vouchers.get("B")["code"] == "B"
    client.close()
    assert client.vouchers.get("C")["code"] == "C"  # usable again after close()
