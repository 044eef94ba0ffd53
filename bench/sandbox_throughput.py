"""Sandbox throughput: redeems per second in-process (WSGI call, through the client and its
in-process adapter) and over HTTP with 16 concurrent clients, printed side by side.

    .venv/bin/python bench/sandbox_throughput.py [--seconds 3]

Target (issue 3): over 2,000 in-process redeems per second.
"""

from __future__ import annotations

import argparse
import io
import json
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from django_voucherify.api import TransportError, VoucherifyClient
from django_voucherify.sandbox import Sandbox
from django_voucherify.sandbox.server import start_in_thread

REDEEM = {"redeemables": [{"object": "voucher", "id": "BENCH"}], "order": {"amount": 5000}}


def fresh_sandbox() -> Sandbox:
    sandbox = Sandbox()
    api = requests.Session()
    sandbox.mount(api)
    api.post(
        "https://api.voucherify.io/v1/vouchers/BENCH",
        headers={"X-App-Id": sandbox.app_id, "X-App-Token": sandbox.app_token},
        json={"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 100}},
    ).raise_for_status()
    return sandbox


def run_for(seconds: float, call) -> int:
    done, deadline = 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        call()
        done += 1
    return done


def wsgi_rate(seconds: float) -> float:
    sandbox = fresh_sandbox()
    payload = json.dumps(REDEEM).encode()
    base = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": "/v1/redemptions",
        "PATH_INFO": "/v1/redemptions",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(payload)),
        "HTTP_X_APP_ID": sandbox.app_id,
        "HTTP_X_APP_TOKEN": sandbox.app_token,
    }

    def call() -> None:
        sandbox.handle_environ({**base, "wsgi.input": io.BytesIO(payload)})

    return run_for(seconds, call) / seconds


def client_rate(seconds: float) -> float:
    sandbox = fresh_sandbox()
    client = VoucherifyClient(sandbox.app_id, sandbox.app_token, "https://api.voucherify.io")
    sandbox.mount(client.transport.session)
    return run_for(seconds, lambda: client.redemptions.redeem(REDEEM)) / seconds


def _hammer(url: str, app_id: str, token: str, seconds: float, clients: int) -> float:
    stop = threading.Event()
    counts = [0] * clients

    def worker(index: int) -> None:
        client = VoucherifyClient(app_id, token, url)
        while not stop.is_set():
            client.redemptions.redeem(REDEEM)
            counts[index] += 1

    with ThreadPoolExecutor(clients) as pool:
        for i in range(clients):
            pool.submit(worker, i)
        time.sleep(seconds)
        stop.set()
    return sum(counts) / seconds


def http_rate_thread(seconds: float, clients: int = 16) -> float:
    """Server in a thread of this process: clients and server share one GIL."""
    sandbox = fresh_sandbox()
    server = start_in_thread(sandbox)
    try:
        return _hammer(server.url, sandbox.app_id, sandbox.app_token, seconds, clients)
    finally:
        server.stop()


def http_rate_process(seconds: float, clients: int = 16) -> float:
    """Server as `python -m django_voucherify.sandbox` in its own process."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "django_voucherify.sandbox",
            "--port",
            str(port),
            "--app-id",
            "bench",
            "--app-token",
            "bench-token",
        ]
    )
    url = f"http://127.0.0.1:{port}"
    try:
        client = VoucherifyClient("bench", "bench-token", url)
        for _ in range(100):
            try:
                client.vouchers.create(
                    "BENCH", {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 100}}
                )
                break
            except TransportError:
                time.sleep(0.1)
        return _hammer(url, "bench", "bench-token", seconds, clients)
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    rows = [
        ("in-process, WSGI call", wsgi_rate(args.seconds)),
        ("in-process, VoucherifyClient + adapter", client_rate(args.seconds)),
        ("HTTP, server process, 16 client threads", http_rate_process(args.seconds)),
        ("HTTP, server thread, 16 client threads", http_rate_thread(args.seconds)),
    ]
    print(f"{'sandbox redeem throughput':44} {'redeems/s':>10}  vs target 2,000/s")
    for name, rate in rows:
        print(f"{name:44} {rate:10,.0f}  {rate / 2000:5.2f}x")


if __name__ == "__main__":
    main()
