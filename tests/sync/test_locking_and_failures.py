"""A save and a sender never deadlock; any error while sending is recorded; re-drive policy."""

from __future__ import annotations

import logging
import threading
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError, transaction

import django_voucherify.sync.receivers as receivers
from django_voucherify.conf import settings as voucherify_settings
from django_voucherify.models import Customer, OutboxEntry, OutboxState, SyncState
from django_voucherify.sync import delivery, outbox
from django_voucherify.tasks import deliver_outbox_entry, redrive_outbox
from tests.support.concurrency import run_in_threads, wait_until_another_session_waits_for_a_lock

CUSTOMERS = "/v1/customers"


@pytest.mark.django_db(transaction=True)
def test_save_racing_the_senders_record_step_does_not_deadlock(sandbox, monkeypatch):
    """The user's save holds the mirror row and is about to write the outbox row while the sender
    records its result: both must take the mirror first, else PostgreSQL kills one of them."""
    monkeypatch.setattr(outbox, "enqueue", lambda *a, **k: True)  # leave the entry for the sender
    customer = Customer.objects.create(source_id="dl-1", name="A")
    entry = OutboxEntry.objects.get()
    requeued: list[int] = []
    monkeypatch.setattr(delivery, "enqueue", lambda entry_id, **kw: requeued.append(entry_id))
    user_holds_the_mirror = threading.Event()
    real_record_change = receivers.record_change

    def record_change_once_the_sender_blocks(instance, *args, **kwargs):
        user_holds_the_mirror.set()
        assert wait_until_another_session_waits_for_a_lock()
        return real_record_change(instance, *args, **kwargs)

    monkeypatch.setattr(receivers, "record_change", record_change_once_the_sender_blocks)
    outcomes = []

    def user_save():
        with transaction.atomic():
            obj = Customer.objects.get(pk=customer.pk)
            obj.name = "B"
            obj.save()  # UPDATE of the mirror row, then post_save writes the outbox row

    def sender():
        assert user_holds_the_mirror.wait(10)
        outcomes.append(delivery.deliver(entry.pk, ignore_schedule=True))  # sends "A", then records

    assert run_in_threads(user_save, sender) == {}
    assert [o.status for o in outcomes] == ["resend"], outcomes  # not a failure recording a deadlock
    entry.refresh_from_db()
    assert (entry.state, entry.version, entry.delivered_version, entry.last_error) == ("pending", 2, 1, "")
    assert requeued == [entry.pk]
    assert delivery.deliver(entry.pk).status == "sent"
    assert sandbox.state.find_customer("dl-1")["name"] == "B"
    assert Customer.objects.get().sync_state == SyncState.SYNCED


@pytest.mark.django_db
def test_unexpected_error_while_sending_is_recorded_as_temporary(
    sandbox, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        c = Customer.objects.create(source_id="boom")

    token = voucherify_settings().secret_key.reveal()

    def broken_payload(self):
        raise RuntimeError(f"payload bug near {token}")

    monkeypatch.setattr(Customer, "to_voucherify", broken_payload)
    with caplog.at_level(logging.INFO, logger="django_voucherify.sync"):
        outcome = delivery.deliver(OutboxEntry.objects.get().pk)
    assert outcome.status == "retry" and outcome.retry_in is not None
    entry = OutboxEntry.objects.get()
    assert entry.state == OutboxState.PENDING and entry.lease_until is None and entry.attempts == 1
    assert entry.last_error_key == "RuntimeError"
    assert entry.last_error.startswith("RuntimeError: payload bug near ******** (at ")
    assert "in broken_payload)" in entry.last_error
    c.refresh_from_db()
    assert c.last_error_key == "RuntimeError" and c.sync_state == SyncState.PENDING
    # Logged once, at ERROR, with the type and the place; no traceback (frame locals), no token.
    (record,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert record.levelno == logging.ERROR and record.exc_info is None
    assert "RuntimeError: payload bug near ********" in record.getMessage() and token not in caplog.text
    monkeypatch.undo()
    assert delivery.deliver(entry.pk, ignore_schedule=True).status == "sent"


@pytest.mark.django_db
def test_database_error_while_recording_is_recorded_not_left_in_progress(
    sandbox, monkeypatch, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        Customer.objects.create(source_id="db-err")

    def database_gone(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(delivery, "_record_success", database_gone)
    outcome = delivery.deliver(OutboxEntry.objects.get().pk)
    assert outcome.status == "retry"
    entry = OutboxEntry.objects.get()
    assert entry.state == OutboxState.PENDING and entry.last_error_key == "OperationalError"
    assert entry.due_at is not None


@pytest.mark.django_db
def test_periodic_redrive_retries_temporary_failures_only(sandbox, django_capture_on_commit_callbacks):
    rejected = sandbox.faults.add(path=CUSTOMERS, method="POST", status=400, key="invalid_payload", times=1)
    with django_capture_on_commit_callbacks(execute=True):
        Customer.objects.create(source_id="rejected")
    unavailable = sandbox.faults.add(path=CUSTOMERS, method="POST", status=503, times=3)
    with django_capture_on_commit_callbacks(execute=True):
        Customer.objects.create(source_id="unavailable")
    states = {e.source_id: (e.state, e.due_at is not None) for e in OutboxEntry.objects.all()}
    assert states == {"rejected": ("failed", False), "unavailable": ("failed", True)}
    assert rejected.hits == 1 and unavailable.hits == 3
    for _ in range(3):  # every 5 minutes: the 400 is never re-sent by itself
        assert redrive_outbox.apply().get()["found"] == (1 if _ == 0 else 0)
    assert rejected.hits == 1
    assert sandbox.state.find_customer("unavailable") is not None
    assert sandbox.state.find_customer("rejected") is None
    assert OutboxEntry.objects.get(source_id="rejected").state == OutboxState.FAILED
    out = StringIO()
    call_command("voucherify_redrive", now=True, stdout=out)
    assert "0 entries found" in out.getvalue()
    call_command("voucherify_redrive", now=True, include_failed=True, stdout=out)  # explicit re-sync
    assert "1 entries found, 1 sent" in out.getvalue()
    assert sandbox.state.find_customer("rejected") is not None


@pytest.mark.django_db
def test_redrive_stops_at_the_first_refused_enqueue(sandbox, monkeypatch, django_capture_on_commit_callbacks):
    attempts = []

    def broker_down(*args, **kwargs):
        attempts.append(args)
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(deliver_outbox_entry, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            Customer.objects.create(source_id=f"nb-{n}")
    attempts.clear()
    stats = outbox.redrive()
    assert len(attempts) == 1  # not once per row, each waiting for the broker's timeout
    assert stats == {"found": 3, "enqueued": 0, "sent": 0, "enqueue_failed": 1, "not_enqueued": 3}
    with pytest.raises(CommandError, match="3 entries not enqueued"):
        call_command("voucherify_redrive", stdout=StringIO())
    assert set(OutboxEntry.objects.values_list("state", flat=True)) == {"pending"}
