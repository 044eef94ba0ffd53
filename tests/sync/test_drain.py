"""One delivery message per burst (``SYNC_DRAIN_CACHE``, sync/drain.py): a burst of saves sends
one ``drain_outbox`` message, and no row is lost when that message is lost, when the worker dies
in the middle of the burst, or when producers commit while a drain runs (the drain clears the
flag before its first claim). Each customer is sent once: claims keep two drains apart.
"""

from __future__ import annotations

import queue
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import caches
from django.core.checks import run_checks
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_voucherify import background, conf
from django_voucherify.models import Customer, OutboxEntry, OutboxState, SyncState
from django_voucherify.sync import batches, claims, drain, outbox
from tests.support.drain import DRAIN_CACHES, Broker, run_drain, save_customer

pytestmark = pytest.mark.django_db(transaction=True)


def customer_posts(sandbox: Any) -> int:
    return sandbox.calls.count("POST", "/v1/customers")


def all_synced() -> bool:
    return not OutboxEntry.objects.exclude(state=OutboxState.SYNCED).exists()


def test_a_burst_of_saves_is_one_message_and_the_drain_sends_every_row(sandbox, broker):
    for i in range(10):
        save_customer(f"b-{i}")  # ten transactions, ten commits
    assert broker.taken() == [("drain",)]
    with CaptureQueriesContext(connection) as ctx:
        results = run_drain()
    assert sorted(o.status for _, o in results) == ["sent"] * 10
    assert all_synced() and customer_posts(sandbox) == 10
    assert Customer.objects.filter(sync_state=SyncState.SYNCED).count() == 10
    # 4 batches of 3 (10 rows, the last one short): the claim, deletions, customers, the record
    # (lock mirrors, lock rows, two updates: 4 + the test transaction's savepoint pair) each.
    assert len(ctx.captured_queries) == 4 * (3 + 4 + 2)
    save_customer("b-0", "again")  # the drain cleared the flag: the next save asks for a new one
    assert broker.taken() == [("drain",)]


def test_without_the_option_each_save_is_its_own_message(sandbox, monkeypatch):
    held = Broker()
    monkeypatch.setattr(background, "send", held.send)
    for i in range(3):
        save_customer(f"n-{i}")
    ids = sorted(OutboxEntry.objects.values_list("pk", flat=True))
    assert held.taken() == [(outbox.DELIVER_TASK, pk) for pk in ids]


def test_a_lost_drain_message_leaves_the_burst_to_the_sweep(sandbox, broker, monkeypatch):
    for i in range(4):
        save_customer(f"l-{i}")
    assert broker.taken() == [("drain",)]  # ... and the broker loses it
    for i in range(4, 7):
        save_customer(f"l-{i}")
    assert broker.taken() == []  # the flag is still set: nobody asks again before it expires
    assert OutboxEntry.objects.filter(state=OutboxState.PENDING).count() == 7
    stats = outbox.redrive()  # the periodic sweep: one task per due row
    assert stats["enqueued"] == 7
    for message in broker.taken():
        assert message[0] == outbox.DELIVER_TASK
        batches.deliver_batch(message[1], ignore_schedule=True, limit=3)
    assert all_synced() and customer_posts(sandbox) == 7
    # The flag has a lifetime: once it ran out, a save asks for a drain again.
    monkeypatch.setattr(drain, "FLAG_SECONDS", 1)
    caches["drain"].clear()
    save_customer("l-later")
    assert broker.taken() == [("drain",)]
    save_customer("l-later-2")
    assert broker.taken() == []
    time.sleep(1.2)  # the flag expires (the cache's own clock)
    save_customer("l-later-3")
    assert broker.taken() == [("drain",)]


def test_a_refused_drain_clears_the_flag_and_the_row_waits_for_the_sweep(sandbox, broker):
    broker.refuse = True
    save_customer("r-1")
    assert OutboxEntry.objects.get(source_id="r-1").state == OutboxState.PENDING
    broker.refuse = False
    save_customer("r-2")  # the refused one did not keep the flag: this save asks again
    assert broker.taken() == [("drain",)]
    run_drain()
    assert all_synced() and customer_posts(sandbox) == 2


def test_an_unreachable_cache_falls_back_to_one_task_per_row(sandbox, broker, monkeypatch):
    def down(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("cache server down")

    monkeypatch.setattr(caches["drain"], "add", down)
    customer = save_customer("c-1")
    entry = OutboxEntry.objects.get(object_pk=str(customer.pk))
    assert broker.taken() == [(outbox.DELIVER_TASK, entry.pk)]


def test_an_outage_stops_the_drain_after_one_call(sandbox, broker):
    for i in range(9):
        save_customer(f"u-{i}")
    assert broker.taken() == [("drain",)]
    sandbox.faults.add(path="/v1/customers*", times=100, status=503)
    results = run_drain()
    assert [o.retry_in is not None for _, o in results] == [True]
    assert customer_posts(sandbox) == 1  # not one timeout per batch of the burst
    assert OutboxEntry.objects.filter(state=OutboxState.SYNCED).count() == 0
    sandbox.faults.clear()
    # The rest is still due (the next drain, the failed row's retry or the sweep sends it), once
    # the retry delay the outage set on the tried rows has passed: the sweep counts only rows due
    # now (one message per batch of them), so without the wait its messages stood for fewer rows
    # than the loop below claims when ignoring the schedule (it failed on a fast run).
    OutboxEntry.objects.filter(due_at__isnull=False).update(due_at=timezone.now())
    outbox.redrive()
    for message in broker.taken():
        batches.deliver_batch(message[1], ignore_schedule=True, limit=3)
    assert all_synced() and customer_posts(sandbox) == 10


def test_a_worker_killed_mid_burst_loses_nothing_and_sends_each_row_once(sandbox, broker):
    for i in range(8):
        save_customer(f"k-{i}")
    assert broker.taken() == [("drain",)]
    real = batches.deliver_claimed_batch
    batches_run = []

    class Killed(BaseException):
        """The worker process dies (SIGKILL): nothing after this point runs."""

    def dies_in_the_second_batch(batch: list[Any], **kwargs: Any) -> Any:
        batches_run.append(len(batch))
        if len(batches_run) == 2:
            raise Killed  # its 3 rows are claimed, nothing sent, nothing recorded
        return real(batch, **kwargs)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(batches, "deliver_claimed_batch", dies_in_the_second_batch)
        with pytest.raises(Killed):
            run_drain()
    states = dict(OutboxEntry.objects.values_list("source_id", "state"))
    assert sorted(states.values()).count(OutboxState.SYNCED) == 3
    assert list(states.values()).count(OutboxState.IN_PROGRESS) == 3
    # The flag was cleared when the dead drain started: the next save asks for a new drain,
    # which sends the rows nobody claimed (not the dead worker's: their lease holds).
    save_customer("k-after")
    assert broker.taken() == [("drain",)]
    run_drain()
    assert OutboxEntry.objects.filter(state=OutboxState.IN_PROGRESS).count() == 3
    assert OutboxEntry.objects.filter(state=OutboxState.SYNCED).count() == 6
    # Their lease runs out: the sweep takes them.
    OutboxEntry.objects.filter(state=OutboxState.IN_PROGRESS).update(
        lease_until=timezone.now() - timedelta(seconds=1)
    )
    outbox.redrive()
    for message in broker.taken():
        batches.deliver_batch(message[1], ignore_schedule=True, limit=3)
    assert all_synced()
    assert customer_posts(sandbox) == 9  # each of the 9 customers once: none sent twice


def test_a_save_committed_after_the_drains_last_claim_gets_a_drain_of_its_own(sandbox, broker):
    """The order that keeps a row from being stranded: the drain clears the flag BEFORE its
    first claim. A save that commits after the last claim (a short batch: the drain ends after
    it), while the drain is still running, finds the flag clear and asks for another drain.
    (Clearing it at the end instead would let that save find the flag set, send nothing, and
    wait for the sweep.)"""
    save_customer("o-1")
    assert broker.taken() == [("drain",)]
    real_claim_due = claims.claim_due_noting_held

    def claim_then_a_save_commits(limit: int) -> tuple[list[Any], bool]:
        batch, held = real_claim_due(limit)
        if len(batch) < limit:
            committed = threading.Thread(target=lambda: (save_customer("o-late"), connection.close()))
            committed.start()
            committed.join()
        return batch, held

    with pytest.MonkeyPatch.context() as m:
        m.setattr(claims, "claim_due_noting_held", claim_then_a_save_commits)
        run_drain()
    assert OutboxEntry.objects.get(source_id="o-late").state == OutboxState.PENDING
    assert broker.taken() == [("drain",)]  # no sweep needed
    run_drain()
    assert all_synced() and customer_posts(sandbox) == 2


def test_concurrent_producers_and_drains_lose_nothing_and_send_each_row_once(sandbox, broker):
    """Four producer threads commit saves (each its own transaction) while two worker threads
    run every drain message as it comes (on PostgreSQL: real row locks, SKIP LOCKED claims).
    No sweep runs: every row is delivered by the drains alone, once."""
    producers, saves_each = 4, 15
    done = threading.Event()
    errors: list[BaseException] = []
    drains_run = [0]

    def produce(n: int) -> None:
        try:
            for i in range(saves_each):
                save_customer(f"p{n}-{i}")
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    def work() -> None:
        try:
            while not (done.is_set() and broker.messages.empty()):
                try:
                    message = broker.messages.get(timeout=0.05)
                except queue.Empty:
                    continue
                assert message == ("drain",), message
                run_drain()
                drains_run[0] += 1
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=work) for _ in range(2)]
    threads = [threading.Thread(target=produce, args=(n,)) for n in range(producers)]
    for thread in (*workers, *threads):
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    for thread in workers:
        thread.join()
    assert not errors, errors
    total = producers * saves_each
    assert OutboxEntry.objects.filter(state=OutboxState.SYNCED).count() == total, list(
        OutboxEntry.objects.exclude(state=OutboxState.SYNCED).values_list("source_id", "state")
    )
    assert customer_posts(sandbox) == total  # none sent twice
    assert len(sandbox.state.customers) == total
    assert 1 <= drains_run[0] < total  # fewer messages than saves


@pytest.mark.parametrize(
    ("caches_setting", "expected"),
    [
        ({"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}, "voucherify.E014"),
        (DRAIN_CACHES, "voucherify.W014"),
        (
            {
                "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
                "drain": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://x"},
            },
            None,
        ),
    ],
)
def test_the_drain_cache_is_checked(caches_setting, expected):
    values = {**conf.raw_settings(), "SYNC_DRAIN_CACHE": "drain"}
    with override_settings(CACHES=caches_setting, VOUCHERIFY=values):
        ids = {m.id for m in run_checks(tags=["voucherify"])}
    ours = {i for i in ids if i in ("voucherify.E014", "voucherify.W014")}
    assert ours == ({expected} if expected else set())


@pytest.mark.parametrize(
    ("caches_setting", "shown"),
    [
        ({**DRAIN_CACHES, "drain": "redis://:hunter2@cache:6379/0"}, "settings.CACHES['drain']"),
        ({**DRAIN_CACHES, "drain": ["redis://cache"]}, "settings.CACHES['drain']"),
        ({**DRAIN_CACHES, "drain": None}, "settings.CACHES['drain']"),
        ("redis://:hunter2@cache:6379/0", "settings.CACHES must"),
        (["drain"], "settings.CACHES must"),
    ],
)
def test_a_drain_cache_that_is_no_dict_is_a_check_error_not_a_crash(caches_setting, shown):
    # CACHES = {"drain": "redis://..."} (a URL where Django wants a dict) made the check crash
    # with an AttributeError, taking `manage.py check` (and every command running checks) down.
    values = {**conf.raw_settings(), "SYNC_DRAIN_CACHE": "drain"}
    with override_settings(CACHES=caches_setting, VOUCHERIFY=values):
        ours = [m for m in run_checks(tags=["voucherify"]) if m.id == "voucherify.E014"]
    assert len(ours) == 1 and shown in ours[0].msg and "must be a dict" in ours[0].msg
    assert "hunter2" not in ours[0].msg and "'BACKEND'" in ours[0].hint


def test_a_drain_cache_that_is_no_dict_falls_back_to_one_task_per_row(sandbox, broker):
    # Django cannot build CACHES["drain"] when it is no dict: the save's after-commit hook raised
    # (AttributeError) into the shop's view; the row now gets its own task, as without a drain.
    with override_settings(CACHES={**DRAIN_CACHES, "drain": "redis://cache"}):
        customer = save_customer("c-1")
    entry = OutboxEntry.objects.get(object_pk=str(customer.pk))
    assert broker.taken() == [(outbox.DELIVER_TASK, entry.pk)]


class RolledBack(Exception):
    """Raised inside :class:`HeldBySave`'s transaction to roll it back."""


class HeldBySave:
    """A save of ``source_id`` in another thread, its transaction open (the outbox row locked)
    until :meth:`end`, which commits it or rolls it back."""

    def __init__(self, source_id: str, name: str) -> None:
        self.holding, self.release = threading.Event(), threading.Event()
        self.commit = True
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, args=(source_id, name))
        self.thread.start()
        assert self.holding.wait(30)
        assert not self.errors, self.errors

    def _run(self, source_id: str, name: str) -> None:
        try:
            with transaction.atomic():
                Customer.objects.filter(source_id=source_id).update(name=name)
                save_customer(source_id, name)  # the outbox row: a new version, locked until the end
                self.holding.set()
                self.release.wait(30)
                if not self.commit:
                    raise RolledBack
        except RolledBack:
            pass
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)
            self.holding.set()
        finally:
            connection.close()

    def end(self, *, commit: bool) -> None:
        self.commit = commit
        self.release.set()
        self.thread.join()
        assert not self.errors, self.errors


def needs_row_locks() -> None:
    if not connection.features.has_select_for_update_skip_locked:
        pytest.skip("SQLite has no row locks: a claim never passes a row over")


def test_a_held_row_at_the_last_claim_asks_for_a_drain_shortly_and_it_sends_the_rolled_back_row(
    sandbox, broker
):
    """The save holding the row rolls back: no commit, no request of its own. The drain that
    passed the row over asked for another one, a moment later; that one sends the row."""
    needs_row_locks()
    save_customer("h-1")
    save_customer("h-2")
    assert broker.taken() == [("drain",)]
    broker.drains.clear()
    held = HeldBySave("h-1", "NEVER")
    results = run_drain()
    assert [OutboxEntry.objects.get(pk=pk).source_id for pk, _ in results] == ["h-2"]
    assert broker.drains == [({"held_rounds": 1}, drain.HELD_RETRY_SECONDS)]
    assert broker.taken() == [("drain",)]
    held.end(commit=False)
    save_customer("h-3")  # meanwhile: the flag is set, the queued drain will see it
    assert broker.taken() == []
    run_drain(held_rounds=1)
    assert all_synced() and customer_posts(sandbox) == 3  # h-1, h-2, h-3: each once
    assert sandbox.state.find_customer("h-1")["name"] == "H-1"  # the committed version
    assert broker.taken() == []  # nothing held any more: nobody asks again


def test_a_held_row_whose_save_commits_costs_one_drain_message(sandbox, broker):
    """The save holding the row commits: its request finds the flag the drain set again (one
    message for both), and the next drain sends the newer version."""
    needs_row_locks()
    save_customer("c-1")
    assert broker.taken() == [("drain",)]
    held = HeldBySave("c-1", "Newer")
    assert run_drain() == []
    held.end(commit=True)
    assert broker.taken() == [("drain",)]  # the drain's own request; the commit's found the flag
    run_drain(held_rounds=1)
    assert all_synced() and customer_posts(sandbox) == 1
    assert sandbox.state.find_customer("c-1")["name"] == "Newer"


def test_a_row_held_for_long_is_left_to_the_sweep_after_a_few_drains(sandbox, broker):
    """No hot loop: each drain that passes a held row over asks for one more, a moment later,
    and after ``HELD_ROUNDS`` of them in a row nobody asks; the sweep takes the row."""
    needs_row_locks()
    save_customer("s-1")
    assert broker.taken() == [("drain",)]
    broker.drains.clear()
    held = HeldBySave("s-1", "Later")
    for rounds in range(drain.HELD_ROUNDS + 1):
        assert run_drain(held_rounds=rounds) == []
    asked = [kwargs["held_rounds"] for kwargs, _ in broker.drains]
    assert asked == list(range(1, drain.HELD_ROUNDS + 1))
    assert {countdown for _, countdown in broker.drains} == {drain.HELD_RETRY_SECONDS}
    broker.taken()
    held.end(commit=False)
    assert broker.taken() == []  # a rollback asks for nothing: the row is the sweep's
    assert outbox.redrive()["enqueued"] == 1


def test_the_task_passes_its_round_on(sandbox, broker):
    needs_row_locks()
    from django_voucherify.tasks import drain_outbox

    save_customer("t-1")
    broker.taken()
    broker.drains.clear()
    held = HeldBySave("t-1", "Later")
    try:
        assert drain_outbox(held_rounds=2) == 0
    finally:
        held.end(commit=False)
    assert broker.drains == [({"held_rounds": 3}, drain.HELD_RETRY_SECONDS)]


def test_a_full_claim_or_a_claim_with_nothing_held_notes_nothing(sandbox, broker):
    needs_row_locks()
    for i in range(4):
        save_customer(f"f-{i}")
    held = HeldBySave("f-3", "Later")
    try:
        batch, passed_over = claims.claim_due_noting_held(2)  # full: the caller claims again
        assert (len(batch), passed_over) == (2, False)
        batch, passed_over = claims.claim_due_noting_held(2)  # short: f-3 was passed over
        assert ([c.source_id for c in batch], passed_over) == (["f-2"], True)
    finally:
        held.end(commit=False)
    batch, passed_over = claims.claim_due_noting_held(2)  # f-3, rolled back: due, free now
    assert ([c.source_id for c in batch], passed_over) == (["f-3"], False)
    assert claims.claim_due_noting_held(2) == ([], False)  # nothing left, nothing held
