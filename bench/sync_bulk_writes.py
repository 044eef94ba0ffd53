"""What queueing costs a bulk write of mirrors: ``bulk_update()`` and ``QuerySet.update()`` of
N customers with their outbox rows queued (the mirrors' querysets) next to the same write inside
``sync.muted()`` (no outbox row: what every bulk write cost before), in one run.

Each write is its own committed transaction (the ``on_commit`` delivery request included, to an
in-memory broker: one message per ``SYNC_BATCH_SIZE`` rows). Rounds alternate the two so drift
cancels; the figure is the median per round. Also printed: the statements of one queued write
(one mirror ``UPDATE ... RETURNING`` plus one outbox ``INSERT`` per 500 rows).

Usage: ``python bench/sync_bulk_writes.py [-n 10000] [--rounds 5] [--quick]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from _django import django_db


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=10_000, help="customers written per bulk write")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (CI: checks it still runs)")
    args = parser.parse_args()
    if args.quick:
        args.n, args.rounds = 200, 1
    with django_db():
        run(args)


def run(args: argparse.Namespace) -> None:
    from celery import Celery
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from django_voucherify.models import Customer, OutboxEntry
    from django_voucherify.sync import muted

    app = Celery("bench-bulk-writes", broker="memory://", set_as_current=False)
    app.conf.update(task_always_eager=False, broker_connection_retry=False)
    app.set_current()
    with muted():
        customers = Customer.objects.bulk_create(
            Customer(source_id=f"bulk-{i:06d}", name="Bench", email=f"b{i}@example.com")
            for i in range(args.n)
        )
    counter = iter(range(10**9))

    def bulk_update() -> None:
        name = f"Bench {next(counter)}"
        for customer in customers:
            customer.name = name
        with transaction.atomic():
            Customer.objects.bulk_update(customers, ["name"])

    def update() -> None:
        with transaction.atomic():
            Customer.objects.update(name=f"Bench {next(counter)}")

    def timed(write: Callable[[], None], queued: bool) -> float:
        start = time.perf_counter()
        if queued:
            write()
        else:
            with muted():
                write()
        return time.perf_counter() - start

    print(f"customers per write: {args.n}; rounds: {args.rounds} (alternated); broker: memory://")
    print(f"{'write':<12} {'muted (s)':>10} {'queued (s)':>11} {'ratio':>6}")
    for label, write in (("bulk_update", bulk_update), ("update", update)):
        timed(write, True), timed(write, False)  # warm-up: the outbox rows exist from now on
        plain, queued = [], []
        for _ in range(args.rounds):
            plain.append(timed(write, False))
            queued.append(timed(write, True))
        p, q = statistics.median(plain), statistics.median(queued)
        print(f"{label:<12} {p:>10.3f} {q:>11.3f} {q / p:>6.2f}")
    with CaptureQueriesContext(connection) as captured:
        update()
    statements = [" ".join(x["sql"].split())[:70] for x in captured.captured_queries]
    print(f"statements of one queued update() of {args.n} rows: {len(statements)}")
    for sql in dict.fromkeys(statements):
        print(f"  {statements.count(sql)} x {sql}")
    assert OutboxEntry.objects.count() == args.n  # one row per object, whatever the writes


if __name__ == "__main__":
    main()
