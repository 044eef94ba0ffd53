"""Outbox delivery throughput with a REAL Celery worker (solo pool, one process) on PostgreSQL and
Redis, against the sandbox served over HTTP (``python -m django_voucherify.sandbox``, a subprocess).

For each size of the outbox's history (already-synced rows bulk-inserted: 0, 100k, and 1M in
full mode) it adds ``-n`` customers with a pending outbox row each, enqueues one delivery task per
row (as ``record_change`` does on commit) and times until every row is ``synced``. Next to it,
the direct-loop floor: the same ``client.customers.create`` calls in a plain loop in this
process. It also counts the SQL queries of one delivery (``CaptureQueriesContext``) at each size.

Quick mode (``--quick``): a few dozen rows and a small history; checks every row got synced,
the sandbox holds every customer, and the queries per delivery are the same at every size;
exits non-zero when one of those is broken, never on timings.
Full mode exits 1 when a target is missed: a worker/direct-loop ratio of ``--target`` times
``--baseline-ratio`` (0.04 before issue 13) at every size, and the largest history's ratio at
least ``--flat`` of the empty outbox's (ratios, not rates: the machine's speed drifts between
rounds when it is shared, the ratio to the floor measured in the same round much less).

Usage: ``python bench/sync_outbox_throughput.py [--quick] [-n 1000] [--histories 0,100000,1000000]
[--batch-size N] [--conn-max-age 60|0|none]``
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
BROKER = os.environ.get("BENCH_BROKER", "redis://127.0.0.1:6379/13")
RUN = f"bench-outbox-{os.getpid()}"
QUEUE = f"voucherify-{RUN}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"the sandbox did not listen on {port}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("-n", type=int, default=None, help="rows delivered per history size")
    parser.add_argument("--histories", default=None, help="comma-separated history sizes")
    parser.add_argument("--batch-size", type=int, default=None, help="SYNC_BATCH_SIZE of the worker")
    parser.add_argument("--conn-max-age", default="60", help="CONN_MAX_AGE of the worker (0, 60, none)")
    parser.add_argument("--baseline", type=float, default=64.0, help="rows/s before issue 13 (quiet machine)")
    parser.add_argument(
        "--baseline-ratio", type=float, default=0.04, help="worker/direct-loop before issue 13"
    )
    parser.add_argument("--target", type=float, default=10.0, help="times the baseline ratio")
    parser.add_argument("--flat", type=float, default=0.8, help="largest history / empty (ratios), at least")
    args = parser.parse_args()
    n = args.n or (30 if args.quick else 1000)
    default_histories = "0,2000" if args.quick else "0,100000,1000000"
    histories = [int(h) for h in (args.histories or default_histories).split(",")]
    os.environ["VOUCHERIFY_TEST_RUN_ID"] = RUN.replace("-", "_")  # the bench's own database name
    sys.path[:0] = [str(ROOT), str(BENCH)]
    from _django import django_db

    port = free_port()
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "django_voucherify.sandbox", "--port", str(port), "--job-delay", "0"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port)
        with django_db():
            return run(args, n, histories, f"http://127.0.0.1:{port}")
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)


def start_worker(args: argparse.Namespace, url: str) -> subprocess.Popen[bytes]:
    from tests.support.workers import database_url

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(BENCH)]),
        "DJANGO_SETTINGS_MODULE": "_outbox_worker_settings",
        "CELERY_TASK_DEFAULT_QUEUE": QUEUE,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": BROKER,
        "VOUCHERIFY_API_URL": url,
        "BENCH_CONN_MAX_AGE": args.conn_max_age,
    }
    if args.batch_size is not None:
        env["BENCH_SYNC_BATCH_SIZE"] = str(args.batch_size)
    celery = Path(sys.executable).with_name("celery")
    return subprocess.Popen(
        [str(celery), "-A", "tests.sync.celery_app", "worker", "--pool=solo", "--loglevel=WARNING",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"{RUN}@%h", "-Q", QUEUE],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def seed_history(start: int, stop: int) -> None:
    """Already-synced rows, bulk-inserted (1 in 10 a synced deletion, as a shop's history has)."""
    from django.db import connection

    from django_voucherify.models import OutboxEntry

    table = connection.ops.quote_name(OutboxEntry._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {table} (kind, object_pk, source_id, remote_id, action, version,
                delivered_version, state, attempts, due_at, lease_until, lease_token, last_error,
                last_error_key, last_request_id, created_at, updated_at, delivered_at)
            SELECT 'customer', 'h' || i, 'hist-' || i, 'cust_h' || i,
                CASE WHEN i %% 10 = 0 THEN 'delete' ELSE 'upsert' END, 1, 1, 'synced', 0, NULL, NULL,
                '', '', '', '', now(), now(), now()
            FROM generate_series(%s, %s) AS i""",
            [start, stop - 1],
        )
        cursor.execute(f"ANALYZE {table}")


def add_pending(prefix: str, n: int, *, later: bool = False) -> list[int]:
    """``n`` customers (no signals) and a pending outbox row each, as a save leaves them
    (``later``: not due for an hour, so that the worker's batches leave them alone)."""
    from django.db import connection

    from django_voucherify.models import Customer, OutboxEntry

    customers = Customer.objects.bulk_create(
        Customer(source_id=f"{prefix}-{i:06d}", name=f"Customer {i}", email=f"c{i}@example.com",
                 city="Berlin", metadata={"segment": i % 7})
        for i in range(n)
    )  # fmt: skip
    table = connection.ops.quote_name(OutboxEntry._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {table} (kind, object_pk, source_id, remote_id, action, version,
                delivered_version, state, attempts, due_at, lease_until, lease_token, last_error,
                last_error_key, last_request_id, created_at, updated_at, delivered_at)
            SELECT 'customer', id::text, source_id, '', 'upsert', 1, 0, 'pending', 0,
                CASE WHEN %s THEN now() + interval '1 hour' END, NULL,
                '', '', '', '', now(), now(), NULL
            FROM {connection.ops.quote_name(Customer._meta.db_table)} WHERE id = ANY(%s)
            RETURNING id""",
            [later, [c.pk for c in customers]],
        )
        return sorted(row[0] for row in cursor.fetchall())


def deliver_through_worker(ids: list[int], timeout: float) -> float:
    """Enqueue one task per row and wait until all are synced; the seconds it took."""
    from django_voucherify.models import OutboxEntry, OutboxState
    from django_voucherify.sync import outbox

    start = time.perf_counter()
    for entry_id in ids:
        if not outbox.enqueue(entry_id):
            raise SystemExit("the broker refused a task")
    deadline = time.monotonic() + timeout
    rows = OutboxEntry.objects.filter(pk__gte=ids[0], pk__lte=ids[-1], state=OutboxState.SYNCED)
    while rows.count() < len(ids):
        if time.monotonic() > deadline:
            states = sorted(OutboxEntry.objects.filter(pk__in=ids).values_list("state", "last_error"))
            raise SystemExit(f"not every row got synced before the deadline: {states[:5]}...")
        time.sleep(0.02)
    return time.perf_counter() - start


def queries_per_delivery(prefix: str) -> int:
    """SQL queries of one customer delivery, counted in this process against the sandbox."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from django_voucherify.sync import delivery

    ids = add_pending(prefix, 3, later=True)
    counts = []
    for entry_id in ids:
        with CaptureQueriesContext(connection) as ctx:
            outcome = delivery.deliver(entry_id, ignore_schedule=True)
        if outcome.status != "sent":
            raise SystemExit(f"in-process delivery of {entry_id}: {outcome}")
        counts.append(len(ctx.captured_queries))
        if os.environ.get("BENCH_SHOW_QUERIES"):
            print("\n".join(q["sql"][:160] for q in ctx.captured_queries), end="\n\n")
    if len(set(counts)) != 1:
        raise SystemExit(f"queries per delivery vary: {counts}")
    return counts[0]


def direct_loop(client: Any, prefix: str, n: int) -> float:
    from django_voucherify.models import Customer

    payloads = [
        Customer(source_id=f"{prefix}-{i:06d}", name=f"Customer {i}", email=f"c{i}@example.com",
                 city="Berlin", metadata={"segment": i % 7}).to_voucherify()
        for i in range(n)
    ]  # fmt: skip
    start = time.perf_counter()
    for payload in payloads:
        client.customers.create(payload)
    return time.perf_counter() - start


def run(args: argparse.Namespace, n: int, histories: list[int], url: str) -> int:
    from django.test import override_settings

    import django_voucherify
    from django_voucherify.api.client import VoucherifyClient
    from django_voucherify.conf import settings as voucherify_settings
    from django_voucherify.models import Customer
    from tests.support.workers import celery_app

    producer = celery_app(BROKER, QUEUE)
    producer.set_current()
    worker = start_worker(args, url)
    client = VoucherifyClient("sandbox-app-id", "sandbox-secret-key", api_url=url)
    voucherify = {"APP_ID": "sandbox-app-id", "SECRET_KEY": "sandbox-secret-key", "API_URL": url}
    problems: list[str] = []
    results: list[tuple[int, float, float, int]] = []
    try:
        deadline = time.monotonic() + 60
        while not producer.control.ping(destination=[f"{RUN}@{socket.gethostname()}"], timeout=0.5):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the Celery worker did not start")
        with override_settings(VOUCHERIFY=voucherify):
            django_voucherify.reset_client()
            batch = getattr(voucherify_settings(), "sync_batch_size", 1)
            if args.batch_size is not None:
                batch = args.batch_size
            seeded = 0
            for round_no, history in enumerate(histories):
                seed_history(seeded, history)
                seeded = max(seeded, history)
                queries = queries_per_delivery(f"q{round_no}")
                ids = add_pending(f"w{round_no}", n)
                worker_s = deliver_through_worker(ids, timeout=30 + n)
                direct_s = direct_loop(client, f"d{round_no}", n)
                results.append((history, n / worker_s, n / direct_s, queries))
                missing = [
                    sid
                    for sid in Customer.objects.filter(source_id__startswith=f"w{round_no}-").values_list(
                        "source_id", flat=True
                    )
                    if client.customers.get(sid).get("source_id") != sid
                ]
                if missing:
                    problems.append(f"the sandbox lacks {len(missing)} customers (history {history})")
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
        import redis

        broker = redis.Redis.from_url(BROKER)
        for key in broker.scan_iter(match=f"*{QUEUE}*"):
            broker.delete(key)
    print(f"outbox delivery, real Celery worker (solo), {n} rows per size; batch size {batch}, "
          f"CONN_MAX_AGE {args.conn_max_age}")  # fmt: skip
    print(f"{'history rows':>12} {'worker rows/s':>14} {'direct loop rows/s':>19} {'worker/direct':>14} "
          f"{'vs baseline':>12} {'queries/delivery':>17}")  # fmt: skip
    for history, worker_rate, direct_rate, queries in results:
        print(f"{history:>12} {worker_rate:>14.0f} {direct_rate:>19.0f} {worker_rate / direct_rate:>13.2f}x "
              f"{worker_rate / args.baseline:>11.1f}x {queries:>17}")  # fmt: skip
    # Compared as worker/direct-loop ratios measured in the same round: on a shared machine the
    # absolute rates drift between rounds, the ratio to the floor much less.
    ratios = [worker_rate / direct_rate for _, worker_rate, direct_rate, _ in results]
    print(f"largest history / empty outbox (worker/direct ratios): {ratios[-1] / ratios[0]:.2f}x")
    if len({r[3] for r in results}) != 1:
        problems.append(f"queries per delivery depend on the history: {[r[3] for r in results]}")
    if not args.quick:
        goal = args.target * args.baseline_ratio
        slow = [h for (h, *_), ratio in zip(results, ratios, strict=True) if ratio < goal]
        if slow:
            problems.append(f"worker/direct below {goal:.2f} ({args.target:g}x the baseline) at {slow}")
        if ratios[-1] < args.flat * ratios[0]:
            problems.append(f"not flat: largest history at {ratios[-1] / ratios[0]:.2f}x of the empty one")
    for problem in problems:
        print("FAIL:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
