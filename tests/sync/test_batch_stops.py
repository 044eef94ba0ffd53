"""When a batch stops (sync/batches.py): answers and lease trouble that concern every row of a
batch, not the row that met them, end the batch and give its unsent rows back untried (no
attempt counted, no error written on them), and the rows given back are sent again."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from django_voucherify import conf
from django_voucherify.api.errors import ServerError
from django_voucherify.models import Customer, OutboxEntry, OutboxState, SyncState
from django_voucherify.sync import batches
from tests.support.outbox import pending_customers

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("status", [401, 403])
def test_wrong_keys_stop_the_batch_after_one_call(sandbox, status):
    # 401/403 say "fix the keys": the same answer for every row. Before, each row of the
    # batch made its call and counted an attempt (50 refused calls per batch, every row
    # walked towards `failed`), as an outage would have without the stop.
    ids = pending_customers("k-1", "k-2", "k-3")
    sandbox.faults.add(path="/v1/customers*", times=1, status=status)
    results = dict(batches.deliver_batch(ids[0], limit=3))
    assert list(results) == [ids[0]] and results[ids[0]].status == "retry"
    assert sandbox.calls.count("POST", "/v1/customers") == 1
    first = OutboxEntry.objects.get(pk=ids[0])
    for entry in OutboxEntry.objects.filter(pk__in=ids[1:]):
        assert (entry.state, entry.attempts, entry.lease_until) == (OutboxState.PENDING, 0, None)
        assert entry.due_at >= first.due_at


class _ClockAfterFirstCall:
    """The shared client, but the first customer upsert takes the batch's clock to the end of its
    lease (a slow Voucherify: each call answers, the batch's calls add up)."""

    def __init__(self, client: Any, monkeypatch: Any) -> None:
        self._client, self._patch, self.upserts = client, monkeypatch, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    @property
    def customers(self) -> Any:
        outer = self

        class Customers:
            def __getattr__(self, name: str) -> Any:
                return getattr(outer._client.customers, name)

            def create(self, payload: Any) -> Any:
                outer.upserts += 1
                answer = outer._client.customers.create(payload)
                if outer.upserts == 1:
                    left = conf.settings().longest_request() / 2
                    late = timezone.now() + timedelta(seconds=conf.settings().sync_lease_seconds - left)
                    outer._patch.setattr(timezone, "now", lambda: late)
                return answer

        return Customers()


def test_a_batch_whose_lease_runs_short_gives_its_untried_rows_back_and_they_are_sent(sandbox, monkeypatch):
    # A batch shares one lease among its rows (SYNC_LEASE_SECONDS, which check E012 holds
    # against ONE entry's calls). Before, once the batch's own calls had used it up, every
    # row left was recorded as a failed attempt ("not sent: the sender stalled"), its mirror
    # given that error, and after SYNC_MAX_ATTEMPTS batches like it the row was `failed`.
    from django_voucherify import client as shared_client

    ids = pending_customers("l-1", "l-2", "l-3")
    slow = _ClockAfterFirstCall(shared_client, monkeypatch)
    results = dict(batches.deliver_batch(ids[0], limit=3, client=slow))
    assert results[ids[0]].status == "sent"
    assert slow.upserts == 1
    for entry in OutboxEntry.objects.filter(pk__in=ids[1:]):
        assert entry.attempts == 0 and entry.last_error == ""
    for customer in Customer.objects.filter(source_id__in=["l-2", "l-3"]):
        assert customer.last_error == ""
    # Given back and asked for again: delivered (eager Celery runs the request inline).
    assert set(OutboxEntry.objects.filter(pk__in=ids).values_list("state", flat=True)) == {OutboxState.SYNCED}
    assert set(Customer.objects.values_list("sync_state", flat=True)) == {SyncState.SYNCED}
    assert all(sandbox.state.find_customer(s) for s in ("l-1", "l-2", "l-3"))


class _PoisonedCustomer:
    """The shared client, but Voucherify answers 500 to one customer's payload every time (its
    own failure, not an outage: the other rows' calls succeed)."""

    def __init__(self, client: Any, source_id: str) -> None:
        self._client, self._poison, self.upserts = client, source_id, []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    @property
    def customers(self) -> Any:
        outer = self

        class Customers:
            def __getattr__(self, name: str) -> Any:
                return getattr(outer._client.customers, name)

            def create(self, payload: Any) -> Any:
                outer.upserts.append(payload["source_id"])
                if payload["source_id"] == outer._poison:
                    raise ServerError(500, {"message": "Internal error"})
                return outer._client.customers.create(payload)

        return Customers()


def test_a_row_that_keeps_failing_does_not_hold_back_the_rows_claimed_with_it(sandbox):
    # A batch stops at a 5xx (Voucherify down: the rest waits for the failed row's retry). A
    # row whose OWN payload gets a 500 every time, lowest id of the due rows, was first in
    # every batch that claimed it: each of its retries gave the rest back for its next backoff
    # (5 s, 10 s, ... with the defaults), so the rows behind it waited for all its attempts.
    # Rows that failed before are now sent after the others: they wait one backoff at most.
    from django_voucherify import client as shared_client

    ids = pending_customers("poison", "fine-1", "fine-2", "fine-3")
    poisoned = _PoisonedCustomer(shared_client, "poison")
    first = dict(batches.deliver_batch(ids[0], limit=4, client=poisoned))
    assert first[ids[0]].status == "retry" and poisoned.upserts == ["poison"]  # an outage, as far as it knows
    OutboxEntry.objects.filter(state=OutboxState.PENDING).update(due_at=timezone.now())  # its retry is due
    second = dict(batches.deliver_batch(ids[0], limit=4, client=poisoned))
    assert [second[pk].status for pk in ids] == ["retry", "sent", "sent", "sent"]
    assert poisoned.upserts[1:] == ["fine-1", "fine-2", "fine-3", "poison"]
    assert OutboxEntry.objects.get(pk=ids[0]).attempts == 2


def test_an_enormous_retry_after_is_recorded_not_a_crash(sandbox):
    # Retry-After: 1e12 made the outbox's retry time overflow (OverflowError out of the
    # delivery task): the failure went unrecorded and the batch's rows stayed in progress
    # until their lease ran out, then again at every re-drive.
    ids = pending_customers("r-1", "r-2")
    sandbox.faults.add(path="/v1/customers*", status=429, retry_after=1e12)
    results = dict(batches.deliver_batch(ids[0], limit=2))
    assert results[ids[0]].status == "retry"
    latest = timezone.now() + timedelta(days=1, minutes=1)
    for entry in OutboxEntry.objects.filter(pk__in=ids):
        assert entry.state == OutboxState.PENDING and entry.due_at <= latest


def test_an_unexpected_error_on_one_row_is_that_rows_failure_and_the_batch_goes_on(sandbox, monkeypatch):
    # A bug on one row's data (here its payload) is that row's temporary failure, recorded with
    # its type; it neither stops the batch nor gives the other rows back.
    ids = pending_customers("u-1", "u-2", "u-3")
    real = Customer.to_voucherify

    def payload(self: Customer) -> Any:
        if self.source_id == "u-2":
            raise TypeError("unsupported operand")
        return real(self)

    monkeypatch.setattr(Customer, "to_voucherify", payload)
    results = dict(batches.deliver_batch(ids[0], limit=3))
    assert [results[i].status for i in ids] == ["sent", "retry", "sent"]
    broken = OutboxEntry.objects.get(pk=ids[1])
    assert (broken.state, broken.attempts, broken.last_error_key) == (OutboxState.PENDING, 1, "TypeError")
    assert broken.last_error.startswith("TypeError: unsupported operand (at ")
    assert Customer.objects.get(source_id="u-3").sync_state == SyncState.SYNCED
