"""A request whose body stops short of its Content-Length is never processed (as at Voucherify:
the server never holds a whole request), and gets no answer: the connection is dropped.

Old sandbox: it ran the handler on the partial body (answering 400 for a cut JSON object, or
acting on a body that happened to parse)."""

from __future__ import annotations

import json
import socket

from django_voucherify.sandbox.server import start_in_thread


def _send(url: str, raw: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_a_body_shorter_than_its_content_length_is_dropped_unprocessed():
    server = start_in_thread()
    try:
        sandbox = server.sandbox
        body = json.dumps({"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 5}})
        head = (
            f"POST /v1/vouchers/CUT-1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"X-App-Id: {sandbox.app_id}\r\nX-App-Token: {sandbox.app_token}\r\n"
        )
        # The whole JSON object, but the announced length is longer: the send was cut short.
        cut = (head + f"Content-Length: {len(body) + 40}\r\n\r\n{body}").encode()
        assert _send(server.url, cut) == b""
        assert "CUT-1" not in sandbox.state.vouchers
        # The same request sent whole is processed.
        whole = (head + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}").encode()
        assert _send(server.url, whole).startswith(b"HTTP/1.1 200")
        assert "CUT-1" in sandbox.state.vouchers
    finally:
        server.stop()
