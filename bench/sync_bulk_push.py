"""Bulk push of the mirrors (``voucherify_sync customers|orders --here``) against its floor.

Contenders, against the same sandbox (own process, counting requests at the server:
``bench/_counting_sandbox.py``), in interleaved rounds (who goes first alternates), medians:

* **push**: ``call_command("voucherify_sync", kind, here=True)``: the whole job: read the rows,
  build and store the parts, submit each, poll its async action to the end, mark the mirrors.
* **floor**: the same bulk requests with the same bodies made by a plain loop: the rows read by
  one ``.values_list()`` query (orders: plus one for their items), each body built by the same
  function and JSON-encoded once, joined into the same chunks (``encoded_batches``), posted with
  the client, then each async action polled to the end at the same interval. Nothing stored,
  no job, no mirror marked: the least any push must do.
* **naive**: one ``client.customers.create`` per row, timed on a sample and extrapolated.

Peak Python memory (tracemalloc) of push and floor is measured in separate, untimed runs, for
the push also with a quarter of the rows (flat: it streams pages and one part at a time).

``--quick``: ~500 customers / 100 orders and small chunks; checks (exit 1 when broken, never on
timings) that the sandbox holds every pushed row, that the push marked every mirror ``synced``,
that push and floor made the same number of bulk requests carrying the same number of bytes,
and that it matches the chunk count.
Full mode exits 1 when push/floor exceeds ``TARGET`` for a kind.

Usage: ``python bench/sync_bulk_push.py [--quick] [-n 100000] [--orders 10000] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from io import StringIO
from typing import Any

from _counting_sandbox import Running, counting_sandbox
from _django import django_db

TARGET = 1.5
POLL = 0.02  # s between polls, for the push (JOB_POLL_INTERVAL) and the floor alike
BULK = {"customers": "POST /v1/customers/bulk/async", "orders": "POST /v1/orders/import"}
POLLS = "GET /v1/async-actions/{id}"


def populate(first: int, count: int, orders_from: int, orders: int) -> None:
    from django_voucherify.models import Customer, Order, OrderItem
    from django_voucherify.sync import muted

    with muted():  # seeded, not shop changes: nothing is queued in the outbox
        Customer.objects.bulk_create(
            (
                Customer(
                    source_id=f"bench-{i:07d}",
                    name=f"Customer {i}",
                    email=f"c{i}@example.com",
                    phone="+49 30 1234567",
                    city="Berlin",
                    postal_code="10115",
                    country="DE",
                    metadata={"segment": i % 7, "tier": "gold"},
                    remote_payload={"id": f"cust_{i}", "raw": "x" * 400},  # never read by a push
                )
                for i in range(first, first + count)
            ),
            batch_size=5000,
        )
        customers = list(Customer.objects.order_by("pk").values_list("pk", flat=True)[:orders])
        made = Order.objects.bulk_create(
            (
                Order(
                    source_id=f"order-{i:07d}",
                    status="PAID",
                    amount=2500,
                    customer_id=customers[i % len(customers)],
                    metadata={"channel": "web"},
                )
                for i in range(orders_from, orders_from + orders)
            ),
            batch_size=5000,
        )
        OrderItem.objects.bulk_create(
            (
                OrderItem(order=o, product_source_id=f"prod-{k}", quantity=1, price=1250, amount=1250)
                for o in made
                for k in range(2)
            ),
            batch_size=5000,
        )


def push(kind: str, chunk_bytes: int) -> None:
    from django.core.management import call_command

    call_command(
        "voucherify_sync", kind, here=True, no_progress=True, chunk_bytes=chunk_bytes, stdout=StringIO()
    )


def floor(kind: str, chunk_bytes: int) -> None:
    """The same requests from a plain loop: see the module docstring."""
    import json

    from django_voucherify import client
    from django_voucherify.api.batching import encoded_batches
    from django_voucherify.api.resources.orders import MAX_ORDERS_PER_IMPORT
    from django_voucherify.models import Customer, Order, OrderItem
    from django_voucherify.models import customers as cm
    from django_voucherify.models import orders as om

    if kind == "customers":
        rows = Customer.objects.order_by("pk").values_list(*cm.BODY_FIELDS)
        encoded = [(r[0], json.dumps(cm.customer_body(*r)).encode()) for r in rows]
        send, max_items = client.customers.bulk_update, None
    else:
        items: dict[int, list[dict[str, Any]]] = {}
        for order_id, *values in OrderItem.objects.order_by("order_id", "pk").values_list(
            "order_id", *om.ITEM_BODY_FIELDS
        ):
            items.setdefault(order_id, []).append(om.item_body(*values))
        rows = Order.objects.order_by("pk").values_list("pk", *om.BODY_FIELDS)
        encoded = [(r[1], json.dumps(om.order_body(*r[1:], items.get(r[0], []))).encode()) for r in rows]
        send, max_items = client.orders.import_json, MAX_ORDERS_PER_IMPORT
    actions = [
        send(body)["async_action_id"] for _ids, body in encoded_batches(encoded, chunk_bytes, max_items)
    ]
    for action in actions:
        while client.async_actions.get(action)["status"] not in ("DONE", "FAILED"):
            time.sleep(POLL)


def naive(sample: int) -> float:
    """Seconds per row of one ``customers.create`` each, over ``sample`` rows."""
    from django_voucherify import client
    from django_voucherify.models import Customer

    bodies = [c.to_voucherify() for c in Customer.objects.order_by("pk")[:sample]]
    start = time.perf_counter()
    for body in bodies:
        client.customers.create(body)
    return (time.perf_counter() - start) / len(bodies)


def timed(fn: Callable[[], None]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def peak_mib(fn: Callable[[], None]) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def delta(before: dict[str, Any], after: dict[str, Any], what: str, key: str) -> int:
    return int(after[what].get(key, 0)) - int(before[what].get(key, 0))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes; checks it still works")
    parser.add_argument("-n", type=int, default=100_000, help="customers")
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chunk-bytes", type=int, default=9_000_000)
    parser.add_argument("--naive-sample", type=int, default=300)
    parser.add_argument(
        "--kinds",
        default=",".join(BULK),
        help="comma-separated kinds to time (default: customers,orders); the others are still "
        "populated (orders need customers) but not pushed",
    )
    parser.add_argument(
        "--fillfactor",
        type=int,
        default=None,
        help="ALTER the mirror tables to this fillfactor before any row is written (the comparison "
        "behind the decision in docs/production.md; 100 is PostgreSQL's default); default: the "
        "tables as migrated (50, migration 0018)",
    )
    args = parser.parse_args()
    args.kinds = [kind.strip() for kind in args.kinds.split(",") if kind.strip()]
    if unknown := set(args.kinds) - set(BULK):
        parser.error(f"--kinds: unknown {sorted(unknown)}; choose among {list(BULK)}")
    if args.quick:
        args.n, args.orders, args.rounds, args.chunk_bytes, args.naive_sample = 500, 100, 1, 40_000, 20
    with counting_sandbox() as sandbox, django_db():
        from django.test import override_settings

        conf = {
            "APP_ID": "sandbox-app-id",
            "SECRET_KEY": "sandbox-secret-key",
            "API_URL": sandbox.url,
            "READ_TIMEOUT": 120.0,
            "SYNC_LEASE_SECONDS": 1500,  # above 5 sends of 120 s reads (check E012)
            "JOB_POLL_INTERVAL": POLL,
            "JOB_POLL_INTERVAL_MAX": POLL,
        }
        with override_settings(VOUCHERIFY=conf):
            import django_voucherify

            django_voucherify.reset_client()
            return run(args, sandbox)


MIRROR_TABLES = {"customers": "django_voucherify_customer", "orders": "django_voucherify_order"}


def set_fillfactor(fillfactor: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table in MIRROR_TABLES.values():
            cursor.execute(f"ALTER TABLE {table} SET (fillfactor = {int(fillfactor)})")


def table_stats() -> dict[str, tuple[int, int, int]]:
    """Per mirror table: rows updated, of which HOT (no index entry written), total bytes."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")  # this backend's counters, now
        stats = {}
        for kind, table in MIRROR_TABLES.items():
            cursor.execute(
                "SELECT n_tup_upd, n_tup_hot_upd, pg_total_relation_size(relid) "
                "FROM pg_stat_user_tables WHERE relname = %s",
                [table],
            )
            upd, hot, size = cursor.fetchone()
            stats[kind] = (int(upd), int(hot), int(size))
    return stats


def fillfactors() -> dict[str, str]:
    """Per mirror table, the fillfactor in force (migration 0018 sets 50; 100 when unset)."""
    from django.db import connection

    with connection.cursor() as cursor:
        out = {}
        for kind, table in MIRROR_TABLES.items():
            cursor.execute("SELECT reloptions FROM pg_class WHERE relname = %s", [table])
            options = dict(o.split("=", 1) for o in (cursor.fetchone()[0] or []))
            out[kind] = options.get("fillfactor", "100")
    return out


def run(args: argparse.Namespace, sandbox: Running) -> int:
    quarter_n, quarter_o = args.n // 4, args.orders // 4
    if args.fillfactor is not None:
        set_fillfactor(args.fillfactor)
    populate(0, quarter_n, 0, quarter_o)
    small_peak = {kind: float("nan") for kind in BULK}  # --quick: skipped, for time
    if not args.quick:
        small_peak = {kind: peak_mib(lambda k=kind: push(k, args.chunk_bytes)) for kind in args.kinds}
    populate(quarter_n, args.n - quarter_n, quarter_o, args.orders - quarter_o)
    fresh = {kind: size for kind, (_u, _h, size) in table_stats().items()}  # one push done
    sizes = {"customers": args.n, "orders": args.orders}
    times: dict[tuple[str, str], list[float]] = {}
    counts: dict[tuple[str, str], tuple[int, int, int]] = {}
    contenders = {"push": push, "floor": floor}
    for round_no in range(args.rounds):
        order = list(contenders) if round_no % 2 == 0 else list(reversed(contenders))
        for kind in args.kinds:
            for name in order:
                before = sandbox.stats()
                seconds = timed(lambda f=contenders[name], k=kind: f(k, args.chunk_bytes))
                times.setdefault((kind, name), []).append(seconds)
                after = sandbox.stats()
                counts[(kind, name)] = (
                    delta(before, after, "requests", BULK[kind]),
                    delta(before, after, "bytes", BULK[kind]),
                    delta(before, after, "requests", POLLS),
                )
    peaks = {
        (kind, name): peak_mib(lambda k=kind, f=fn: f(k, args.chunk_bytes))
        for kind in args.kinds
        for name, fn in contenders.items()
    }
    held = sandbox.stats()
    unmarked = not_synced()
    tables = table_stats()
    factors = fillfactors()
    per_row = naive(args.naive_sample) if "customers" in args.kinds else 0.0

    print(
        f"customers: {args.n}, orders: {args.orders} (2 items each), chunk limit {args.chunk_bytes} bytes, "
        f"{args.rounds} interleaved rounds, medians; poll interval {POLL} s for both"
    )
    print(
        f"{'kind':<10} {'method':<7} {'bulk req':>8} {'bytes':>11} {'polls':>6} {'seconds':>8} "
        f"{'peak MiB':>9}"
    )
    failures: list[str] = []
    for kind in args.kinds:
        for name in contenders:
            reqs, sent, polls = counts[(kind, name)]
            median = statistics.median(times[(kind, name)])
            print(
                f"{kind:<10} {name:<7} {reqs:>8} {sent:>11} {polls:>6} {median:>8.2f} "
                f"{peaks[(kind, name)]:>9.1f}"
            )
        ratio = statistics.median(times[(kind, "push")]) / statistics.median(times[(kind, "floor")])
        print(
            f"{kind:<10} push/floor = {ratio:.2f} (target <= {TARGET}); "
            f"push peak with a quarter of the rows: {small_peak[kind]:.1f} MiB"
        )
        upd, hot, size = tables[kind]
        print(
            f"{kind:<10} fillfactor {factors[kind]}: {upd} rows updated, "
            f"{100 * hot / max(upd, 1):.0f} % HOT; table + indexes {fresh[kind] / 2**20:.0f} MiB "
            f"before the timed pushes (a quarter pushed once), {size / 2**20:.0f} MiB after all pushes"
        )
        if counts[(kind, "push")][:2] != counts[(kind, "floor")][:2]:
            failures.append(f"{kind}: push and floor did not make the same bulk requests")
        if held[kind] != sizes[kind]:
            failures.append(f"{kind}: the sandbox holds {held[kind]}, expected {sizes[kind]}")
        if unmarked[kind]:
            failures.append(f"{kind}: {unmarked[kind]} mirrors not marked synced by the push")
        if not args.quick and ratio > TARGET:
            failures.append(f"{kind}: push/floor {ratio:.2f} over the {TARGET} target")
    if "customers" in args.kinds:
        expected = expected_chunks(args.chunk_bytes)
        if counts[("customers", "push")][0] != expected:
            failures.append(
                f"customers: {counts[('customers', 'push')][0]} bulk requests, expected {expected}"
            )
        naive_total = per_row * args.n
        push_c = statistics.median(times[("customers", "push")])
        print(
            f"naive create per row: {args.n} requests, {naive_total:.1f} s "
            f"(extrapolated from {args.naive_sample}); push is {naive_total / push_c:.0f}x faster"
        )
    for failure in failures:
        print("FAIL:", failure)
    return 1 if failures else 0


def not_synced() -> dict[str, int]:
    """Mirrors the pushes left unmarked (the push's work includes marking every row it sent)."""
    from django_voucherify.models import Customer, Order, SyncState

    return {
        kind: model.objects.exclude(sync_state=SyncState.SYNCED).count()
        for kind, model in (("customers", Customer), ("orders", Order))
    }


def expected_chunks(chunk_bytes: int) -> int:
    """Bulk requests the customers need: the chunks of their bodies, counted independently."""
    import json

    from django_voucherify.models import Customer

    count, size = 0, 0
    for customer in Customer.objects.order_by("pk").iterator(chunk_size=5000):
        item = len(json.dumps(customer.to_voucherify()))
        if count == 0 or size + 2 + item > chunk_bytes:
            count, size = count + 1, 2 + item
        else:
            size += 2 + item
    return count


if __name__ == "__main__":
    sys.exit(main())
