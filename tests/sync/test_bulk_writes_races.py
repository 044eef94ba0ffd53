"""Bulk writes of mirrors against concurrent saves (PostgreSQL, two connections), and a property
test mixing every kind of write with deliveries: nothing a write changed is left unqueued.

Before, ``QuerySet.update()``, ``bulk_update()`` and ``bulk_create()`` queued nothing: the drain
at the end left Voucherify with the state before them.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_voucherify.models import (
    Customer,
    Order,
    OrderItem,
    OutboxAction,
    OutboxEntry,
    OutboxState,
    SyncState,
)
from django_voucherify.sync import outbox
from tests.support import properties
from tests.support.concurrency import wait_until_another_session_waits_for_a_lock


@pytest.fixture
def no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox, "enqueue", lambda *a, **k: True)


def version(source_id: str) -> int:
    return OutboxEntry.objects.get(source_id=source_id, action=OutboxAction.UPSERT).version


def in_thread(target: Any) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as exc:  # reported by the test
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def needs_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.fail("needs PostgreSQL (two connections, row locks)")


@pytest.mark.django_db(transaction=True)
def test_a_save_waiting_for_a_bulk_update_is_queued_after_it(no_broker):
    needs_postgresql()
    Customer.objects.create(source_id="race-1", name="orig")
    holding, release = threading.Event(), threading.Event()

    def bulk_update() -> None:
        with transaction.atomic():
            assert Customer.objects.filter(source_id="race-1").update(email="bulk@example.com") == 1
            holding.set()
            release.wait(30)

    def save() -> None:
        customer = Customer.objects.get(source_id="race-1")
        customer.name = "saved"
        customer.save(update_fields=["name"])  # waits for the update's row lock

    updater, errors = in_thread(bulk_update)
    assert holding.wait(30)
    saver, save_errors = in_thread(save)
    assert wait_until_another_session_waits_for_a_lock()
    release.set()
    updater.join(30)
    saver.join(30)
    assert errors == save_errors == []
    # Expected: both writes queued (created 1, update 2, save 3), both in the mirror.
    assert version("race-1") == 3
    customer = Customer.objects.get(source_id="race-1")
    assert (customer.name, customer.email, customer.sync_state) == ("saved", "bulk@example.com", "pending")


@pytest.mark.django_db(transaction=True)
def test_a_bulk_update_waiting_for_a_save_queues_what_it_updates_after_it(no_broker):
    """The update waits for the save's row lock, then evaluates its filter on the row the save
    committed: the row it then updates (or not) is the row it queues (or not)."""
    needs_postgresql()
    for source_id in ("race-a", "race-b", "race-c"):
        Customer.objects.create(source_id=source_id, name="orig")
    holding, release = threading.Event(), threading.Event()
    updated: list[int] = []

    def save() -> None:
        with transaction.atomic():
            a = Customer.objects.get(source_id="race-a")
            a.name = "renamed"  # no longer matches the update's filter
            a.save()
            b = Customer.objects.get(source_id="race-b")
            b.phone = "123"  # still matches
            b.save()
            holding.set()
            release.wait(30)

    def bulk_update() -> None:
        updated.append(Customer.objects.filter(name="orig").update(email="bulk@example.com"))

    saver, errors = in_thread(save)
    assert holding.wait(30)
    updater, update_errors = in_thread(bulk_update)
    assert wait_until_another_session_waits_for_a_lock()
    release.set()
    saver.join(30)
    updater.join(30)
    assert errors == update_errors == []
    assert updated == [2]
    assert {s: version(s) for s in ("race-a", "race-b", "race-c")} == {"race-a": 2, "race-b": 3, "race-c": 2}
    emails = dict(Customer.objects.values_list("source_id", "email"))
    assert emails == {"race-a": "", "race-b": "bulk@example.com", "race-c": "bulk@example.com"}


# --- Property: any mix of writes, then deliveries: Voucherify ends with every mirror. ---------
# Customers (saves, updates, bulk updates and creates, deletions, bookkeeping) and the items of
# one order (bulk-created, updated, bulk-updated: its order is queued each time).

IDS = [f"p-{i}" for i in range(5)]
subsets = st.lists(st.sampled_from(IDS), min_size=1, max_size=5, unique=True)
names = st.sampled_from(["Ann", "Bob", "Cy"])
operations = st.one_of(
    st.tuples(st.just("save"), st.sampled_from(IDS), names),
    st.tuples(st.just("update"), subsets, names),
    st.tuples(st.just("bulk_update"), subsets, names),
    st.tuples(st.just("bulk_create"), subsets, names),
    st.tuples(st.just("delete"), st.sampled_from(IDS), names),
    st.tuples(st.just("bookkeeping"), subsets, names),
    st.tuples(st.just("drain"), st.just([]), names),
    st.tuples(st.sampled_from(["items_create", "items_update", "items_bulk_update"]), st.just([]), names),
)


class Rollback(Exception):
    pass


class Shop:
    """Runs the writes; counts the outbox versions each object's row must reach; delivers."""

    def __init__(self) -> None:
        self.expected: dict[tuple[str, str], int] = {}  # (kind, object_pk) -> version of its row
        self.voucherify: dict[tuple[str, str], dict[str, Any]] = {}
        self.order = Order.objects.create(source_id="p-order")
        self.bump([self.order.pk], "order")

    def bump(self, pks: Any, kind: str = "customer") -> None:
        for pk in pks:
            key = (kind, str(pk))
            self.expected[key] = self.expected.get(key, 0) + 1

    def live(self, source_ids: Any) -> list[Customer]:
        return list(Customer.objects.filter(source_id__in=source_ids).order_by("pk"))

    def run(self, op: str, ids: Any, name: str) -> None:
        if op == "save":
            customer = Customer.objects.filter(source_id=ids).first() or Customer(source_id=ids)
            customer.name = name
            customer.save()
            self.bump([customer.pk])
        elif op == "update":
            live = self.live(ids)
            assert Customer.objects.filter(source_id__in=ids).update(name=name) == len(live)
            self.bump(c.pk for c in live)
        elif op == "bulk_update":
            live = self.live(ids)
            for customer in live:
                customer.name = name
            Customer.objects.bulk_update(live, ["name"])
            self.bump(c.pk for c in live)
        elif op == "bulk_create":
            present = {c.source_id for c in self.live(ids)}
            made = Customer.objects.bulk_create(
                [Customer(source_id=s, name=name) for s in ids if s not in present]
            )
            self.bump(c.pk for c in made)
        elif op == "delete":
            customer = Customer.objects.filter(source_id=ids).first()
            if customer is not None:
                self.bump([customer.pk])
                customer.delete()
        elif op == "bookkeeping":  # what a sender writes: queues nothing
            Customer.objects.filter(source_id__in=ids).update(
                sync_state=SyncState.SYNCED, synced_at=timezone.now(), last_error=""
            )
        elif op == "items_create":
            OrderItem.objects.bulk_create([OrderItem(order=self.order, product_source_id=name)])
            self.bump([self.order.pk], "order")
        elif op == "items_update":
            if OrderItem.objects.filter(order=self.order).update(quantity=len(name)):
                self.bump([self.order.pk], "order")
        elif op == "items_bulk_update":
            items = list(OrderItem.objects.filter(order=self.order))
            for item in items:
                item.price = len(name) * 100
            if OrderItem.objects.bulk_update(items, ["price"]):
                self.bump([self.order.pk], "order")
        else:
            self.drain()

    def drain(self) -> None:
        """Deliver every pending row in id order, reading the mirror as a sender does."""
        for entry in OutboxEntry.objects.filter(state=OutboxState.PENDING).order_by("pk"):
            model = Order if entry.kind == "order" else Customer
            mirror = model.objects.filter(pk=entry.object_pk).first()
            if entry.action == OutboxAction.UPSERT and mirror is not None:
                self.voucherify[(entry.kind, entry.source_id)] = mirror.to_voucherify()
            elif entry.action != OutboxAction.UPSERT:
                self.voucherify.pop((entry.kind, entry.source_id), None)
            OutboxEntry.objects.filter(pk=entry.pk).update(
                state=OutboxState.SYNCED, delivered_version=entry.version
            )
        Customer.objects.update(sync_state=SyncState.SYNCED)  # bookkeeping
        Order.objects.update(sync_state=SyncState.SYNCED)

    def check(self) -> None:
        rows = {
            (kind, pk): v for kind, pk, v in OutboxEntry.objects.values_list("kind", "object_pk", "version")
        }
        assert rows == self.expected  # every write queued once, none lost, none extra
        self.drain()
        mirrors = [*Customer.objects.all(), *Order.objects.all()]
        assert self.voucherify == {(m.sync_kind, m.source_id): m.to_voucherify() for m in mirrors}


@pytest.mark.django_db
@settings(
    max_examples=properties.examples(40, 1000),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(operations, min_size=1, max_size=12))
def test_any_mix_of_writes_then_a_drain_leaves_voucherify_equal_to_the_mirrors(no_broker, steps):
    try:
        with transaction.atomic():
            shop = Shop()
            for op, ids, name in steps:
                shop.run(op, ids, name)
            shop.check()
            raise Rollback  # the next example starts from an empty database
    except Rollback:
        pass


def _update_items() -> None:
    assert OrderItem.objects.filter(order__source_id="dl-1").update(quantity=5) == 1


def _save_item() -> None:
    item = OrderItem.objects.get()
    item.quantity = 5
    item.save()


def _delete_item() -> None:
    OrderItem.objects.get().delete()


def _delete_items() -> None:
    OrderItem.objects.filter(order__source_id="dl-1").delete()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("write", [_update_items, _save_item, _delete_item, _delete_items])
def test_an_item_write_and_an_order_event_replacing_its_items_do_not_deadlock(no_broker, write):
    """An order event or pull locks the order, then replaces its items (``bulk._pull_orders``).
    An item write (``update()``, a save, a deletion) locked the item (its own statement), then
    the order (to queue it): the two waited for each other and PostgreSQL killed one
    (``deadlock detected``). Each now locks the items' orders first, as the pull takes them."""
    needs_postgresql()
    from django_voucherify.sync import bulk

    order = Order.objects.create(source_id="dl-1")
    OrderItem.objects.create(order=order, product_source_id="p", quantity=1)
    OutboxEntry.objects.update(state=OutboxState.SYNCED)  # delivered: an event may overwrite it
    Order.objects.filter(pk=order.pk).update(sync_state=SyncState.SYNCED)
    item_update = write

    with transaction.atomic():
        Order.objects.select_for_update().get(pk=order.pk)  # the event's first lock
        updater, errors = in_thread(item_update)
        assert wait_until_another_session_waits_for_a_lock()
        copy = {"source_id": "dl-1", "id": "ord_1", "items": [{"source_id": "p", "quantity": 2}]}
        bulk.store_remote("orders", [copy])  # replaces the items
    updater.join(30)
    assert errors == []
    if write is _update_items:  # the event's items, then the update applied to them
        assert list(OrderItem.objects.values_list("quantity", flat=True)) == [5]
