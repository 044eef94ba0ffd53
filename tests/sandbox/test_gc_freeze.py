"""The served sandbox freezes what survives full garbage collections (cli.serve, issue 13).

That is only sound while the sandbox's requests leave no reference cycles (a frozen object that
later became part of one would never be freed): the first test keeps it so, over HTTP, for
answers, refusals, errors and dropped connections. The second checks the policy itself, in a
process of its own (it changes the collector of the process that installs it).
"""

from __future__ import annotations

import gc
import http.client
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from django_voucherify.sandbox import Sandbox
from django_voucherify.sandbox.server import start_in_thread

KEYS = {"X-App-Id": "gc-app", "X-App-Token": "gc-token", "Content-Type": "application/json"}


@pytest.fixture
def collector_paused() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _exchange(port: int, requests: list[tuple[str, str, object]]) -> list[int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    statuses = []
    try:
        for method, path, body in requests:
            payload = body if isinstance(body, str) else json.dumps(body) if body is not None else None
            conn.request(method, path, payload, KEYS)
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)
    finally:
        conn.close()
    return statuses


def test_requests_leave_no_reference_cycles(collector_paused: None) -> None:
    sandbox = Sandbox(app_id="gc-app", app_token="gc-token")
    server = start_in_thread(sandbox)
    port = int(server.url.rsplit(":", 1)[1])
    voucher = {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 100}}
    try:
        _exchange(port, [("POST", "/v1/vouchers/GC0", voucher)])  # first-use caches, before counting
        gc.collect()
        sandbox.faults.add(path="/v1/orders", drop=True, times=3)
        for n in range(3):
            statuses = _exchange(
                port,
                [
                    ("POST", f"/v1/vouchers/GC{n + 1}", voucher),
                    (
                        "POST",
                        "/v1/redemptions",
                        {"redeemables": [{"id": f"GC{n + 1}"}], "order": {"amount": 500}},
                    ),
                    ("POST", "/v1/redemptions", {"redeemables": [{"object": "voucher", "id": "NONE"}]}),
                    ("POST", "/v1/redemptions", "{not json"),
                    ("GET", "/v1/no-such-route", None),
                    ("GET", f"/v1/vouchers/GC{n + 1}", None),
                ],
            )
            assert statuses == [200, 200, 404, 400, 404, 200]
            with pytest.raises(http.client.RemoteDisconnected):
                _exchange(port, [("GET", "/v1/orders", None)])  # a dropped connection
        found = gc.collect()
    finally:
        server.stop()
    assert found == 0, f"{found} objects in reference cycles: frozen, they would never be freed"


def test_the_policy_freezes_survivors_of_full_collections_only() -> None:
    script = textwrap.dedent(
        """
        import gc
        from django_voucherify.sandbox.cli import freeze_full_collection_survivors
        freeze_full_collection_survivors()
        at_start = gc.get_freeze_count()
        kept = [{"n": [i]} for i in range(1000)]
        gc.collect(0)
        assert gc.get_freeze_count() == at_start, "a young collection froze objects"
        gc.collect()
        assert gc.get_freeze_count() >= at_start + 2000, "a full collection froze nothing"
        cycle = {}
        cycle["self"] = cycle
        del cycle
        assert gc.collect() >= 1, "cycles made after a freeze are still collected"
        freeze_full_collection_survivors()
        assert gc.callbacks.count(gc.callbacks[-1]) == 1, "installed twice"
        print("ok", at_start > 0)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok", "True"]


def test_a_sandbox_in_a_shared_process_leaves_the_collector_alone() -> None:
    frozen, callbacks = gc.get_freeze_count(), list(gc.callbacks)
    server = start_in_thread(Sandbox())
    server.stop()
    assert gc.get_freeze_count() == frozen and gc.callbacks == callbacks
