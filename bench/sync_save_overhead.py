"""Added cost of a mirror save with sync on, next to the same save with sync off, in one run.

Each save is what a shop's request does: ``customer.save()`` in its own transaction, committed
(so the ``on_commit`` enqueue to the broker is included). Rounds interleave "off" and "on" to
cancel drift; the figure is the median per save over rounds. Also checked, per save:
HTTP requests made (must be 0: a counting adapter is mounted on the shared client) and SQL
queries (``CaptureQueriesContext``; sync may add at most two).

A second table measures the path a shop actually uses: saving Django's ``User`` connected to the
``Customer`` mirror through ``sync.registry`` (the example shop's recipe), against the same save
with no registry connected, with a mapped field changing on every save (the worst case: mirror
upsert + outbox upsert) and with nothing mapped changing (``last_login``: mirror check only).

Usage: ``python bench/sync_save_overhead.py [-n 500] [--rounds 7] [--pool 200]
[--broker redis://127.0.0.1:6379/13] [--quick]``
(``--broker memory://`` measures without a broker round-trip).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from _django import django_db


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=500, help="saves per contender per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--pool", type=int, default=200, help="distinct customers saved in turn")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (CI: checks it still runs)")
    args = parser.parse_args()
    if args.quick:
        args.n, args.rounds, args.pool = 20, 1, 10
    with django_db():
        run(args)


def run(args: argparse.Namespace) -> None:
    import requests.adapters
    from celery import Celery
    from django.conf import settings
    from django.db import connection, transaction
    from django.test import override_settings
    from django.test.utils import CaptureQueriesContext

    import django_voucherify
    from django_voucherify.models import Customer, OutboxEntry
    from django_voucherify.sync import muted

    apps = {}
    for name, url in (("memory", "memory://"), ("broker", args.broker)):
        apps[name] = Celery(f"bench-{name}", broker=url, set_as_current=False)
        apps[name].conf.update(task_always_eager=False, broker_connection_retry=False)
    http_calls = []
    # The transport hands each prepared request to the adapter mounted on its session (it skips
    # Session.send), so the adapter is where every HTTP call the client makes can be counted.
    real_send = requests.adapters.HTTPAdapter.send

    def counting_send(self: Any, request: Any, *args: Any, **kw: Any) -> Any:
        http_calls.append(request.url)
        return real_send(self, request, *args, **kw)

    requests.adapters.HTTPAdapter.send = counting_send  # type: ignore[method-assign]
    # saves rotate over a pool of customers, as a shop's requests would (seeded muted: the
    # bulk insert would queue them all, and the measured saves would find their rows pending)
    with muted():
        pool = list(
            Customer.objects.bulk_create(
                Customer(source_id=f"bench-{i}", name="Bench", email=f"b{i}@example.com")
                for i in range(args.pool)
            )
        )
    base = dict(settings.VOUCHERIFY)
    on = {**base, "SYNC_ENABLED": True}
    # mode -> (settings, Celery app receiving the enqueue)
    modes = {
        "off": ({**base, "SYNC_ENABLED": False}, apps["memory"]),
        "on/memory": (on, apps["memory"]),
        "on/broker": (on, apps["broker"]),
    }

    def one_save(i: int) -> None:
        customer = pool[i % len(pool)]
        with transaction.atomic():
            customer.name = f"Bench {i}"
            customer.save()

    queries = {}
    for mode, (conf, app) in modes.items():
        app.set_current()
        with override_settings(VOUCHERIFY=conf), CaptureQueriesContext(connection) as q:
            one_save(0)
        queries[mode] = [x["sql"] for x in q.captured_queries]
    per_save: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(args.rounds):
        for mode, (conf, app) in modes.items():
            app.set_current()
            with override_settings(VOUCHERIFY=conf):
                start = time.perf_counter()
                for i in range(args.n):
                    one_save(i)
                per_save[mode].append((time.perf_counter() - start) / args.n * 1e6)
    off = statistics.median(per_save["off"])
    print(f"saves: {args.n} x {args.rounds} rounds per mode (interleaved); broker: {args.broker}")
    print(f"{'mode':<10} {'µs/save (median)':>17} {'added µs':>9} {'ratio':>6} {'queries/save':>13}")
    for mode in modes:
        med = statistics.median(per_save[mode])
        print(f"{mode:<10} {med:>17.1f} {med - off:>9.1f} {med / off:>6.2f} {len(queries[mode]):>13}")
    added_queries = len(queries["on/broker"]) - len(queries["off"])
    print(f"queries added by sync per save: {added_queries} (budget: 2)")
    print(
        "queries of one save with sync on:",
        *[" ".join(q.split())[:100] for q in queries["on/broker"]],
        sep="\n  ",
    )
    print(f"HTTP requests during {len(modes) * args.n * args.rounds} saves: {len(http_calls)}")
    print(f"outbox rows: {OutboxEntry.objects.count()} for {len(pool)} customers (one per object)")
    registry_added = run_registry(args, modes["on/broker"], http_calls)
    if args.broker.startswith("redis"):
        import redis

        redis.Redis.from_url(args.broker).flushdb()
    assert not http_calls and added_queries <= 2 and registry_added <= 2
    django_voucherify.reset_client()


def run_registry(args: argparse.Namespace, sync_on: tuple[Any, Any], http_calls: list[str]) -> int:
    """User saves with and without the registry link, interleaved; returns the queries it adds."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.test import override_settings
    from django.test.utils import CaptureQueriesContext

    from django_voucherify.models import Customer
    from django_voucherify.sync import registry

    User = get_user_model()
    users = list(
        User.objects.bulk_create(
            User(username=f"bench-user-{i}", email=f"u{i}@example.com") for i in range(args.pool)
        )
    )
    conf, app = sync_on
    app.set_current()

    def mapper(user: Any) -> dict[str, Any] | None:
        name = user.get_full_name()
        return {"source_id": f"user-{user.pk}", "email": user.email, "name": name, "user": user}

    def changed(i: int) -> None:
        user = users[i % len(users)]
        with transaction.atomic():
            user.first_name = f"Bench {i}"
            user.save()

    def unchanged(i: int) -> None:
        user = users[i % len(users)]
        with transaction.atomic():
            user.save()  # e.g. a login: last_login only, nothing the mapping reads

    modes = {
        "plain": (False, changed),
        "registry": (True, changed),
        "plain/same": (False, unchanged),
        "registry/same": (True, unchanged),
    }
    per_save: dict[str, list[float]] = {m: [] for m in modes}
    queries: dict[str, int] = {}
    with override_settings(VOUCHERIFY=conf):
        registry.connect(User, Customer, mapper)
        for i in range(len(users)):  # mirrors exist: measure updates, not first creations
            changed(i)
        registry.disconnect(User)
        for _ in range(args.rounds + 1):  # the first round also counts the queries
            for mode, (linked, save) in modes.items():
                if linked:
                    registry.connect(User, Customer, mapper)
                try:
                    if mode not in queries:
                        with CaptureQueriesContext(connection) as q:
                            save(10**6)
                        queries[mode] = len(q.captured_queries)
                        continue
                    start = time.perf_counter()
                    for i in range(args.n):
                        save(i)
                    per_save[mode].append((time.perf_counter() - start) / args.n * 1e6)
                finally:
                    registry.disconnect(User)
    print()
    print("User saves through sync.registry (Customer mirror), sync on, same broker:")
    print(
        f"{'mode':<14} {'µs/save (median)':>17} {'added µs':>9} {'ratio':>6} {'queries/save':>13} "
        f"{'added':>6}"
    )
    for mode in modes:
        base = "plain/same" if mode.endswith("/same") else "plain"
        med, off = statistics.median(per_save[mode]), statistics.median(per_save[base])
        print(
            f"{mode:<14} {med:>17.1f} {med - off:>9.1f} {med / off:>6.2f} {queries[mode]:>13} "
            f"{queries[mode] - queries[base]:>6}"
        )
    added = max(queries["registry"] - queries["plain"], queries["registry/same"] - queries["plain/same"])
    print(
        f"queries added by the registry path per save: {added} (budget: 2); "
        f"HTTP requests so far: {len(http_calls)}"
    )
    return added


if __name__ == "__main__":
    main()
