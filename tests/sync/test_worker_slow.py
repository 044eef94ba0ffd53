"""End to end with a REAL Celery worker process, the Redis broker, PostgreSQL and the sandbox
served over HTTP: saves are delivered; with the broker down or Voucherify down the outbox keeps
the work, and a re-drive delivers it once they are back.

Waits poll the database for a condition with a deadline; nothing asserts on timing.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path

import pytest
from celery import Celery
from django.core.management import call_command
from django.db import connection

from django_voucherify.models import Customer, Order, OutboxEntry, OutboxState, SyncState
from django_voucherify.sandbox.server import make_server
from tests.support.sandbox import point_at_server
from tests.support.workers import celery_app, database_url, wait_until, worker_command

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BROKER = os.environ.get("VOUCHERIFY_TEST_BROKER", "redis://127.0.0.1:6379/14")
DEAD_BROKER = "redis://127.0.0.1:1/14"  # nothing listens on port 1
# This run's own queue and worker name on the shared broker db: parallel runs never steal each
# other's tasks, and nothing here flushes a db another run uses.
# Per xdist worker too: each one has its own test database, so its tests need their own worker.
QUEUE = (
    f"voucherify-sync-tests-{os.environ.get('VOUCHERIFY_TEST_RUN_ID', os.getpid())}"
    f"{os.environ.get('PYTEST_XDIST_WORKER', '')}"
)
WORKER_NAME = f"{QUEUE}@%h"
ROOT = Path(__file__).resolve().parents[2]


def wait_for(condition: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    def describe() -> str:
        state = list(OutboxEntry.objects.values_list("source_id", "state", "attempts", "last_error"))
        mirrors = list(Customer.objects.values_list("source_id", "sync_state", "last_error"))
        return f"outbox={state} customers={mirrors}"

    wait_until(condition, timeout, what, describe)


@pytest.fixture
def live_sandbox(voucherify_sandbox_server, settings):
    return point_at_server(settings, voucherify_sandbox_server)


@pytest.fixture
def worker(live_sandbox, request) -> Iterator[Celery]:
    import redis

    marker = request.node.get_closest_marker("worker_env")  # extra environment of the worker

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.sync.worker_settings",
        "CELERY_TASK_DEFAULT_QUEUE": QUEUE,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": BROKER,
        "VOUCHERIFY_API_URL": live_sandbox.url,
        "VOUCHERIFY_SYNC_MAX_ATTEMPTS": "2",
        **(marker.args[0] if marker else {}),
    }
    log_dir = ROOT / ".pytest_cache"
    log = open(log_dir / "sync_worker.log", "w") if log_dir.is_dir() else None  # noqa: SIM115
    proc = subprocess.Popen(
        worker_command("tests.sync.celery_app", WORKER_NAME, QUEUE),
        cwd=ROOT,
        env=env,
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    live = celery_app(BROKER, QUEUE)
    try:
        hostname = WORKER_NAME.replace("%h", socket.gethostname())
        wait_for(
            lambda: proc.poll() is None and bool(live.control.ping(destination=[hostname], timeout=0.5)),
            30,
            "worker ready",
        )
        live.set_current()
        yield live
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if log:
            log.close()
        broker = redis.Redis.from_url(BROKER)
        for key in broker.scan_iter(match=f"{QUEUE}*"):
            broker.delete(key)


def synced(*source_ids: str) -> Callable[[], bool]:
    def check() -> bool:
        states = list(Customer.objects.filter(source_id__in=source_ids).values_list("sync_state", flat=True))
        return len(states) == len(source_ids) and set(states) == {SyncState.SYNCED}

    return check


# One entry per task: with batches, a task still in the queue could take the entry the dead
# broker left pending before the re-drive this test is about (test_delivery_scale.py covers batches).
@pytest.mark.worker_env({"VOUCHERIFY_SYNC_BATCH_SIZE": "1"})
def test_worker_delivers_and_redrive_recovers_from_broker_and_voucherify_outages(worker, live_sandbox):
    remote = live_sandbox.sandbox.state

    # 1. Normal operation: saves reach Voucherify through the worker.
    a = Customer.objects.create(source_id="w-a", name="A")
    order = Order.objects.create(source_id="w-o", amount=1000, customer=a)
    wait_for(synced("w-a"), what="customer delivered")
    wait_for(lambda: Order.objects.get(pk=order.pk).sync_state == SyncState.SYNCED, what="order delivered")
    order.status = "PAID"
    order.save()
    wait_for(lambda: (remote.find_order("w-o") or {}).get("status") == "PAID", what="status change")
    assert remote.find_customer("w-a")["name"] == "A"

    # 2. Broker down: the save succeeds, the outbox keeps the work, a re-drive delivers it.
    celery_app(DEAD_BROKER, QUEUE).set_current()
    b = Customer.objects.create(source_id="w-b", name="B")
    assert OutboxEntry.objects.get(object_pk=str(b.pk)).state == OutboxState.PENDING
    assert remote.find_customer("w-b") is None
    worker.set_current()
    out = StringIO()
    call_command("voucherify_redrive", stdout=out)
    assert "1 enqueued" in out.getvalue()
    wait_for(synced("w-b"), what="redrive after broker outage")

    # 3. Voucherify down: the worker records failures; after it is back a re-drive delivers.
    port = int(live_sandbox.url.rsplit(":", 1)[1])
    live_sandbox.sandbox.faults.add(path="*", drop=True)  # kept-alive connections die too
    live_sandbox.stop()
    c = Customer.objects.create(source_id="w-c", name="C")
    wait_for(lambda: Customer.objects.get(pk=c.pk).sync_state == SyncState.FAILED, what="failed state")
    entry = OutboxEntry.objects.get(object_pk=str(c.pk))
    assert entry.state == OutboxState.FAILED and entry.attempts == 2 and entry.last_error
    live_sandbox.sandbox.faults.clear()
    server = make_server(live_sandbox.sandbox, "127.0.0.1", port)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        call_command("voucherify_redrive", stdout=StringIO())
        wait_for(synced("w-a", "w-b", "w-c"), what="redrive after Voucherify outage")
        assert remote.find_customer("w-c")["name"] == "C"
        assert set(OutboxEntry.objects.values_list("state", flat=True)) == {OutboxState.SYNCED}
    finally:
        server.shutdown()
        server.server_close()


def worker_backends() -> set[int]:
    """PostgreSQL backends connected to the test database, other than this process's own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return {row[0] for row in cursor.fetchall()}


def test_worker_keeps_its_database_connection_across_tasks(worker, live_sandbox):
    # CONN_MAX_AGE (worker_settings, as docs/production.md advises): Celery's Django fix-up keeps
    # the connection between tasks and the app's task code never closes it, so every delivery
    # runs on the same backend (with a new connection per task none would be left between tasks).
    Customer.objects.create(source_id="conn-a")
    wait_for(synced("conn-a"), what="first delivery")
    first = worker_backends()
    for source_id in ("conn-b", "conn-c", "conn-d"):
        Customer.objects.create(source_id=source_id)
        wait_for(synced(source_id), what=f"delivery of {source_id}")
    assert first and worker_backends() == first
