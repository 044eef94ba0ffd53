"""Outbox delivery throughput with a REAL Celery worker (solo pool, one process) on PostgreSQL and
Redis, against the sandbox served over HTTP (``python -m django_voucherify.sandbox``, a subprocess):
this branch's code ("after") and main's ("before", a ``git archive main`` tree on the worker's
PYTHONPATH, its own settings: a new database connection per task), side by side in each round.

For each size of the outbox's history (already-synced rows bulk-inserted with
``generate_series``: 0, 100k and 1M in full mode) it adds ``-n`` customers with a pending outbox
row each, hands each row over as its save's commit does (after: this tree's
``outbox.request_delivery``, with ``SYNC_DRAIN_CACHE`` on a Redis cache shared with the worker:
one drain message per burst, ``--no-drain`` one task per row; before: one task per row) and
times until every row is ``synced``, counting the messages sent and the worker's CPU per row:
first to the before worker (the two partial indexes of migration 0016 dropped meanwhile, as
main has none), then to the after worker; next to them, the direct-loop floor
(the same ``client.customers.create`` calls in a plain loop in this process). It counts the SQL
queries of one delivered row (``CaptureQueriesContext``; for "before" in a subprocess on main's
tree): a single delivery, and a batch of ``SYNC_BATCH_SIZE`` rows divided by its size.

Quick mode (``--quick``): a few dozen rows and a small history; checks every row got synced,
the sandbox holds every customer, and the queries per delivery are the same at every size;
exits non-zero when one of those is broken, never on timings. "Before" runs there too when
``git archive main`` works (``--no-before`` skips it).
Full mode exits 1 when a target is missed: after/before at least ``--target`` (10) at every
size, and the after/direct ratio at the largest history at least ``--flat`` of the empty one's
(ratios measured in the same round: the machine's speed drifts between rounds when it is shared).

Usage: ``python bench/sync_outbox_throughput.py [--quick] [-n 1000] [--histories 0,100000,1000000]
[--batch-size N] [--conn-max-age 60|0|none] [--before-tree DIR | --no-before]``
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
BROKER = os.environ.get("BENCH_BROKER", "redis://127.0.0.1:6379/13")
RUN = f"bench-outbox-{os.getpid()}"
INDEXES = ("dv_outbox_pending", "dv_outbox_unsent_deletions")
#: Issue 13's "today": main's rows/s before any outbox work (34d4aab), measured on a quiet machine.
ORIGINAL_RATE = 64.0


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


def main_tree(args: argparse.Namespace, tmp: str) -> Path | None:
    """The code of "before": ``--before-tree``, else ``git archive main`` into ``tmp``."""
    if args.no_before:
        return None
    if args.before_tree:
        return Path(args.before_tree).resolve()
    archive = Path(tmp) / "main.tar"
    with archive.open("wb") as out:
        done = subprocess.run(["git", "archive", "main"], cwd=ROOT, stdout=out, stderr=subprocess.DEVNULL)
    if done.returncode != 0:
        print("before: skipped (no `main` branch to archive; --before-tree DIR)")
        return None
    tree = Path(tmp) / "main"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("-n", type=int, default=None, help="rows delivered per history size")
    parser.add_argument("--histories", default=None, help="comma-separated history sizes")
    parser.add_argument("--batch-size", type=int, default=None, help="SYNC_BATCH_SIZE of the after worker")
    parser.add_argument("--conn-max-age", default="60", help="CONN_MAX_AGE of the after worker (0, 60, none)")
    parser.add_argument("--before-tree", default=None, help="main's code (default: git archive main)")
    parser.add_argument("--no-before", action="store_true", help="measure this branch only")
    parser.add_argument(
        "--no-drain", action="store_true", help="after: one task per row (no SYNC_DRAIN_CACHE)"
    )
    parser.add_argument("--target", type=float, default=10.0, help="after/before, at least")
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
        with tempfile.TemporaryDirectory(prefix="bench-outbox-") as tmp, django_db():
            return run(args, n, histories, f"http://127.0.0.1:{port}", main_tree(args, tmp))
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)


def worker_env(url: str, tree: Path | None, queue: str, args: argparse.Namespace) -> dict[str, str]:
    from tests.support.workers import database_url

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tree or ROOT), str(BENCH)]),
        "DJANGO_SETTINGS_MODULE": "_outbox_worker_settings",
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": BROKER,
        "VOUCHERIFY_API_URL": url,
        # before: main's settings (Django's default CONN_MAX_AGE 0: a new connection per task)
        "BENCH_CONN_MAX_AGE": "0" if tree else args.conn_max_age,
    }
    env.pop("BENCH_SYNC_BATCH_SIZE", None)
    env.pop("BENCH_DRAIN_CACHE_URL", None)
    if tree is None and not args.no_drain:
        env["BENCH_DRAIN_CACHE_URL"], env["BENCH_DRAIN_CACHE_PREFIX"] = drain_cache()
    if args.batch_size is not None and tree is None:
        env["BENCH_SYNC_BATCH_SIZE"] = str(args.batch_size)
    return env


def start_worker(env: dict[str, str], queue: str, cwd: Path) -> subprocess.Popen[bytes]:
    celery = Path(sys.executable).with_name("celery")
    return subprocess.Popen(
        [str(celery), "-A", "tests.sync.celery_app", "worker", "--pool=solo", "--loglevel=WARNING",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"{queue}@%h", "-Q", queue],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def seed_history(start: int, stop: int) -> None:
    """Already-synced rows, bulk-inserted (1 in 10 a synced deletion, as a shop's history has)."""
    from django.db import connection

    from django_voucherify.models import OutboxEntry

    if stop <= start:
        return
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


def set_indexes(present: bool) -> None:
    """Drop (main has none) or re-create migration 0016's partial indexes."""
    from django.db import connection

    from django_voucherify.models import OutboxEntry

    with connection.schema_editor() as editor:
        for index in OutboxEntry._meta.indexes:
            if index.name in INDEXES:
                if present:
                    editor.add_index(OutboxEntry, index)
                else:
                    editor.remove_index(OutboxEntry, index)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {connection.ops.quote_name(OutboxEntry._meta.db_table)}")


def add_pending(prefix: str, n: int, *, later: bool = False) -> list[int]:
    """``n`` customers (no signals) and a pending outbox row each, as a save leaves them
    (``later``: not due for an hour, so that the worker's batches leave them alone)."""
    from django.db import connection

    from django_voucherify.models import Customer, OutboxEntry
    from django_voucherify.sync import muted

    with muted():  # the rows are written below, as a save leaves them
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


def drain_cache() -> tuple[str, str]:
    """The Redis cache (URL, key prefix) holding the after worker's drain flag, shared with
    this process (which plays the shop's processes committing the saves)."""
    return BROKER, f"{RUN}-drain"


def deliver_through_worker(
    producer: Any, ids: list[int], timeout: float, *, request: Any = None
) -> tuple[float, int]:
    """Hand each row to the worker as its save's commit does, and wait until all are synced;
    the seconds it took and the messages the commits sent. ``request``: this tree's
    ``outbox.request_delivery`` (a drain per burst when ``SYNC_DRAIN_CACHE`` is set); None: one
    task per row (main before the drain)."""
    from django_voucherify import background
    from django_voucherify.models import OutboxEntry, OutboxState

    sent = background.send
    messages = 0

    def counted(*args: Any, **kwargs: Any) -> bool:
        nonlocal messages
        messages += 1
        return sent(*args, **kwargs)

    start = time.perf_counter()
    background.send = counted
    try:
        for entry_id in ids:
            if request is not None:
                request(entry_id)
            else:
                producer.send_task("django_voucherify.deliver_outbox_entry", (entry_id,), {"retry": False})
                messages += 1
    finally:
        background.send = sent
    deadline = time.monotonic() + timeout
    rows = OutboxEntry.objects.filter(pk__gte=ids[0], pk__lte=ids[-1], state=OutboxState.SYNCED)
    while rows.count() < len(ids):
        if time.monotonic() > deadline:
            states = sorted(OutboxEntry.objects.filter(pk__in=ids).values_list("state", "last_error"))
            raise SystemExit(f"not every row got synced before the deadline: {states[:5]}...")
        time.sleep(0.02)
    return time.perf_counter() - start, messages


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of process ``pid`` so far: the worker's own work per row, which
    the machine's load stretches far less than wall time."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drain(producer: Any, queue: str, timeout: float = 60.0) -> None:
    """Wait until the worker of ``queue`` has run every task it was sent. Most tasks of a
    burst find their row already sent by a batch, but each still claims up to a batch of other
    due rows: left running, they would take the rows the next measurement makes due."""
    import redis

    broker = redis.Redis.from_url(BROKER)
    inspect = producer.control.inspect(destination=[f"{queue}@{socket.gethostname()}"], timeout=1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if broker.llen(queue) == 0:
            busy = [*((inspect.active() or {}).values()), *((inspect.reserved() or {}).values())]
            if not any(busy):
                return
        time.sleep(0.05)
    raise SystemExit(f"the worker of {queue} did not finish its tasks in {timeout:g} s")


@contextmanager
def after_producer(producer: Any, voucherify: dict[str, Any], args: argparse.Namespace) -> Iterator[None]:
    """This process as the shop's: its commits' messages go to the after worker's queue (the
    producer app is the current Celery app), with the worker's drain cache."""
    from celery._state import get_current_app
    from django.test import override_settings

    previous = get_current_app()
    producer.set_current()
    url, prefix = drain_cache()
    caches = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "drain": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": prefix,
        },
    }
    drain_option = {} if args.no_drain else {"SYNC_DRAIN_CACHE": "drain"}
    try:
        with override_settings(CACHES=caches, VOUCHERIFY={**voucherify, **drain_option}):
            yield
    finally:
        previous.set_current()


def before_label(args: argparse.Namespace, tree: Path | None) -> str:
    if tree is None:
        return "none"
    return f"the tree {args.before_tree}" if args.before_tree else "main (git archive main)"


COUNT_SCRIPT = """
import json, os, sys
import django
django.setup()
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_voucherify.sync import delivery
counts = []
for entry_id in json.loads(sys.argv[1]):
    with CaptureQueriesContext(connection) as ctx:
        outcome = delivery.deliver(entry_id, ignore_schedule=True)
    assert outcome.status == "sent", outcome
    counts.append(len(ctx.captured_queries))
print(json.dumps(counts))
"""


def queries_before(prefix: str, env: dict[str, str], tree: Path) -> int:
    """Queries of one delivery by main's code (a subprocess on its tree)."""
    ids = add_pending(prefix, 3, later=True)
    out = subprocess.run(
        [sys.executable, "-c", COUNT_SCRIPT, json.dumps(ids)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"counting main's queries failed: {out.stderr[-2000:]}")
    counts = json.loads(out.stdout.strip().splitlines()[-1])
    if len(set(counts)) != 1:
        raise SystemExit(f"queries per delivery (before) vary: {counts}")
    return int(counts[0])


def queries_after(prefix: str, batch: int) -> tuple[int, float]:
    """Queries of one delivery (``deliver``), and per row of a batch of ``batch`` due rows
    (``deliver_batch``, as the task sends them), counted in this process."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from django_voucherify.models import OutboxEntry
    from django_voucherify.sync import batches, delivery

    counts = []
    for entry_id in add_pending(f"{prefix}s", 3, later=True):
        with CaptureQueriesContext(connection) as ctx:
            outcome = delivery.deliver(entry_id, ignore_schedule=True)
        if outcome.status != "sent":
            raise SystemExit(f"in-process delivery of {entry_id}: {outcome}")
        counts.append(len(ctx.captured_queries))
        if os.environ.get("BENCH_SHOW_QUERIES"):
            print("\n".join(q["sql"][:160] for q in ctx.captured_queries), end="\n\n")
    if len(set(counts)) != 1:
        raise SystemExit(f"queries per delivery vary: {counts}")
    ids = add_pending(f"{prefix}b", batch, later=True)
    OutboxEntry.objects.filter(pk__in=ids[1:]).update(due_at=None)  # due: the batch takes them
    with CaptureQueriesContext(connection) as ctx:
        results = batches.deliver_batch(ids[0], ignore_schedule=True, limit=batch)
    if sorted(i for i, o in results if o.status == "sent") != ids:
        raise SystemExit(f"in-process batch: {[(i, o.status) for i, o in results][:5]}...")
    if os.environ.get("BENCH_SHOW_QUERIES"):
        print("\n".join(q["sql"][:160] for q in ctx.captured_queries), end="\n\n")
    return counts[0], len(ctx.captured_queries) / batch


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


def run(args: argparse.Namespace, n: int, histories: list[int], url: str, tree: Path | None) -> int:
    from django.test import override_settings

    import django_voucherify
    from django_voucherify.api.client import VoucherifyClient
    from django_voucherify.conf import settings as voucherify_settings
    from django_voucherify.models import Customer
    from django_voucherify.sync import outbox
    from tests.support.workers import celery_app

    variants = ["after", *(["before"] if tree else [])]
    queues = {v: f"voucherify-{RUN}-{v}" for v in variants}
    producers = {v: celery_app(BROKER, queues[v]) for v in variants}
    envs = {v: worker_env(url, tree if v == "before" else None, queues[v], args) for v in variants}
    workers = {
        v: start_worker(envs[v], queues[v], tree if v == "before" and tree else ROOT) for v in variants
    }
    client = VoucherifyClient("sandbox-app-id", "sandbox-secret-key", api_url=url)
    voucherify = {"APP_ID": "sandbox-app-id", "SECRET_KEY": "sandbox-secret-key", "API_URL": url}
    problems: list[str] = []
    results: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + 90
        for v in variants:
            while not producers[v].control.ping(
                destination=[f"{queues[v]}@{socket.gethostname()}"], timeout=0.5
            ):
                if workers[v].poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the Celery worker ({v}) did not start")
        with override_settings(VOUCHERIFY=voucherify):
            django_voucherify.reset_client()
            batch = args.batch_size or voucherify_settings().sync_batch_size
            seeded = 0
            for round_no, history in enumerate(histories):
                seed_history(seeded, history)
                seeded = max(seeded, history)
                row: dict[str, Any] = {"history": history}
                if tree:
                    set_indexes(False)
                    row["q_before"] = queries_before(f"qb{round_no}", envs["before"], tree)
                    ids = add_pending(f"b{round_no}", n)
                    cpu = cpu_seconds(workers["before"].pid)
                    took, row["m_before"] = deliver_through_worker(
                        producers["before"], ids, timeout=60 + 2 * n
                    )
                    row["before"] = n / took
                    drain(producers["before"], queues["before"])
                    row["cpu_before"] = (cpu_seconds(workers["before"].pid) - cpu) * 1000 / n
                    set_indexes(True)
                row["q_after"], row["q_batch"] = queries_after(f"qa{round_no}", batch)
                ids = add_pending(f"w{round_no}", n)
                cpu = cpu_seconds(workers["after"].pid)
                with after_producer(producers["after"], voucherify, args):
                    took, row["m_after"] = deliver_through_worker(
                        producers["after"], ids, timeout=30 + n, request=outbox.request_delivery
                    )
                    row["after"] = n / took
                drain(producers["after"], queues["after"])
                row["cpu_after"] = (cpu_seconds(workers["after"].pid) - cpu) * 1000 / n
                row["direct"] = n / direct_loop(client, f"d{round_no}", n)
                results.append(row)
                for prefix in (f"w{round_no}-", *([f"b{round_no}-"] if tree else [])):
                    sids = Customer.objects.filter(source_id__startswith=prefix).values_list(
                        "source_id", flat=True
                    )
                    missing = [sid for sid in sids if client.customers.get(sid).get("source_id") != sid]
                    if missing or len(sids) != n:
                        problems.append(
                            f"the sandbox lacks {len(missing)} customers {prefix}* (history {history})"
                        )
    finally:
        for worker in workers.values():
            worker.terminate()
        for worker in workers.values():
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
        import redis

        broker = redis.Redis.from_url(BROKER)
        for queue in queues.values():
            for key in broker.scan_iter(match=f"*{queue}*"):
                broker.delete(key)
    drained = "one drain per burst (SYNC_DRAIN_CACHE)" if not args.no_drain else "one task per row"
    print(f"outbox delivery, real Celery worker (solo), {n} rows per size; after: batch size {batch}, "
          f"CONN_MAX_AGE {args.conn_max_age}, {drained}; before: {before_label(args, tree)}, "
          "CONN_MAX_AGE 0, one task per row")  # fmt: skip
    print(f"{'history':>9} {'before/s':>9} {'after/s':>8} {'after/before':>13} {'direct/s':>9} "
          f"{'after/direct':>13} {'q/row before':>13} {'after (1)':>10} {'after (batch)':>14} "
          f"{'msgs before':>12} {'msgs after':>11} {'CPU ms/row before':>18} {'after':>6}")  # fmt: skip
    for r in results:
        before = r.get("before")
        print(f"{r['history']:>9} {before or 0:>9.0f} {r['after']:>8.0f} "
              f"{(r['after'] / before) if before else 0:>12.1f}x {r['direct']:>9.0f} "
              f"{r['after'] / r['direct']:>12.2f}x {r.get('q_before', '-'):>13} {r['q_after']:>10} "
              f"{r['q_batch']:>14.2f} {r.get('m_before', '-'):>12} {r['m_after']:>11} "
              f"{r.get('cpu_before', 0):>18.2f} {r['cpu_after']:>6.2f}")  # fmt: skip
    print(f"the issue's baseline: {ORIGINAL_RATE:g} rows/s (main before the outbox work, quiet machine); "
          "after/that: " + ", ".join(f"{r['after'] / ORIGINAL_RATE:.1f}x" for r in results)
          + " (rates of this machine's load: compare with care)")  # fmt: skip
    if not args.no_drain and any(r["m_after"] > max(2, n // 10) for r in results):
        problems.append(f"the drain sent a message per row or so: {[r['m_after'] for r in results]}")
    ratios = [r["after"] / r["direct"] for r in results]
    print(f"largest history / empty outbox (after/direct ratios): {ratios[-1] / ratios[0]:.2f}x")
    if len({(r["q_after"], r["q_batch"]) for r in results}) != 1:
        problems.append(
            f"queries per delivery depend on the history: {[(r['q_after'], r['q_batch']) for r in results]}"
        )
    if not args.quick:
        if tree:
            slow = [r["history"] for r in results if r["after"] < args.target * r["before"]]
            if slow:
                problems.append(f"after/before below {args.target:g} at {slow}")
        if ratios[-1] < args.flat * ratios[0]:
            problems.append(f"not flat: largest history at {ratios[-1] / ratios[0]:.2f}x of the empty one")
    for problem in problems:
        print("FAIL:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
