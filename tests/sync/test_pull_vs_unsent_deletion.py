"""A customer deleted here whose deletion has not reached Voucherify yet is still listed there:
a pull may not make its mirror again (nor a webhook event: tests/webhooks) (the deletion, sent
later, would leave a `synced` mirror of a customer Voucherify no longer has)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import transaction

from django_voucherify.models import Customer, OutboxEntry, OutboxState
from django_voucherify.sync import bulk, outbox
from tests.support.concurrency import run_in_threads, wait_until_another_session_waits_for_a_lock

pytestmark = pytest.mark.django_db


def _deleted_with_deletion_unsent(sandbox, monkeypatch, capture, source_id: str = "gone-1") -> None:
    with capture(execute=True):
        Customer.objects.create(source_id=source_id, name="Before")
    assert sandbox.state.find_customer(source_id) is not None
    with monkeypatch.context() as m:
        m.setattr(outbox, "enqueue", lambda *a, **k: False)  # broker down: the deletion waits
        with capture(execute=True):
            Customer.objects.get(source_id=source_id).delete()
    assert OutboxEntry.objects.get(action="delete").state == OutboxState.PENDING


def test_pull_does_not_bring_back_a_customer_whose_deletion_is_unsent(
    sandbox, monkeypatch, django_capture_on_commit_callbacks
):
    _deleted_with_deletion_unsent(sandbox, monkeypatch, django_capture_on_commit_callbacks)
    stats = bulk.pull("customers")
    assert stats["created"] == 0 and stats["unsent"] == 1
    assert not Customer.objects.filter(source_id="gone-1").exists()
    assert outbox.redrive(inline=True)["sent"] == 1
    assert sandbox.state.find_customer("gone-1") is None  # both sides agree: gone


def test_pull_still_creates_a_customer_deleted_and_delivered(sandbox, django_capture_on_commit_callbacks):
    """A deletion already sent blocks nothing: the customer listed now was made again there."""
    with django_capture_on_commit_callbacks(execute=True):
        Customer.objects.create(source_id="back-1", name="Before").delete()
    assert OutboxEntry.objects.get(action="delete").state == OutboxState.SYNCED
    sandbox.state.upsert_customer({"source_id": "back-1", "name": "Made again there"})
    assert bulk.pull("customers")["created"] == 1
    assert Customer.objects.get(source_id="back-1").name == "Made again there"


def pull_while_the_shop_holds(change: Callable[[], object]) -> dict[str, int]:
    """The customers' pull, run while the shop's ``change`` (in its own transaction, on its own
    connection) is not committed yet and the pull waits on its row; returns the pull's counts."""
    changed, stats = threading.Event(), {}

    def shop() -> None:
        with transaction.atomic():
            change()
            changed.set()
            assert wait_until_another_session_waits_for_a_lock()  # the pull waits on our row

    def puller() -> None:
        assert changed.wait(10)
        stats.update(bulk.pull("customers"))

    assert run_in_threads(shop, puller) == {}
    return stats


@pytest.mark.django_db(transaction=True)
def test_a_customer_created_here_while_a_pull_writes_it_is_kept_and_the_pull_goes_on(sandbox, monkeypatch):
    """PostgreSQL, two connections: the shop creates a customer the pull is about to create too
    (both insert the same source_id). Before: the pull died on the unique constraint
    (IntegrityError, the pages after it never read). Now its page is read again: the shop's
    customer is kept as a local change not sent yet, the others are created."""
    monkeypatch.setattr(outbox, "enqueue", lambda *a, **k: True)  # the shop's row stays pending
    for source_id in ("race-1", "race-2"):
        sandbox.state.upsert_customer({"source_id": source_id, "name": "There"})
    stats = pull_while_the_shop_holds(lambda: Customer.objects.create(source_id="race-1", name="Here"))
    assert (stats["created"], stats["unsent"]) == (1, 1)
    assert dict(Customer.objects.values_list("source_id", "name")) == {"race-1": "Here", "race-2": "There"}


@pytest.mark.django_db(transaction=True)
def test_a_deletion_committing_while_the_pull_waits_for_the_row_is_seen(sandbox, monkeypatch):
    """PostgreSQL, two connections: the pull locks the page's mirrors while the shop's deletion
    of one of them is not committed yet. The pull waits for it, then finds the row gone and its
    deletion in the outbox (read after the lock): the customer is not made again."""
    monkeypatch.setattr(outbox, "enqueue", lambda *a, **k: True)  # the deletion stays pending
    Customer.objects.create(source_id="race-d", name="Here")
    sandbox.state.upsert_customer({"source_id": "race-d", "name": "There"})
    stats = pull_while_the_shop_holds(lambda: Customer.objects.get(source_id="race-d").delete())
    assert (stats["created"], stats["unsent"]) == (0, 1)
    assert not Customer.objects.filter(source_id="race-d").exists()
