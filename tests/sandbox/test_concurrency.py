"""Concurrency: every redeem's checks and mutations happen under ``state.lock``."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.support.sandbox import Api, redeem


def test_64_threads_quantity_10_in_process() -> None:
    api = Api()
    api.voucher("LIMITED", redemption={"quantity": 10, "redeemed_quantity": 0})
    barrier = threading.Barrier(64)

    def one(_: int) -> int:
        barrier.wait()
        return redeem(api, "LIMITED").status_code

    with ThreadPoolExecutor(64) as pool:
        codes = list(pool.map(one, range(64)))
    assert codes.count(200) == 10 and codes.count(400) == 54
    assert api.state.vouchers["LIMITED"]["redemption"]["redeemed_quantity"] == 10
    ok = [r for r in api.state.redemptions.values() if r["result"] == "SUCCESS"]
    assert len(ok) == 10


def test_gift_balance_never_negative() -> None:
    api = Api()
    api.gift("G", 10_000)

    def one(_: int) -> int:
        body = {"object": "voucher", "id": "G", "gift": {"credits": 700}}
        return redeem(api, body, order={"amount": 1000}).status_code

    with ThreadPoolExecutor(32) as pool:
        codes = list(pool.map(one, range(40)))
    assert codes.count(200) == 14  # 14 * 700 = 9800 <= 10000 < 15 * 700
    assert api.state.vouchers["G"]["gift"]["balance"] == 10_000 - 14 * 700


@pytest.mark.slow
def test_64_threads_quantity_10_over_http() -> None:
    from django_voucherify.sandbox.server import start_in_thread

    api = Api()
    api.voucher("HTTP10", redemption={"quantity": 10, "redeemed_quantity": 0})
    server = start_in_thread(api.sandbox)
    try:
        headers = {"X-App-Id": api.sandbox.app_id, "X-App-Token": api.sandbox.app_token}
        body = {"redeemables": [{"object": "voucher", "id": "HTTP10"}]}

        barrier = threading.Barrier(64)

        def one(_: int) -> tuple[int, str | None]:
            barrier.wait()
            response = requests.post(f"{server.url}/v1/redemptions", json=body, headers=headers, timeout=30)
            return response.status_code, response.json().get("key")

        with ThreadPoolExecutor(64) as pool:
            outcomes = list(pool.map(one, range(64)))
    finally:
        server.stop()
    assert [status for status, _ in outcomes].count(200) == 10
    assert sorted(set(outcomes) - {(200, None)}) == [(400, "quantity_exceeded")]
    assert api.state.vouchers["HTTP10"]["redemption"]["redeemed_quantity"] == 10
