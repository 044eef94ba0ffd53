"""Marking a push part's mirrors: one statement per part (PostgreSQL), the same outcome as the
portable slices, in the transaction that ends the part; polls and totals never read a part's
request body."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_voucherify.admin.jobs import _failed_rows_csv
from django_voucherify.jobs import push, push_mirrors, queueing_paused, results, runner
from django_voucherify.models import Customer, JobFailedRow, JobState, PartState, SyncState
from django_voucherify.sync import muted
from tests.support.outbox import index_names, plan_nodes, seed_history

pytestmark = pytest.mark.django_db(transaction=True)

CUSTOMERS = "django_voucherify_customer"


def make_customers(count: int) -> None:
    with muted():
        Customer.objects.bulk_create(Customer(source_id=f"mk-{i:04d}", name=f"N {i}") for i in range(count))


def marking_updates(queries: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith("UPDATE") and CUSTOMERS in q["sql"] and "synced" in q["sql"]
    ]


def test_a_part_is_marked_synced_in_one_statement_whatever_its_rows(sandbox, monkeypatch):
    monkeypatch.setattr(push, "IDS_PER_QUERY", 3)  # the slices' size: 20 rows would be 7 statements
    make_customers(20)
    with queueing_paused():
        job = push_mirrors("customers", chunk_bytes=100_000)
    assert job.parts.count() == 1
    with CaptureQueriesContext(connection) as queries:
        job = runner.drive(job, timeout=20)
    assert job.state == JobState.DONE, job.error
    assert Customer.objects.filter(sync_state=SyncState.SYNCED).count() == 20
    assert len(marking_updates(queries)) == 1, marking_updates(queries)


row = st.fixed_dictionaries(
    {
        "saved_after_read": st.booleans(),  # updated_at later than the push's reading: left alone
        "state": st.sampled_from([SyncState.PENDING, SyncState.FAILED, SyncState.SYNCED]),
        "sent": st.booleans(),  # in the part's ids
    }
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row, max_size=12), unknown=st.integers(0, 3), slice_size=st.integers(1, 4))
def test_one_statement_marks_what_the_portable_slices_mark(sandbox, monkeypatch, rows, unknown, slice_size):
    """The PostgreSQL statement and the portable ``IN`` slices (SQLite) agree on every row."""
    monkeypatch.setattr(push, "IDS_PER_QUERY", slice_size)
    read_from = timezone.now() - timedelta(minutes=5)
    now = timezone.now()
    ids = [f"hy-{i}" for i, r in enumerate(rows) if r["sent"]] + [f"gone-{i}" for i in range(unknown)]

    def outcome(mark: Any) -> tuple[int, dict[str, tuple[Any, ...]]]:
        with transaction.atomic():
            with muted():
                for i, r in enumerate(rows):
                    Customer.objects.create(source_id=f"hy-{i}", last_error="old", last_error_key="k")
                    stamp = read_from + timedelta(seconds=1 if r["saved_after_read"] else -60)
                    Customer.objects.filter(source_id=f"hy-{i}").update(
                        updated_at=stamp, sync_state=r["state"]
                    )
            count = mark(Customer, ids, read_from, now)
            states = {
                c.source_id: (c.sync_state, c.synced_at, c.last_error, c.last_error_key)
                for c in Customer.objects.filter(source_id__startswith="hy-")
            }
            transaction.set_rollback(True)
        return count, states

    one, sliced = outcome(push.mark_synced), outcome(push.mark_synced_in_slices)
    assert one == sliced
    count, states = one
    expected = {f"hy-{i}" for i, r in enumerate(rows) if r["sent"] and not r["saved_after_read"]}
    assert count == len(expected)
    assert {k for k, v in states.items() if v[0] == SyncState.SYNCED and v[1] == now} == expected


def test_a_failure_while_marking_leaves_the_part_unfinished_and_it_is_finished_again(sandbox, monkeypatch):
    """The part turns final in the transaction that marks its rows: a crash (here: the database
    failing) in between leaves neither, and the next poll finishes and marks it."""
    make_customers(6)
    with queueing_paused():
        job = push_mirrors("customers", chunk_bytes=100_000)
    real = push.mark_pushed

    def failing(part: Any) -> int:
        raise DatabaseError("connection lost while marking")

    monkeypatch.setattr(push, "mark_pushed", failing)
    with pytest.raises(DatabaseError):
        runner.drive(job, timeout=20)
    part = job.parts.get()
    assert part.state == PartState.SUBMITTED  # not DONE with its rows left pending
    assert set(Customer.objects.values_list("sync_state", flat=True)) == {SyncState.PENDING}
    monkeypatch.setattr(push, "mark_pushed", real)
    job = runner.drive(job, timeout=20)  # what the sweep does once the lease has run out
    assert job.state == JobState.DONE, job.error
    assert set(Customer.objects.values_list("sync_state", flat=True)) == {SyncState.SYNCED}


def test_job_totals_and_failed_rows_never_read_a_parts_body(sandbox):
    make_customers(5)
    with queueing_paused():
        job = push_mirrors("customers", chunk_bytes=100_000)
    part = job.parts.get()
    JobFailedRow.objects.bulk_create(
        JobFailedRow(job=job, part=part, source_id=f"mk-{i:04d}", reason="refused") for i in range(3)
    )
    with CaptureQueriesContext(connection) as queries:
        results.refresh_job(job.pk)
        sample = results.failed_rows_sample(job)
        csv_lines = list(_failed_rows_csv(job))
    assert [r["part"] for r in sample] == [1, 1, 1]
    assert len(csv_lines) == 4 and all(",1," in line for line in csv_lines[1:])
    read = [q["sql"] for q in queries.captured_queries if "django_voucherify_jobpart" in q["sql"]]
    assert read, "nothing read the parts?"
    for sql in read:
        assert (
            '"django_voucherify_jobpart"."body"' not in sql
            and '"django_voucherify_jobpart"."payload"' not in sql
        ), sql


def test_a_finished_part_finds_the_rows_delivered_meanwhile_without_scanning_the_history():
    # resend_overwritten reads the outbox entries of its kind delivered since its job began, once
    # per part: without an index for it, one scan of the whole synced history per part (93 ms
    # at 1M rows, PostgreSQL 15), so a push's cost grew with the outbox's history (issue 13).
    seed_history(20_000)
    recent = push.entries_delivered_since("customer", timezone.now() - timedelta(minutes=5))
    sql, params = recent.values_list("pk", "object_pk", "source_id", "action").query.sql_with_params()
    assert "dv_outbox_kind_delivered" in index_names(plan_nodes(sql, params))
