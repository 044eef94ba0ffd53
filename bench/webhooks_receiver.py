"""Webhooks: events accepted per second by the receiver, and the time from a change in the
sandbox to the mirror updated by a real Celery worker, in one run.

1. Receiver (PostgreSQL, Django's WSGI handler through the test client, processing sent to an
   in-memory broker): N signed events posted to the receiver, next to the same posts to a floor
   view that only reads the body and answers 202; interleaved rounds, events/s and the ratio.
   Also counted for one event: SQL queries, and HTTP calls made in the request (must be 0).
2. Change to mirror: the sandbox served over HTTP sends its webhooks to this process's Django
   server (a thread); a Celery worker (subprocess, solo pool, Redis) processes them against the
   same database. K times: disable or enable a voucher through the client, wait until the
   mirror shows it; median and p95 latency.

Usage: ``python bench/webhooks_receiver.py [-n 2000] [--rounds 5] [-k 30] [--quick]``
(PostgreSQL and Redis needed; BENCH_DATABASE_URL picks the server).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _django import ROOT, django_db

BROKER = "redis://127.0.0.1:6379/12"
QUEUE = f"bench-webhooks-{os.getpid()}"
SECRET = "bench-webhook-secret"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=2000, help="events per contender per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("-k", type=int, default=30, help="changes timed end to end")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (CI: checks it still runs)")
    args = parser.parse_args()
    if args.quick:
        args.n, args.rounds, args.k = 40, 1, 3
    sys.path.insert(0, str(Path(__file__).parent))
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    with django_db():
        from django.conf import settings
        from django.test import override_settings

        conf = {**settings.VOUCHERIFY, "WEBHOOK_SECRETS": [SECRET]}
        with override_settings(ROOT_URLCONF="_webhook_urls", VOUCHERIFY=conf, ALLOWED_HOSTS=["*"]):
            ok = receiver(args)
            ok = end_to_end(args) and ok
    return 0 if ok else 1


_START = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)


def _event(i: int, code: str = "BENCH", active: bool = False) -> bytes:
    kind = "voucher.disabled" if not active else "voucher.enabled"
    # Recent (the receiver refuses events older than WEBHOOK_RETENTION_DAYS); the millisecond
    # varies with i as before.
    moment = _START + timedelta(milliseconds=i % 1000)
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    body = {
        "id": f"whs_{i:020d}",
        "type": kind,
        "created_at": stamp,
        "data": {"voucher": {"code": f"{code}-{i % 50}", "active": active, "updated_at": stamp}},
        "event": {"id": f"ev_bench_{i:020d}", "type": kind, "created_at": stamp},
    }
    return json.dumps(body, separators=(",", ":")).encode()


def receiver(args: argparse.Namespace) -> bool:
    import requests.adapters
    from celery import Celery
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from django_voucherify.models import WebhookEvent
    from django_voucherify.webhooks import sign

    app = Celery("bench-receiver", broker="memory://", set_as_current=True)
    app.set_default()
    app.conf.task_always_eager = False
    http_calls: list[str] = []
    real_send = requests.adapters.HTTPAdapter.send

    def counting(self: Any, request: Any, *a: Any, **k: Any) -> Any:
        http_calls.append(request.url)
        return real_send(self, request, *a, **k)

    requests.adapters.HTTPAdapter.send = counting  # type: ignore[method-assign]
    client = Client()
    seq = iter(range(10**9))

    def post(path: str) -> int:
        body = _event(next(seq))
        response = client.post(
            path, body, content_type="application/json", HTTP_X_VOUCHERIFY_SIGNATURE=sign(body, SECRET)
        )
        return response.status_code

    with CaptureQueriesContext(connection) as one:
        status = post("/hooks/")
    queries = len(one.captured_queries)
    rates: dict[str, list[float]] = {"receiver": [], "store": [], "floor": []}
    for _ in range(args.rounds):
        for name, path in (("receiver", "/hooks/"), ("store", "/store/"), ("floor", "/floor/")):
            start = time.perf_counter()
            statuses = {post(path) for _ in range(args.n)}
            rates[name].append(args.n / (time.perf_counter() - start))
            if statuses != {202}:
                print(f"{name}: unexpected statuses {statuses}")
                return False
    stored = WebhookEvent.objects.exclude(type="floor").count()
    requests.adapters.HTTPAdapter.send = real_send  # type: ignore[method-assign]
    rec, flo = statistics.median(rates["receiver"]), statistics.median(rates["floor"])
    sto = statistics.median(rates["store"])
    print(f"receiver: {args.n} events x {args.rounds} rounds per contender, interleaved (PostgreSQL)")
    print(f"  receiver  {rec:8.0f} events/s   (stores the event, sends its processing on commit)")
    print(f"  store     {sto:8.0f} events/s   (a view that INSERTs one row, committed, and answers 202)")
    print(f"  floor     {flo:8.0f} events/s   (a view that reads the body and answers 202)")
    print(
        f"  receiver/store = {rec / sto:.2f}, receiver/floor = {rec / flo:.2f}; SQL queries per event: "
        f"{queries}; HTTP calls in requests: {len(http_calls)}"
    )
    expected = 1 + args.n * args.rounds
    ok = status == 202 and stored == expected and not http_calls
    if not ok:
        print(f"  FAILED: first status {status}, stored {stored} of {expected}, HTTP calls {len(http_calls)}")
    return ok


def end_to_end(args: argparse.Namespace) -> bool:
    import redis
    from celery import Celery
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    import django_voucherify
    from django_voucherify.api import VoucherifyClient
    from django_voucherify.models import Voucher
    from django_voucherify.sandbox.app import Sandbox
    from django_voucherify.sandbox.server import start_in_thread
    from django_voucherify.sandbox.webhooks import WebhookSender
    from tests.support.workers import database_url

    class Quiet(WSGIRequestHandler):
        def log_message(self, *a: Any) -> None:
            pass

    web = ThreadedWSGIServer(("127.0.0.1", 0), Quiet)
    web.set_app(get_wsgi_application())
    threading.Thread(target=web.serve_forever, daemon=True).start()
    hook_url = f"http://127.0.0.1:{web.server_address[1]}/hooks/"
    sandbox = start_in_thread(Sandbox())
    sender = WebhookSender([hook_url], SECRET, backoff=0.05).attach(sandbox.sandbox)
    api = VoucherifyClient("sandbox-app-id", "sandbox-secret-key", api_url=sandbox.url)
    producer = Celery("bench-e2e", broker=BROKER, set_as_current=True)
    producer.set_default()  # the web server's threads send the processing tasks too
    producer.conf.update(task_default_queue=QUEUE, task_always_eager=False, broker_connection_retry=False)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.sync.worker_settings",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": BROKER,
        "CELERY_TASK_DEFAULT_QUEUE": QUEUE,
        "VOUCHERIFY_API_URL": sandbox.url,
        "PYTHONPATH": str(ROOT),
    }
    worker = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("celery")),
            "-A",
            "tests.sync.celery_app",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-Q",
            QUEUE,
            "-n",
            f"bench-webhooks-{os.getpid()}@{socket.gethostname()}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    latencies: list[float] = []
    try:
        api.vouchers.create(
            "E2E", {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 100}}
        )
        if not _wait(lambda: Voucher.objects.filter(code="E2E").exists(), 60):
            print("end to end: the worker never created the mirror (is Redis up?)")
            return False
        active = True
        for _ in range(args.k):
            active = not active
            start = time.perf_counter()
            (api.vouchers.enable if active else api.vouchers.disable)("E2E")
            if not _wait(lambda a=active: Voucher.objects.filter(code="E2E", active=a).exists(), 30):
                print("end to end: a change never reached the mirror")
                return False
            latencies.append((time.perf_counter() - start) * 1000)
    finally:
        worker.terminate()
        worker.wait(timeout=10)
        sender.close()
        sandbox.stop()
        web.shutdown()
        broker = redis.Redis.from_url(BROKER)
        for key in broker.scan_iter(match=f"{QUEUE}*"):
            broker.delete(key)
        django_voucherify.reset_client()
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
    print(
        f"change in the sandbox -> mirror updated by a real worker: {args.k} changes, "
        f"median {statistics.median(latencies):.0f} ms, p95 {p95:.0f} ms"
    )
    return True


def _wait(check: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.005)
    return False


if __name__ == "__main__":
    sys.exit(main())
