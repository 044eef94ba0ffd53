"""Issue 13, the outbox at scale: a delivery's queries are counted and do not grow with the synced
history, every lookup it makes is an index scan, and a task's batch (``SYNC_BATCH_SIZE``)
keeps every guarantee: only due pending rows, id order, rows another sender holds skipped,
each row sent once by concurrent batches, a save during the send re-sends the newer state.
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
from django_voucherify.sync import claims, delivery
from django_voucherify.tasks import deliver_outbox_entry
from tests.support.outbox import index_names, pending_customers, plan_nodes, seed_history
from tests.support.sandbox import options

pytestmark = pytest.mark.django_db

#: Queries of one customer delivery: claim, unsent earlier deletions, read the customer, lock
#: the mirror, record the outbox row, update the mirror (plus the savepoint pair of the record
#: step's atomic block inside the test's transaction).
DELIVERY_QUERIES = 6
RECORD_SAVEPOINT = 2


def counted_delivery(entry_id: int) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        outcome = delivery.deliver(entry_id)
    assert outcome.status == "sent", outcome
    return [q["sql"] for q in ctx.captured_queries]


def test_queries_per_delivery_are_bounded_and_independent_of_the_history(sandbox):
    [small] = pending_customers("q-small")
    before = counted_delivery(small)
    seed_history(5000)
    [large] = pending_customers("q-large")
    after = counted_delivery(large)
    assert len(before) == len(after) == DELIVERY_QUERIES + RECORD_SAVEPOINT, "\n".join(after)
    assert {c["source_id"] for c in sandbox.state.customers.values()} == {"q-small", "q-large"}


def test_a_batch_costs_one_claim_and_the_per_row_queries(sandbox):
    seed_history(3000)
    ids = pending_customers(*(f"b-{i}" for i in range(5)))
    with CaptureQueriesContext(connection) as ctx:
        outcomes = delivery.deliver_due(10)
    assert [entry_id for entry_id, _ in outcomes] == ids
    assert {o.status for _, o in outcomes} == {"sent"}
    per_row = DELIVERY_QUERIES - 1 + RECORD_SAVEPOINT
    assert len(ctx.captured_queries) == 1 + len(ids) * per_row


def test_every_lookup_of_a_delivery_uses_an_index_made_for_it(sandbox):
    seed_history(20_000)
    table = connection.ops.quote_name(OutboxEntry._meta.db_table)
    pkey = f"{OutboxEntry._meta.db_table}_pkey"
    now = timezone.now()
    lock = "FOR UPDATE SKIP LOCKED"
    one = claims._CLAIM_ONE.format(t=table, returning=claims._RETURNING, lock=lock)
    one_params = ["in_progress", now, "t", 1, "pending", False, now, "in_progress", now]
    assert pkey in index_names(plan_nodes(one, one_params))
    due = claims._CLAIM_DUE_SKIP_LOCKED.format(t=table, returning=claims._RETURNING, nulls=claims._NULLS)
    due_params = ["pending", now, 50, "in_progress", now, "t", 50, "pending", now]
    assert "dv_outbox_pending" in index_names(plan_nodes(due, due_params))
    deletions = delivery.unsent_deletions("customer", "hist-10").exclude(pk=1).values_list("pk", flat=True)
    sql, params = deletions.query.sql_with_params()
    assert "dv_outbox_unsent_deletions" in index_names(plan_nodes(sql, params))
    sent = claims._MARK_SENT.format(t=table)
    assert pkey in index_names(plan_nodes(sent, [1, "synced", "pending", 1, now, None, 1, "t"]))


def test_batch_takes_only_due_pending_rows_in_id_order(sandbox):
    later = timezone.now() + timedelta(hours=1)
    due = pending_customers("d-1", "d-2", "d-3")
    [not_due] = pending_customers("d-later", due_at=later)
    failed, held, done = pending_customers("d-failed", "d-held", "d-done")
    OutboxEntry.objects.filter(pk=failed).update(state=OutboxState.FAILED, due_at=timezone.now())
    OutboxEntry.objects.filter(pk=held).update(state=OutboxState.IN_PROGRESS, lease_until=later)
    OutboxEntry.objects.filter(pk=done).update(state=OutboxState.SYNCED)
    outcomes = delivery.deliver_due(50)
    assert outcomes == [(pk, delivery.Outcome("sent")) for pk in due]
    assert [c["source_id"] for c in sandbox.state.customers.values()] == ["d-1", "d-2", "d-3"]
    states = dict(OutboxEntry.objects.values_list("pk", "state"))
    left = [states[pk] for pk in (not_due, failed, held, done)]
    assert left == ["pending", "failed", "in_progress", "synced"]


def test_task_sends_its_entry_and_a_batch_of_other_due_ones(sandbox):
    ids = pending_customers(*(f"t-{i}" for i in range(7)))
    with options(sandbox, SYNC_BATCH_SIZE=4):
        assert deliver_outbox_entry(ids[-1]) == "sent"
    states = dict(OutboxEntry.objects.values_list("pk", "state"))
    assert [states[pk] for pk in ids] == ["synced"] * 3 + ["pending"] * 3 + ["synced"]
    with options(sandbox, SYNC_BATCH_SIZE=1):
        assert deliver_outbox_entry(ids[3]) == "sent"
    states = dict(OutboxEntry.objects.values_list("pk", "state"))
    assert [states[pk] for pk in ids[3:6]] == ["synced", "pending", "pending"]


def test_a_save_during_a_batch_send_sends_the_newer_state(sandbox, django_capture_on_commit_callbacks):
    [entry_id] = pending_customers("s-1")
    [claim] = claims.claim_due(10)
    with django_capture_on_commit_callbacks(execute=True):
        customer = Customer.objects.get(source_id="s-1")
        customer.name = "Newer"
        customer.save()  # the row is in progress: it stays so, with a new version
    assert delivery.deliver_claimed(claim).status == "resend"
    entry = OutboxEntry.objects.get(pk=entry_id)
    assert entry.state == OutboxState.SYNCED and entry.delivered_version == entry.version == 2
    assert sandbox.state.find_customer("s-1")["name"] == "Newer"
    assert Customer.objects.get(pk=customer.pk).sync_state == SyncState.SYNCED


@pytest.mark.django_db(transaction=True)
def test_batch_claim_skips_rows_another_transaction_holds(sandbox):
    ids = pending_customers("l-1", "l-2", "l-3")
    locked, released = threading.Event(), threading.Event()

    def hold_row() -> None:
        try:
            with transaction.atomic():
                list(OutboxEntry.objects.select_for_update().filter(pk=ids[1]).values_list("pk"))
                locked.set()
                released.wait(30)  # a claim that waited for this lock would only get it now
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_row)
    holder.start()
    assert locked.wait(30)
    try:
        claimed = [c.entry_id for c in claims.claim_due(10)]
    finally:
        released.set()
        holder.join()
    assert claimed == [ids[0], ids[2]]
    assert OutboxEntry.objects.get(pk=ids[1]).state == OutboxState.PENDING


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_send_each_row_exactly_once(sandbox):
    ids = pending_customers(*(f"c-{i:02d}" for i in range(40)))
    errors: list[BaseException] = []

    def drain() -> None:
        try:
            while delivery.deliver_due(3):
                pass
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=drain) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert set(OutboxEntry.objects.filter(pk__in=ids).values_list("state", flat=True)) == {OutboxState.SYNCED}
    assert sandbox.calls.count("POST", "/v1/customers") == len(ids)
    assert len(sandbox.state.customers) == len(ids)


def test_the_delivery_task_keeps_the_database_connection(sandbox):
    [entry_id] = pending_customers("k-1")
    connection.ensure_connection()
    raw = connection.connection
    assert deliver_outbox_entry(entry_id) == "sent"
    assert connection.connection is raw


@pytest.mark.django_db(transaction=True)
def test_worker_connection_handlers_close_only_unusable_or_obsolete_connections():
    from types import SimpleNamespace

    from django_voucherify.tasks.connections import close_unusable_or_obsolete

    def task(name: str, eager: bool) -> Any:
        return SimpleNamespace(name=name, request=SimpleNamespace(is_eager=eager))

    ours, theirs = "django_voucherify.deliver_outbox_entry", "shop.send_mail"
    connection.ensure_connection()
    raw = connection.connection
    connection.close_at = None  # CONN_MAX_AGE = None: never too old
    close_unusable_or_obsolete(task(ours, eager=False))
    assert connection.connection is raw  # healthy and young: kept for the next task
    connection.close_at = 0.0  # past its CONN_MAX_AGE
    close_unusable_or_obsolete(task(theirs, eager=False))
    close_unusable_or_obsolete(task(ours, eager=True))
    assert connection.connection is raw  # not our task / an eager run: never touched
    close_unusable_or_obsolete(task(ours, eager=False))
    assert connection.connection is None  # too old: closed, the next query opens a new one
