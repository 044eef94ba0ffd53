"""Checkout cost: HTTP round trips per checkout and database queries per redeem.

Runs N checkouts against the sandbox served over HTTP (tests.settings, a throw-away PostgreSQL
database from BENCH_DATABASE_URL), in two shapes side by side: redeem only, and validate then
redeem. Prints round trips per checkout (counted by the sandbox) and queries per redeem
(Django's query capture), plus the per-checkout time ratio of the two shapes.

    .venv/bin/python bench/checkout_round_trips.py [--checkouts 200]
"""

from __future__ import annotations

import argparse
import time

from _django import django_db


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkouts", type=int, default=200)
    args = parser.parse_args()
    with django_db("postgres://postgres@127.0.0.1:5432/bench_checkout"):
        run(args.checkouts)


def run(n: int) -> None:
    from django.db import connection
    from django.test import override_settings
    from django.test.utils import CaptureQueriesContext

    import django_voucherify
    from django_voucherify import checkout
    from django_voucherify.sandbox.app import Sandbox
    from django_voucherify.sandbox.server import start_in_thread

    sandbox = Sandbox()
    requests_seen: list[str] = []
    sandbox.response_listeners.append(lambda ex: requests_seen.append(ex.request.path))
    server = start_in_thread(sandbox)
    conf = {
        "APP_ID": "sandbox-app-id",
        "SECRET_KEY": "sandbox-secret-key",
        "API_URL": server.url,
        "SYNC_ENABLED": False,
    }
    try:
        with override_settings(VOUCHERIFY=conf):
            django_voucherify.reset_client()
            django_voucherify.client.vouchers.create(
                "BENCH", {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 100}}
            )
            rows = []
            for shape in ("redeem only", "validate + redeem"):
                requests_seen.clear()
                queries = statements = 0
                started = time.perf_counter()
                for i in range(n):
                    order = {"source_id": f"{shape[:3]}-{i}", "amount": 5000}
                    if shape.startswith("validate"):
                        checkout.validate(["BENCH"], order, "cust-bench")
                    with CaptureQueriesContext(connection) as captured:
                        checkout.redeem(["BENCH"], order, "cust-bench")
                    queries += len(captured.captured_queries)
                    statements += sum(
                        1 for q in captured.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")
                    )
                elapsed = time.perf_counter() - started
                rows.append((shape, len(requests_seen) / n, queries / n, statements / n, elapsed / n * 1000))
    finally:
        server.stop()
        django_voucherify.reset_client()
    print(f"{n} checkouts per shape, sandbox over HTTP, PostgreSQL")
    print(
        f"{'shape':<20} {'HTTP round trips':>17} {'DB queries/redeem':>18} {'of which SQL':>13} "
        f"{'ms/checkout':>12}"
    )
    for shape, trips, queries, sql, ms in rows:
        print(f"{shape:<20} {trips:>17.2f} {queries:>18.2f} {sql:>13.2f} {ms:>12.2f}")
    print(
        "(queries include BEGIN/COMMIT of the two short transactions: PENDING insert committed "
        "before the call, then SELECT ... FOR UPDATE + UPDATE)"
    )
    print(f"validate+redeem / redeem-only time ratio: {rows[1][4] / rows[0][4]:.2f}x")


if __name__ == "__main__":
    main()
