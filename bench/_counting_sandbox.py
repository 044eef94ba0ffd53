"""The sandbox in its own process for the sync benchmarks, counting the requests it serves.

Run by :func:`counting_sandbox`: a :class:`~django_voucherify.sandbox.app.Sandbox` behind its own
HTTP server (so its CPU never shares the benchmark's GIL), wrapped in a WSGI layer that counts
every request by ``METHOD /path`` (ids in paths folded to ``{id}``) and answers
``GET /__bench/stats`` with ``{"requests": {...}, "bytes": {...}, "customers": n, "orders": m}``
(request bodies' bytes by the same key; what the sandbox holds). Counting at the server, not by
patching the client, counts what really arrived.
Stops when its parent closes its stdin (or dies).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parents[1]
_ID = re.compile(r"/(aa|cust|ord|v|exp)_[^/]+")


class Counted:
    def __init__(self, sandbox: Any) -> None:
        self.sandbox, self.lock = sandbox, threading.Lock()
        self.counts, self.bytes = Counter[str](), Counter[str]()

    def handle_environ(self, environ: dict[str, Any]) -> Any:
        """What the sandbox's request handler calls (see ``sandbox/server.py``)."""
        from django_voucherify.sandbox.routing import SandboxResponse

        path = environ.get("PATH_INFO", "")
        if path == "/__bench/stats":
            state = self.sandbox.state
            with self.lock, state.lock:
                body = {
                    "requests": dict(self.counts),
                    "bytes": dict(self.bytes),
                    "customers": len(state.customers),
                    "orders": len(state.orders),
                }
            return SandboxResponse(200, body, {})
        key = f"{environ.get('REQUEST_METHOD')} {_ID.sub('/{id}', path)}"
        with self.lock:
            self.counts[key] += 1
            self.bytes[key] += int(environ.get("CONTENT_LENGTH") or 0)
        return self.sandbox.handle_environ(environ)


def main() -> None:
    from django_voucherify.sandbox.app import Sandbox
    from django_voucherify.sandbox.server import make_server
    from django_voucherify.sandbox.state import SandboxState

    parser = argparse.ArgumentParser()
    parser.add_argument("--job-delay", type=float, default=0.0)
    args = parser.parse_args()
    state = SandboxState()
    state.job_delay = args.job_delay
    sandbox = Sandbox(state=state)
    server = make_server(sandbox, "127.0.0.1", 0)
    server.set_app(Counted(sandbox))
    print(server.server_address[1], flush=True)
    threading.Thread(target=lambda: (sys.stdin.read(), server.shutdown()), daemon=True).start()
    server.serve_forever(poll_interval=0.05)


class Running:
    def __init__(self, url: str) -> None:
        self.url = url

    def stats(self) -> dict[str, Any]:
        with urlopen(f"{self.url}/__bench/stats", timeout=30) as answer:
            stats: dict[str, Any] = json.load(answer)
        return stats


@contextmanager
def counting_sandbox(job_delay: float = 0.0) -> Iterator[Running]:
    """Start the counting sandbox in a subprocess; yields its URL and stats reader."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--job-delay", str(job_delay)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield Running(f"http://127.0.0.1:{port}")
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
