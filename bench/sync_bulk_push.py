"""Pushing N customers (default 10,000) to the sandbox over HTTP: ``voucherify_sync customers
--here`` (a push job: bulk updates in chunks under ``BULK_CHUNK_BYTES``, followed in this process
until Voucherify applied them; its requests include the polls) next to a naive loop of one
``client.customers.create`` per row, in the same run, against the same server.

Prints requests made and wall time of each, and the ratio. The sandbox runs in a subprocess
(``python -m django_voucherify.sandbox``) so its CPU does not share this process's GIL.

Usage: ``python bench/sync_bulk_push.py [-n 10000] [--chunk-bytes 9000000] [--naive-sample 0]``
(``--naive-sample K`` times K naive calls and extrapolates, for quick runs).
"""

from __future__ import annotations

import argparse
import math
import os
import socket
import subprocess
import sys
import time
from io import StringIO

from _django import ROOT, django_db


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--chunk-bytes", type=int, default=9_000_000)
    parser.add_argument("--naive-sample", type=int, default=0, help="0 = all rows")
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "django_voucherify.sandbox", "--port", str(port), "--job-delay", "0"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        with django_db():
            run(args, url)
    finally:
        server.terminate()
        server.wait(timeout=10)


def run(args: argparse.Namespace, url: str) -> None:
    import requests
    from django.core.management import call_command
    from django.test import override_settings

    from django_voucherify.api.client import VoucherifyClient
    from django_voucherify.models import Customer

    Customer.objects.bulk_create(
        (
            Customer(
                source_id=f"bench-{i:06d}",
                name=f"Customer {i}",
                email=f"c{i}@example.com",
                city="Berlin",
                metadata={"segment": i % 7, "tier": "gold"},
            )
            for i in range(args.n)
        ),
        batch_size=2000,
    )
    calls = {"n": 0}
    real_send = requests.Session.send

    def counting_send(self, request, **kw):
        calls["n"] += 1
        return real_send(self, request, **kw)

    requests.Session.send = counting_send
    conf = {
        "APP_ID": "sandbox-app-id",
        "SECRET_KEY": "sandbox-secret-key",
        "API_URL": url,
        "READ_TIMEOUT": 120.0,
    }
    with override_settings(VOUCHERIFY=conf):
        import django_voucherify

        django_voucherify.reset_client()
        start = time.perf_counter()
        call_command(
            "voucherify_sync",
            "customers",
            here=True,
            no_progress=True,
            chunk_bytes=args.chunk_bytes,
            stdout=StringIO(),
        )
        bulk_time = time.perf_counter() - start
        bulk_requests = calls["n"]

        client = VoucherifyClient("sandbox-app-id", "sandbox-secret-key", api_url=url)
        payloads = [c.to_voucherify() for c in Customer.objects.order_by("pk")]
        sample = payloads[: args.naive_sample] if args.naive_sample else payloads
        calls["n"] = 0
        start = time.perf_counter()
        for p in sample:
            client.customers.create(p)
        naive_time = (time.perf_counter() - start) * len(payloads) / len(sample)
        naive_requests = calls["n"] * len(payloads) // len(sample)
    size = sum(len(str(p)) for p in payloads[:100]) / 100
    bound = math.ceil(args.n / max(1, args.chunk_bytes // int(size)))
    print(f"customers: {args.n}, chunk limit {args.chunk_bytes} bytes (~{size:.0f} bytes per customer)")
    print(f"{'method':<28} {'requests':>9} {'seconds':>9}")
    print(f"{'voucherify_sync (bulk)':<28} {bulk_requests:>9} {bulk_time:>9.2f}")
    extrapolated = " (extrapolated)" if args.naive_sample else ""
    print(f"{'naive create per row':<28} {naive_requests:>9} {naive_time:>9.2f}{extrapolated}")
    print(
        f"speed-up: {naive_time / bulk_time:.1f}x; requests {naive_requests / bulk_requests:.0f}x fewer "
        f"(~ceil(n/chunk) = {bound})"
    )


if __name__ == "__main__":
    main()
