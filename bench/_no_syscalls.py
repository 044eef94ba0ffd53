"""Each server's own request handling, without the kernel: the steady half of
``sandbox_throughput.py``'s comparison.

On a shared machine the HTTP rates and even the per-process CPU times swing by 2-3x from one
run to the next (socket syscalls, wake-ups and scheduling under load). Here each server's real
handler class (the sandbox's ``server._Handler``, the plain ``_canned_server.CannedHandler``) is
fed ``n`` pipelined keep-alive requests from memory and writes its answers to a sink: the same
Python code per request as over a socket, minus the socket. Process CPU time per request, the
minimum over ``repeat`` runs, each contender's runs interleaved.
"""

from __future__ import annotations

import io
import json
import time
from typing import Any

from _canned_server import CannedHandler
from _http_load import http_request

from django_voucherify.sandbox import Sandbox
from django_voucherify.sandbox.server import _Handler, make_server


class _Sink:
    """The handler's ``wfile``: counts the answers and their statuses."""

    def __init__(self) -> None:
        self.answers = 0
        self.ok = 0

    def write(self, data: bytes) -> int:
        self.answers += 1
        self.ok += data.startswith(b"HTTP/1.1 200 ")
        return len(data)

    def flush(self) -> None:
        pass


def _serve(handler_class: type, server: Any, data: bytes) -> _Sink:
    """``handler_class`` handling the connection whose bytes are ``data`` (until they run out)."""
    handler = handler_class.__new__(handler_class)
    handler.server, handler.client_address, handler.request = server, ("127.0.0.1", 40000), None
    handler.rfile, handler.wfile = io.BufferedReader(io.BytesIO(data)), _Sink()  # type: ignore[arg-type]
    handler.handle()
    sink: _Sink = handler.wfile
    return sink


def costs(
    headers: dict[str, str], redeem: bytes, voucher: bytes, app_id: str, token: str, n: int, repeat: int
) -> tuple[float, float, list[str]]:
    """µs of CPU per redeem: (sandbox, plain), and what went wrong (answers not all 200)."""
    sandbox = Sandbox(app_id=app_id, app_token=token)
    server = make_server(sandbox, "127.0.0.1", 0)
    problems: list[str] = []
    try:
        created = _serve(_Handler, server, http_request("POST", "/v1/vouchers/BENCH", headers, voucher))
        if created.ok != 1:
            problems.append("no-syscall sandbox: creating the voucher failed")
        one = http_request("POST", "/v1/redemptions", headers, redeem)
        CannedHandler.body = _canned_body(sandbox, one)
        contenders = {"sandbox": (_Handler, server), "plain": (CannedHandler, None)}
        best = {name: float("inf") for name in contenders}
        for handler_class, srv in contenders.values():  # warm-up
            _serve(handler_class, srv, one * 200)
        for _ in range(repeat):
            for name, (handler_class, srv) in contenders.items():
                data = one * n
                started = time.process_time()
                sink = _serve(handler_class, srv, data)
                best[name] = min(best[name], (time.process_time() - started) / n * 1e6)
                if sink.ok != n:
                    problems.append(f"no-syscall {name}: {sink.ok} of {n} answers were 200")
    finally:
        server.server_close()
    return best["sandbox"], best["plain"], problems


def _canned_body(sandbox: Sandbox, request: bytes) -> bytes:
    """A real redeem answer of this sandbox (the plain server's canned body), as bytes."""
    body = request.partition(b"\r\n\r\n")[2]
    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": "/v1/redemptions",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_X_APP_ID": sandbox.app_id,
        "HTTP_X_APP_TOKEN": sandbox.app_token,
        "wsgi.input": io.BytesIO(body),
    }
    answer = sandbox.handle_environ(environ).encode()
    json.loads(answer)  # a JSON answer, as over HTTP
    return answer
