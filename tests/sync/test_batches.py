"""A delivery task's batch (sync/batches.py): a few queries per BATCH whatever its size and the
history, index lookups only, and the per-row guarantees kept: a row taken over meanwhile is
not recorded by the batch, a mirror a save holds is never waited for inside the batch's
transaction, an upsert waits for the unsent deletion of its source_id even in the same batch.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_voucherify.models import Customer, OutboxEntry, OutboxState, SyncState
from django_voucherify.sync import batches, claims, delivery
from tests.support.outbox import index_names, pending_customers, plan_nodes, seed_history

pytestmark = pytest.mark.django_db

#: Queries of a batch of customer upserts: the claim, the unsent deletions, the customers, then
#: the record transaction (its savepoint pair inside the test's transaction): lock the mirrors,
#: lock the rows, update the rows, update the mirrors.
BATCH_QUERIES = 3 + 2 + 4


def counted_batch(ids: list[int]) -> int:
    with CaptureQueriesContext(connection) as ctx:
        results = batches.deliver_batch(ids[0], limit=len(ids))
    assert sorted(results) == [(pk, delivery.Outcome("sent")) for pk in ids]
    return len(ctx.captured_queries)


def test_a_batch_costs_the_same_queries_whatever_its_size_and_the_history(sandbox):
    small = counted_batch(pending_customers(*(f"s-{i}" for i in range(3))))
    large = counted_batch(pending_customers(*(f"l-{i}" for i in range(20))))
    seed_history(5000)
    after_history = counted_batch(pending_customers(*(f"h-{i}" for i in range(20))))
    assert small == large == after_history == BATCH_QUERIES
    assert len(sandbox.state.customers) == 43
    synced = Customer.objects.filter(sync_state=SyncState.SYNCED, voucherify_id__startswith="cust_")
    assert synced.count() == 43


def test_the_batch_lookups_use_indexes(sandbox):
    seed_history(20_000)
    table = connection.ops.quote_name(OutboxEntry._meta.db_table)
    now = timezone.now()
    sql = claims._CLAIM_BATCH.format(t=table, returning=claims._RETURNING, lock="FOR UPDATE SKIP LOCKED")
    params = ["in_progress", now, "t", 1, "pending", False, now, "in_progress", now, "pending", now, 1, 49]
    names = index_names(plan_nodes(sql, params))
    assert {f"{OutboxEntry._meta.db_table}_pkey", "dv_outbox_pending"} <= names
    claim = claims.Claim(1, "t", 1, "customer", "1", "hist-11", "", "upsert", 0, now)
    with CaptureQueriesContext(connection) as ctx:
        assert batches._waiting_for_deletions([claim]) == set()
    [lookup] = [q["sql"] for q in ctx.captured_queries]
    assert "dv_outbox_unsent_deletions" in index_names(plan_nodes(lookup, None))


def test_a_row_taken_over_during_the_batch_is_left_to_its_new_holder(sandbox, monkeypatch):
    first, second, third = pending_customers("t-1", "t-2", "t-3")
    real_send = delivery._send
    taken: list[Any] = []

    def send(client: Any, claim: Any, prefetched: Any = delivery.READ_NOW) -> Any:
        response = real_send(client, claim, prefetched)
        if claim.entry_id == third:  # meanwhile the second row's lease ran out, another sender took it
            OutboxEntry.objects.filter(pk=second).update(lease_until=timezone.now() - timedelta(seconds=1))
            taken.append(claims.claim(second))
        return response

    monkeypatch.setattr(delivery, "_send", send)
    results = dict(batches.deliver_batch(first, limit=3))
    assert results[first].status == results[third].status == "sent"
    assert results[second].status == "skipped"  # its late call may have landed: its holder resends
    entry = OutboxEntry.objects.get(pk=second)
    assert (entry.state, entry.lease_token) == (OutboxState.IN_PROGRESS, taken[0].token)
    assert entry.version == taken[0].version + 1  # the holder's success will send it again
    assert delivery.deliver_claimed(taken[0]).status == "resend"


@pytest.mark.django_db(transaction=True)
def test_a_mirror_a_save_holds_is_recorded_after_the_batch_never_inside_it(sandbox, monkeypatch):
    ids = pending_customers("m-1", "m-2", "m-3")
    held = Customer.objects.get(source_id="m-2").pk
    locked, release = threading.Event(), threading.Event()

    def hold_mirror() -> None:
        try:
            with transaction.atomic():
                list(Customer.objects.select_for_update().filter(pk=held).values_list("pk"))
                locked.set()
                release.wait(30)
        finally:
            connections.close_all()

    single_row: list[int] = []
    real_record = delivery._record_success

    def record(claim: Any, response: Any) -> Any:
        single_row.append(claim.entry_id)
        release.set()  # the single-row record waits for the save's lock: let it end now
        return real_record(claim, response)

    monkeypatch.setattr(delivery, "_record_success", record)
    holder = threading.Thread(target=hold_mirror)
    holder.start()
    assert locked.wait(30)
    try:
        results = dict(batches.deliver_batch(ids[0], limit=3))
    finally:
        release.set()
        holder.join()
    assert single_row == [ids[1]]
    assert {o.status for o in results.values()} == {"sent"} and sorted(results) == ids
    assert set(OutboxEntry.objects.values_list("state", flat=True)) == {OutboxState.SYNCED}
    assert set(Customer.objects.values_list("sync_state", flat=True)) == {SyncState.SYNCED}


def test_an_upsert_waits_for_the_deletion_of_its_source_id_in_the_same_batch(sandbox, monkeypatch):
    [old] = pending_customers("x-1")
    delivery.deliver(old)
    Customer.objects.filter(source_id="x-1").delete()  # the receivers record the deletion
    Customer.objects.create(source_id="x-1", name="New")
    deletion, upsert = OutboxEntry.objects.filter(source_id="x-1").order_by("pk").values_list("pk", flat=True)
    assert OutboxEntry.objects.get(pk=deletion).action == "delete"
    sandbox.calls.calls.clear()
    results = dict(batches.deliver_batch(upsert, limit=5))
    assert results[deletion].status == "sent" and results[upsert].status == "sent"
    methods = [m for m, p, _ in sandbox.calls.calls if p.startswith("/v1/customers")]
    assert methods == ["DELETE", "POST"]
    assert sandbox.state.find_customer("x-1")["name"] == "New"


def test_an_outage_stops_the_batch_and_gives_its_unsent_rows_back(sandbox):
    ids = pending_customers("o-1", "o-2", "o-3")
    sandbox.faults.add(path="/v1/customers*", times=1, status=503)
    results = dict(batches.deliver_batch(ids[0], limit=3))
    assert list(results) == [ids[0]] and results[ids[0]].status == "retry"
    assert sandbox.calls.count("POST", "/v1/customers") == 1  # not one failing call per row
    first = OutboxEntry.objects.get(pk=ids[0])
    for entry in OutboxEntry.objects.filter(pk__in=ids[1:]):
        assert (entry.state, entry.attempts, entry.lease_until) == (OutboxState.PENDING, 0, None)
        assert entry.due_at >= first.due_at  # not before the row that failed is retried
    later = max(OutboxEntry.objects.values_list("due_at", flat=True)) + timedelta(seconds=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(timezone, "now", lambda: later)
        retried = dict(batches.deliver_batch(ids[0], ignore_schedule=True, limit=3))
    assert sorted(retried) == ids and {o.status for o in retried.values()} == {"sent"}
