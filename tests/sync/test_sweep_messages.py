"""The periodic sweep's messages (sync/outbox.py ``redrive``) scale with batches, not rows: a
backlog of due pending rows is one ``deliver_outbox_entry`` message per ``SYNC_BATCH_SIZE`` rows
(each task's batch claims its own row and the next due ones), a row stuck past its lease one
message of its own; nothing is left behind whatever order the messages run in.

Before: one message per due row at every sweep. Measured on this machine (Redis broker, 3,000
``send_task``: 5.2 ms each), a backlog of 1M rows (an hour-long outage of a busy shop) made a
sweep spend ~87 minutes enqueueing, while beat starts one every minute, each adding 1M more
messages whose tasks mostly find their row sent by another task's batch.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_voucherify import background, conf
from django_voucherify.models import OutboxEntry, OutboxState
from django_voucherify.sync import batches, outbox
from tests.support.outbox import pending_customers

pytestmark = pytest.mark.django_db


class HeldMessages:
    def __init__(self) -> None:
        self.messages: list[tuple[str, tuple[Any, ...]]] = []

    def send(self, name: str, args: Any = (), kwargs: Any = None, **options: Any) -> bool:
        self.messages.append((name, tuple(args)))
        return True

    def taken(self) -> list[int]:
        out = [args[0] for name, args in self.messages if name == outbox.DELIVER_TASK]
        self.messages.clear()
        return out


@pytest.fixture
def held(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> HeldMessages:
    broker = HeldMessages()
    monkeypatch.setattr(background, "send", broker.send)
    return broker


def run(message_ids: list[int]) -> None:
    for entry_id in message_ids:
        batches.deliver_batch(entry_id, ignore_schedule=True, limit=conf.settings().sync_batch_size)


def test_a_backlog_is_one_message_per_batch_and_a_stuck_row_one_of_its_own(sandbox, held):
    size = conf.settings().sync_batch_size
    ids = pending_customers(*(f"w-{i}" for i in range(2 * size + 3)))
    stuck = ids[5]
    OutboxEntry.objects.filter(pk=stuck).update(
        state=OutboxState.IN_PROGRESS, lease_until=timezone.now() - timedelta(seconds=1), lease_token="dead"
    )
    stats = outbox.redrive()
    messages = held.taken()
    assert (stats["found"], stats["enqueued"], stats["not_enqueued"]) == (len(ids), len(ids), 0)
    assert len(messages) == 4 and stuck in messages  # 2 * size + 2 pending rows: 3 batches
    run(messages)
    assert set(OutboxEntry.objects.values_list("state", flat=True)) == {OutboxState.SYNCED}
    assert sandbox.calls.count("POST", "/v1/customers") == len(ids)  # each row once


def test_messages_run_in_any_order_leave_nothing_behind(sandbox, held):
    size = conf.settings().sync_batch_size
    ids = pending_customers(*(f"r-{i}" for i in range(3 * size)))
    for _sweep in range(3):
        outbox.redrive()
        run(list(reversed(held.taken())))  # the last message first: its batch takes lower rows
        if not OutboxEntry.objects.exclude(state=OutboxState.SYNCED).exists():
            break
    assert set(OutboxEntry.objects.values_list("state", flat=True)) == {OutboxState.SYNCED}
    assert sandbox.calls.count("POST", "/v1/customers") == len(ids)


def test_a_sweep_holds_one_page_of_the_backlog_not_all_of_it(sandbox, held, monkeypatch):
    """A backlog of 1M due rows made each sweep hold every (id, state) pair, and the ids of the
    failed rows it took in one IN list: 158 MB of Python objects per sweep (tracemalloc peak,
    PostgreSQL, 1M pending rows). Now it reads them a page at a time (keyset) and resets the
    failed rows by their condition."""
    monkeypatch.setattr(outbox, "SWEEP_PAGE", 4, raising=False)
    ids = pending_customers(*(f"p-{i}" for i in range(10)))
    OutboxEntry.objects.filter(pk__in=ids[:5]).update(
        state=OutboxState.FAILED, due_at=timezone.now() - timedelta(seconds=1)
    )
    table = OutboxEntry._meta.db_table
    with CaptureQueriesContext(connection) as queries:
        stats = outbox.redrive()
    statements = [q["sql"] for q in queries.captured_queries if table in q["sql"]]
    reads = [sql for sql in statements if sql.startswith("SELECT")]
    assert stats["found"] == stats["enqueued"] == len(ids)
    assert len(reads) == 3 and all("LIMIT 4" in sql for sql in reads)
    assert not any(" IN (" in sql for sql in statements)  # no statement carries the backlog's ids
    run(held.taken())
    assert set(OutboxEntry.objects.values_list("state", flat=True)) == {OutboxState.SYNCED}
