"""Failure paths compare versions and claims as the success path does; the lease outlasts a send.

Each test stages a save (or another sender) landing while a call is in flight, through the
in-process sandbox: the save happens inside the HTTP exchange, between the claim and the answer.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from django.utils import timezone

from django_voucherify.checks import check_voucherify_settings
from django_voucherify.models import Customer, Order, OutboxEntry, OutboxState, SyncState
from django_voucherify.sync import delivery, outbox

pytestmark = pytest.mark.django_db

CUSTOMERS = "/v1/customers"


@pytest.fixture
def queue(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Enqueues are collected here instead of running (the test is the worker)."""
    queued: list[int] = []
    monkeypatch.setattr(outbox, "enqueue", lambda entry_id, **kw: queued.append(entry_id) or True)
    monkeypatch.setattr(delivery, "enqueue", lambda entry_id, **kw: queued.append(entry_id) or True)
    return queued


def during_next_call(sandbox: Any, action: Any) -> None:
    """Run ``action`` once, right after the sandbox handled the next request (before the client
    hears the answer): a save that lands while the call is in flight."""

    def listener(exchange: Any) -> None:
        sandbox.response_listeners.remove(listener)
        action()

    sandbox.response_listeners.append(listener)


def rename(model: Any, pk: int, **changes: Any) -> None:
    obj = model.objects.get(pk=pk)
    for field, value in changes.items():
        setattr(obj, field, value)
    obj.save()


def test_refusal_of_an_older_version_sends_the_newer_one(sandbox, queue):
    customer = Customer.objects.create(source_id="fv-1", name="bad")
    entry = OutboxEntry.objects.get()
    sandbox.faults.add(path=CUSTOMERS, method="POST", status=400, key="invalid_payload", times=1)
    during_next_call(sandbox, lambda: rename(Customer, customer.pk, name="good"))

    outcome = delivery.deliver(entry.pk)

    assert outcome.status == "resend", outcome
    entry.refresh_from_db()
    assert (entry.state, entry.version, entry.attempts) == (OutboxState.PENDING, 2, 0)
    assert entry.last_error_key == "invalid_payload"  # the refusal of version 1 is kept for the record
    assert Customer.objects.get().sync_state == SyncState.PENDING
    assert entry.pk in queue
    assert entry.pk in outbox.redrive_candidates()  # and a re-drive would take it too
    assert delivery.deliver(entry.pk).status == "sent"
    assert sandbox.state.find_customer("fv-1")["name"] == "good"
    customer.refresh_from_db()
    assert customer.sync_state == SyncState.SYNCED and customer.last_error == ""


def test_refusal_of_an_order_version_replaced_by_a_fixed_one(sandbox, queue):
    order = Order.objects.create(source_id="fv-o", status="BOGUS", amount=100)
    entry = OutboxEntry.objects.get()
    during_next_call(sandbox, lambda: rename(Order, order.pk, status="PAID"))

    assert delivery.deliver(entry.pk).status == "resend"  # the sandbox itself refused BOGUS
    assert delivery.deliver(entry.pk).status == "sent"
    remote = sandbox.state.find_order("fv-o")
    assert remote["status"] == "PAID"
    assert Order.objects.get().sync_state == SyncState.SYNCED


def test_refusal_of_the_current_version_still_fails(sandbox, queue):
    Customer.objects.create(source_id="fv-2", name="x")
    entry = OutboxEntry.objects.get()
    sandbox.faults.add(path=CUSTOMERS, method="POST", status=400, key="invalid_payload", times=1)
    assert delivery.deliver(entry.pk).status == "failed"
    entry.refresh_from_db()
    assert entry.state == OutboxState.FAILED and entry.due_at is None
    customer = Customer.objects.get()
    assert customer.sync_state == SyncState.FAILED and customer.last_error_key == "invalid_payload"


@pytest.mark.parametrize("status", [401, 403])
def test_wrong_keys_are_retried_by_the_redrive(sandbox, queue, status):
    """401/403 mean "fix the keys", not "this object is refused": once fixed, the re-drive sends."""
    Customer.objects.create(source_id=f"fv-k{status}")
    entry = OutboxEntry.objects.get()
    sandbox.faults.add(path=CUSTOMERS, method="POST", status=status, times=3)
    for _ in range(3):
        delivery.deliver(entry.pk, ignore_schedule=True)
    entry.refresh_from_db()
    assert entry.state == OutboxState.FAILED and entry.due_at is not None
    assert outbox.redrive(inline=True)["sent"] == 1
    assert sandbox.state.find_customer(f"fv-k{status}") is not None


class Clock:
    """``timezone.now`` that can jump forward (a process stalled that long)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.offset = timedelta()
        real = timezone.now
        monkeypatch.setattr(timezone, "now", lambda: real() + self.offset)

    def stall(self) -> None:
        self.offset += outbox.lease() + timedelta(seconds=1)


def test_a_sender_stalled_past_its_lease_does_not_send_its_stale_payload(sandbox, queue, monkeypatch):
    customer = Customer.objects.create(source_id="fv-s", name="old")
    entry = OutboxEntry.objects.get()
    clock = Clock(monkeypatch)
    real_payload = Customer.to_voucherify
    stalled = []

    def read_then_stall(self: Customer) -> dict[str, Any]:
        payload = real_payload(self)
        if not stalled:  # sender A read "old", then stalls; meanwhile a save and sender B
            stalled.append(True)
            clock.stall()
            rename(Customer, customer.pk, name="new")
            assert delivery.deliver(entry.pk, ignore_schedule=True).status == "sent"  # B sends "new"
        return payload

    monkeypatch.setattr(Customer, "to_voucherify", read_then_stall)
    outcome = delivery.deliver(entry.pk)  # A
    assert outcome.status == "skipped"
    assert sandbox.state.find_customer("fv-s")["name"] == "new"
    assert sandbox.calls.count("POST", CUSTOMERS) == 1  # only B's call
    entry.refresh_from_db()
    assert entry.state == OutboxState.SYNCED


def test_a_call_landing_after_the_lease_makes_the_row_send_again(sandbox, queue, monkeypatch):
    """Sender A's call left in time but reached Voucherify after sender B (who took the row
    over) sent a newer state: A's record step must not leave the row ``synced``."""
    customer = Customer.objects.create(source_id="fv-l", name="old")
    entry = OutboxEntry.objects.get()
    clock = Clock(monkeypatch)
    real_handle = sandbox.handle_environ
    delayed = []

    def handle(environ: dict[str, Any]) -> Any:
        if not delayed:  # A's request is on the wire; A's lease runs out, B sends "new"
            delayed.append(True)
            clock.stall()
            rename(Customer, customer.pk, name="new")
            assert delivery.deliver(entry.pk, ignore_schedule=True).status == "sent"
        return real_handle(environ)  # then A's "old" lands

    monkeypatch.setattr(sandbox, "handle_environ", handle)
    assert delivery.deliver(entry.pk).status == "resend"  # A
    assert sandbox.state.find_customer("fv-l")["name"] == "old"  # what A's late call did
    entry.refresh_from_db()
    assert entry.state == OutboxState.PENDING and entry.pk in queue
    assert delivery.deliver(entry.pk).status == "sent"
    assert sandbox.state.find_customer("fv-l")["name"] == "new"


def test_a_sender_losing_its_claim_during_a_refused_call_changes_nothing(sandbox, queue, monkeypatch):
    customer = Customer.objects.create(source_id="fv-r", name="old")
    entry = OutboxEntry.objects.get()
    clock = Clock(monkeypatch)
    real_handle = sandbox.handle_environ
    calls = []

    def handle(environ: dict[str, Any]) -> Any:
        calls.append(True)
        if len(calls) == 1:
            clock.stall()
            rename(Customer, customer.pk, name="new")
            assert delivery.deliver(entry.pk, ignore_schedule=True).status == "sent"
            sandbox.faults.add(path=CUSTOMERS, method="POST", status=400, times=1)  # A: refused
        return real_handle(environ)

    monkeypatch.setattr(sandbox, "handle_environ", handle)
    assert delivery.deliver(entry.pk).status == "skipped"
    entry.refresh_from_db()
    assert entry.state == OutboxState.SYNCED  # B's record stands; A's refusal is not written
    assert Customer.objects.get().sync_state == SyncState.SYNCED


# ---- the lease must outlast the longest send (voucherify.E012) --------------------------------

GOOD = {"APP_ID": "id", "SECRET_KEY": "key"}


def lease_errors(**options: Any) -> list[Any]:
    with override_settings(VOUCHERIFY={**GOOD, **options}):
        return [m for m in check_voucherify_settings() if m.id == "voucherify.E012"]


def timing(**options: Any) -> Any:
    from django_voucherify import conf

    with override_settings(VOUCHERIFY={**GOOD, **options}):
        return conf.settings()


def test_longest_send_follows_the_transport_settings():
    defaults = {"CONNECT_TIMEOUT": 3.05, "READ_TIMEOUT": 20.0, "MAX_RETRIES": 3, "RETRY_BUDGET": 20.0}
    assert timing(**defaults).longest_request() == pytest.approx(43.05)
    assert timing(**{**defaults, "MAX_RETRIES": 0}).longest_request() == pytest.approx(23.05)
    assert timing(**defaults).longest_send() == pytest.approx(215.25)  # 5 calls (a SKU moved)
    with pytest.raises(ImproperlyConfigured, match="READ_TIMEOUT"):  # no bound from a bad timeout
        timing(**{**defaults, "READ_TIMEOUT": "20"})


def test_defaults_pass_the_lease_check():
    assert lease_errors() == []


@pytest.mark.parametrize(
    "options",
    [
        {"SYNC_LEASE_SECONDS": 60},  # < 5 x (3.05 + 20 + 20)
        {"SYNC_LEASE_SECONDS": 215.25},  # equal is not enough
        {"READ_TIMEOUT": 100, "RETRY_BUDGET": 60},  # 5 x 163.05 > 300
        {"SYNC_LEASE_SECONDS": 75, "MAX_RETRIES": 0, "READ_TIMEOUT": 12},  # 5 x 15.05
    ],
)
def test_a_lease_not_exceeding_the_longest_send_is_refused(options):
    (error,) = lease_errors(**options)
    assert "SYNC_LEASE_SECONDS" in error.msg and "longest send" in error.msg
    assert "Raise SYNC_LEASE_SECONDS above" in error.hint
    with (
        override_settings(VOUCHERIFY={**GOOD, **options}),
        pytest.raises(ImproperlyConfigured, match="SYNC_LEASE_SECONDS"),
    ):
        from django_voucherify.conf import get_settings

        get_settings()


def test_a_lease_just_above_the_longest_send_is_accepted():
    assert lease_errors(SYNC_LEASE_SECONDS=76, MAX_RETRIES=0, READ_TIMEOUT=12) == []
