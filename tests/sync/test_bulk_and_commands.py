"""Bulk push (a job: chunking, resume, --since), pull, and the redrive command, on the in-process sandbox."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

import django_voucherify
from django_voucherify.api.batching import json_batches
from django_voucherify.jobs import push_rows
from django_voucherify.models import (
    Customer,
    Job,
    JobState,
    Order,
    OrderItem,
    OutboxEntry,
    OutboxState,
    PartState,
    SyncState,
)
from django_voucherify.sandbox.jobs import JOBS
from django_voucherify.sync import muted
from django_voucherify.tasks import deliver_outbox_entry
from tests.support import adversary
from tests.support.jobs import FAST
from tests.support.sandbox import options

pytestmark = pytest.mark.django_db

BULK = "/v1/customers/bulk/async"


def make_customers(n, prefix="b"):
    # bulk_create: no signals, like rows that existed before the app was installed
    return Customer.objects.bulk_create(
        Customer(
            source_id=f"{prefix}-{i:05d}",
            name=f"Customer {i}",
            email=f"c{i}@example.com",
            metadata={"n": i, "pad": "x" * 100},
        )
        for i in range(n)
    )


@pytest.fixture
def fast_jobs(sandbox):
    """The push is a job: poll its async actions quickly."""
    with options(sandbox, **FAST):
        yield sandbox


def wait_for_jobs(sandbox):
    if hasattr(sandbox, "wait_for_jobs"):  # async actions run in sandbox threads
        sandbox.wait_for_jobs()


def bodies(sandbox, path):
    out = []
    sandbox.response_listeners.append(
        lambda ex: (
            out.append(json.loads(ex.request.body))
            if ex.request.path == path and ex.response.status < 300
            else None
        )
    )
    return out


def test_chunks_respect_byte_and_item_limits():
    rows = [(i, {"source_id": f"s{i}", "pad": "x" * 90}) for i in range(1, 101)]
    groups = list(json_batches(rows, 1000))
    assert all(len(json.dumps(b).encode()) <= 1000 for _, b in groups)  # as the client sends it
    assert sum(len(b) for _, b in groups) == 100 and groups[-1][0] == 100
    assert [len(b) for _, b in json_batches(rows, 10**6, 30)] == [30, 30, 30, 10]


def test_push_customers_in_chunks_and_resume_after_interruption(fast_jobs, monkeypatch):
    sandbox = fast_jobs
    monkeypatch.setattr(push_rows, "PAGE_SIZE", 7)  # keyset pages that cut across parts
    make_customers(60)
    sent = bodies(sandbox, BULK)  # the answered requests (a lost answer's body is not here)
    applied: list[str] = []  # every item Voucherify applied, whatever happened to the answer
    run_bulk = JOBS["bulk_update"]
    monkeypatch.setitem(
        JOBS,
        "bulk_update",
        lambda state, action, payload: (
            applied.extend(i["source_id"] for i in payload["items"]),
            run_bulk(state, action, payload),
        ),
    )
    chunk_bytes = 4000
    # the first request is refused before it is processed: the part is sent again later
    sandbox.faults.add(path=BULK, method="POST", status=503, times=1, rate=1.0)
    calls = {"n": 0}

    def interrupt(ex):  # the third request is handled, but its answer lost: reconciled, not re-sent
        if ex.request.path == BULK:
            calls["n"] += 1
            if calls["n"] == 2:
                sandbox.faults.add(path=BULK, method="POST", drop=True, after=True, times=1)

    sandbox.response_listeners.append(interrupt)
    # eager Celery sends the first part at commit; the command stops there (interrupted)
    call_command("voucherify_sync", "customers", chunk_bytes=chunk_bytes, no_progress=True, no_wait=True)
    job = Job.objects.get()
    assert job.state == JobState.RUNNING and job.parts.filter(state=PartState.PENDING).exists()
    out = StringIO()
    call_command(
        "voucherify_sync", "customers", chunk_bytes=chunk_bytes, no_progress=True, here=True, stdout=out
    )
    assert "resuming" in out.getvalue() and Job.objects.count() == 1  # the same job, resumed
    job.refresh_from_db()
    assert job.state == JobState.DONE and (job.total_rows, job.done_count) == (60, 60), job.error
    wait_for_jobs(sandbox)
    assert sorted(applied) == sorted(Customer.objects.values_list("source_id", flat=True))  # each once
    assert all(len(json.dumps(b, separators=(",", ":")).encode()) < chunk_bytes for b in sent)
    per_row = len(json.dumps(Customer.objects.first().to_voucherify(), separators=(",", ":"))) + 1
    requests = job.parts.count()
    assert requests <= math.ceil(60 / ((chunk_bytes - 2) // (per_row + 4))) + 1
    assert requests < 60 / 5
    assert len(sandbox.state.customers) == 60


def test_a_mirror_too_large_for_one_request_is_a_failed_row_and_the_rest_is_pushed(fast_jobs):
    make_customers(3)
    Customer.objects.filter(source_id="b-00001").update(metadata={"pad": "x" * 5000})
    out = StringIO()
    with pytest.raises(CommandError, match="1 row"):
        call_command(
            "voucherify_sync", "customers", chunk_bytes=4000, no_progress=True, here=True, stdout=out
        )
    job = Job.objects.get()
    assert job.state == JobState.DONE and (job.done_count, job.failed_count) == (2, 1)
    assert "b-00001" in out.getvalue() and "over the 4000 byte limit" in out.getvalue()
    states = dict(Customer.objects.values_list("source_id", "sync_state"))
    assert states == {"b-00000": SyncState.SYNCED, "b-00001": SyncState.FAILED, "b-00002": SyncState.SYNCED}


def test_push_since_filter(fast_jobs):
    sandbox = fast_jobs
    make_customers(10)
    old = timezone.now() - timedelta(days=10)
    Customer.objects.update(updated_at=old)
    Customer.objects.filter(source_id__in=["b-00003", "b-00007"]).update(updated_at=timezone.now())
    sent = bodies(sandbox, BULK)
    since = (timezone.now() - timedelta(days=1)).date().isoformat()
    call_command("voucherify_sync", "customers", since=since, no_progress=True, here=True, stdout=StringIO())
    assert len(sent) == 1 and sorted(c["source_id"] for c in sent[0]) == ["b-00003", "b-00007"]


def test_push_orders_in_imports_of_at_most_2000(fast_jobs):
    sandbox = fast_jobs
    cust = Customer.objects.bulk_create([Customer(source_id="buyer")])[0]
    orders = Order.objects.bulk_create(
        Order(source_id=f"o-{i}", amount=100 + i, customer=cust, status="PAID") for i in range(2001)
    )
    OrderItem.objects.bulk_create(
        OrderItem(order=o, product_source_id="p", price=o.amount, amount=o.amount) for o in orders[:5]
    )
    sent = bodies(sandbox, "/v1/orders/import")
    err = StringIO()
    call_command("voucherify_sync", "orders", here=True, stdout=StringIO(), stderr=err)
    assert [len(b) for b in sent] == [2000, 1]
    assert sent[0][0]["items"][0]["source_id"] == "p"
    assert "100% 2001 done" in err.getvalue()  # the progress bar
    wait_for_jobs(sandbox)
    assert len(sandbox.state.orders) == 2001


def test_pull_customers_and_orders(sandbox):
    client = django_voucherify.get_client()
    for i in range(5):
        client.customers.create(
            {
                "source_id": f"p-{i}",
                "name": f"P{i}",
                "email": f"p{i}@example.com",
                "address": {"city": "Oslo"},
                "metadata": {"i": i},
            }
        )
    client.customers.create({"name": "anonymous"})
    with muted():  # an older copy of Voucherify's, no local change
        Customer.objects.bulk_create([Customer(source_id="p-0", name="stale")])
    client.orders.create(
        {
            "source_id": "po-1",
            "status": "PAID",
            "amount": 900,
            "customer": {"source_id": "p-1"},
            "items": [{"source_id": "sku-9", "related_object": "sku", "quantity": 3, "price": 300}],
        }
    )
    out = StringIO()
    call_command("voucherify_pull", "customers", no_progress=True, stdout=out)
    assert "5 created" not in out.getvalue() and "4 created, 1 updated, 1 skipped" in out.getvalue()
    c0 = Customer.objects.get(source_id="p-0")
    assert c0.name == "P0" and c0.city == "Oslo" and c0.metadata == {"i": 0}
    assert c0.sync_state == SyncState.SYNCED and c0.voucherify_id.startswith("cust_")
    call_command("voucherify_pull", "orders", no_progress=True, stdout=StringIO())
    order = Order.objects.get(source_id="po-1")
    assert order.status == "PAID" and order.amount == 900 and order.customer.source_id == "p-1"
    item = order.items.get()
    assert (item.sku_source_id, item.quantity, item.price, item.amount) == ("sku-9", 3, 300, 900)
    assert OutboxEntry.objects.count() == 0  # pulled data is not pushed back
    assert sandbox.calls.count("POST") == 7


@pytest.mark.parametrize("kind", ["customers", "orders"])
def test_a_pull_that_stops_short_fails_with_a_message_not_a_traceback(sandbox, kind):
    # A 2xx page without its list (a gateway's {}) is an InvalidResponseError: the command let
    # it out as a traceback; cron and the person running it get one line saying what happened.
    adversary.answer_gets(sandbox, f"/v1/{kind}", {})
    with pytest.raises(CommandError, match=f"The {kind} list was not walked to its end") as raised:
        call_command("voucherify_pull", kind, no_progress=True, stdout=StringIO())
    assert "without its" in str(raised.value)  # why: the client's own words


def test_redrive_delivers_pending_failed_and_stale(sandbox, django_capture_on_commit_callbacks, monkeypatch):
    # One entry per task: with a batch, the task of "r-failed" would take "r-pending" along
    # (test_batch.py); here each row must be left in its own state for the re-drive.
    with options(sandbox, SYNC_BATCH_SIZE=1):
        # broker down at save time -> pending
        with monkeypatch.context() as m:
            m.setattr(
                deliver_outbox_entry, "apply_async", lambda *a, **k: (_ for _ in ()).throw(OSError("down"))
            )
            with django_capture_on_commit_callbacks(execute=True):
                Customer.objects.create(source_id="r-pending")
        # Voucherify down -> failed after the retry budget
        rule = sandbox.faults.add(path="/v1/customers", method="POST", status=503)
        with django_capture_on_commit_callbacks(execute=True):
            Customer.objects.create(source_id="r-failed")
        # a worker died mid-send: in progress, lease expired
        with django_capture_on_commit_callbacks(execute=False):
            stale = Customer.objects.create(source_id="r-stale")
        OutboxEntry.objects.filter(object_pk=str(stale.pk)).update(
            state=OutboxState.IN_PROGRESS, lease_until=timezone.now() - timedelta(seconds=1)
        )
        states = dict(OutboxEntry.objects.values_list("source_id", "state"))
        assert states == {"r-pending": "pending", "r-failed": "failed", "r-stale": "in_progress"}
        assert sandbox.state.customers == {}
        rule.times = rule.hits  # Voucherify is back
        out = StringIO()
        call_command("voucherify_redrive", stdout=out)
        assert "3 entries found, 3 enqueued" in out.getvalue()
        assert set(OutboxEntry.objects.values_list("state", flat=True)) == {"synced"}
        assert {c["source_id"] for c in sandbox.state.customers.values()} == {
            "r-pending",
            "r-failed",
            "r-stale",
        }
        assert set(Customer.objects.values_list("sync_state", flat=True)) == {"synced"}


def test_redrive_now_and_skip_failed(sandbox, django_capture_on_commit_callbacks):
    rule = sandbox.faults.add(path="/v1/customers", method="POST", status=400)
    with django_capture_on_commit_callbacks(execute=True):
        Customer.objects.create(source_id="r-1")
    rule.times = rule.hits
    out = StringIO()
    call_command("voucherify_redrive", now=True, skip_failed=True, stdout=out)
    assert "0 entries found" in out.getvalue()
    call_command("voucherify_redrive", now=True, stdout=out)  # a 400 waits for an explicit re-sync
    assert "1 entries found" not in out.getvalue()
    call_command("voucherify_redrive", now=True, include_failed=True, stdout=out)
    assert "1 entries found, 1 sent" in out.getvalue()
    assert sandbox.state.find_customer("r-1") is not None
