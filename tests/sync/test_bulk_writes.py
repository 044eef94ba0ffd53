"""Writes that send no ``post_save`` queue their outbox rows (the mirrors' querysets,
models/sync_state.py, models/orders.py): ``QuerySet.update()``, ``bulk_create()`` and
``bulk_update()`` of customers, orders and their items. Before, they changed the mirror and
queued nothing (its ``sync_state`` even stayed ``synced``): Voucherify kept the old state.

Here: exactly the rows written are queued, as a save queues them, in the write's transaction;
the app's bookkeeping updates and writes inside ``muted()`` queue nothing; the outbox rows are
written a chunk at a time. The concurrent cases and the property test: test_bulk_writes_races.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import FieldDoesNotExist
from django.db import NotSupportedError, OperationalError, connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_voucherify.models import (
    Customer,
    Order,
    OrderItem,
    OutboxAction,
    OutboxEntry,
    OutboxState,
    Product,
    SyncState,
)
from django_voucherify.sync import muted, outbox


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The broker: the entry ids handed to it (nothing runs)."""
    ids: list[int] = []

    def enqueue(entry_id: int, **kwargs: Any) -> bool:
        ids.append(entry_id)
        return True

    monkeypatch.setattr(outbox, "enqueue", enqueue)
    return ids


def delivered(*objs: Any) -> None:
    """The objects' rows and mirrors as a sender leaves them after a delivery."""
    for obj in objs:
        OutboxEntry.objects.filter(kind=obj.sync_kind, object_pk=str(obj.pk)).update(
            state=OutboxState.SYNCED, delivered_version=F("version"), remote_id=f"v-{obj.pk}"
        )
        type(obj).objects.filter(pk=obj.pk).update(sync_state=SyncState.SYNCED, voucherify_id=f"v-{obj.pk}")


def versions(model: type[Any] = Customer) -> dict[str, int]:
    """``{source_id: version}`` of the rows of ``model``'s kind."""
    kind = model.sync_kind
    return dict(OutboxEntry.objects.filter(kind=kind).values_list("source_id", "version"))


def customers(*source_ids: str) -> list[Customer]:
    made = [Customer.objects.create(source_id=s, name=s) for s in source_ids]
    delivered(*made)
    return made


@pytest.mark.django_db
def test_update_of_a_sent_field_queues_exactly_the_rows_it_changed(sent):
    a, _b, _c = customers("u-a", "u-b", "u-c")
    before = timezone.now()
    assert Customer.objects.filter(source_id__in=["u-a", "u-b"]).update(name="Changed") == 2
    # Expected: a and b queued once more (version 2, pending, their Voucherify id kept), c not.
    assert versions() == {"u-a": 2, "u-b": 2, "u-c": 1}
    rows = {e.source_id: e for e in OutboxEntry.objects.all()}
    assert rows["u-a"].state == OutboxState.PENDING and rows["u-c"].state == OutboxState.SYNCED
    assert rows["u-a"].action == OutboxAction.UPSERT and rows["u-a"].remote_id == f"v-{a.pk}"
    mirrors = {m.source_id: m for m in Customer.objects.all()}
    assert mirrors["u-a"].sync_state == SyncState.PENDING and mirrors["u-a"].updated_at >= before
    assert mirrors["u-c"].sync_state == SyncState.SYNCED and mirrors["u-c"].updated_at < before
    # No row, as Django's update() says; an unknown field, Django's own error.
    assert (
        Customer.objects.none().update(name="x") == Customer.objects.filter(pk__in=[]).update(name="x") == 0
    )
    with pytest.raises(FieldDoesNotExist):
        Customer.objects.update(no_such_field="x")
    assert versions() == {"u-a": 2, "u-b": 2, "u-c": 1}


@pytest.mark.django_db
def test_update_through_a_related_filter_and_a_related_manager_queues_the_orders(sent):
    (buyer,) = customers("rel-buyer")
    orders = [Order.objects.create(source_id=f"rel-{i}", customer=buyer, amount=i) for i in range(3)]
    delivered(*orders)
    assert Order.objects.filter(customer__source_id="rel-buyer", amount__gte=1).update(status="PAID") == 2
    assert buyer.orders.filter(amount=0).update(metadata={"k": 1}) == 1
    assert versions(Order) == {"rel-0": 2, "rel-1": 2, "rel-2": 2}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [
        {"sync_state": SyncState.SYNCED, "synced_at": "now", "last_error": "", "last_request_id": ""},
        {"sync_state": SyncState.FAILED, "last_error": "refused", "last_error_key": "k"},
        {"sync_state": SyncState.PENDING},  # an item's receiver, push re-sends, take-overs
        {"remote_payload": {"id": "x"}, "voucherify_id": "v-x"},  # a sender's record
        {"updated_at": "now"},  # tests and pushes move the stamp
    ],
)
def test_bookkeeping_updates_queue_nothing_and_one_more_column_queues(sent, fields):
    bookkept, changed = customers("bk-1", "bk-2")
    now = timezone.now()
    values = {k: now if v == "now" else v for k, v in fields.items()}
    assert Customer.objects.filter(pk=bookkept.pk).update(**values) == 1
    bookkept.refresh_from_db()
    Customer.objects.bulk_update([bookkept], list(values))
    # The same write with one column a save would send is a shop change.
    Customer.objects.filter(pk=changed.pk).update(**values, description="d")
    assert versions() == {"bk-1": 1, "bk-2": 2}
    assert OutboxEntry.objects.get(source_id="bk-1").state == OutboxState.SYNCED


@pytest.mark.django_db
def test_the_apps_own_marking_queues_nothing(sent):
    """The push's marking on SQLite goes through ``objects.update``: a row it marks synced
    stays synced; a row changed by ``update()`` before it is pending."""
    from django_voucherify.jobs.push import mark_synced_in_slices

    _marked, changed = customers("mk-1", "mk-2")
    Customer.objects.filter(pk=changed.pk).update(name="New")
    now = timezone.now()
    assert mark_synced_in_slices(Customer, ["mk-1"], now, now) == 1
    assert versions() == {"mk-1": 1, "mk-2": 2}


@pytest.mark.django_db
def test_writes_inside_muted_queue_nothing_and_keep_the_state(sent):
    (customer,) = customers("mu-1")
    with muted():
        Customer.objects.filter(pk=customer.pk).update(name="From Voucherify")
        customer.name = "Again"
        Customer.objects.bulk_update([customer], ["name"])
        Customer.objects.bulk_create([Customer(source_id="mu-2", sync_state=SyncState.SYNCED)])
        OrderItem.objects.bulk_create(
            [OrderItem(order=Order.objects.create(source_id="mu-o"), product_source_id="p")]
        )
    assert versions() == {"mu-1": 1}
    assert not OutboxEntry.objects.filter(kind="order").exists()
    assert set(Customer.objects.values_list("sync_state", flat=True)) == {SyncState.SYNCED}
    # Out of muted(), the same writes queue.
    Customer.objects.filter(pk=customer.pk).update(name="Shop")
    OrderItem.objects.bulk_create([OrderItem(order=Order.objects.get(source_id="mu-o"))])
    assert versions() == {"mu-1": 2} and versions(Order) == {"mu-o": 1}


@pytest.mark.django_db
def test_bulk_create_queues_one_row_per_object(sent):
    made = Customer.objects.bulk_create(
        [Customer(source_id=f"bc-{i}", name="N", sync_state=SyncState.SYNCED) for i in range(3)]
    )
    rows = {e.object_pk: e for e in OutboxEntry.objects.all()}
    assert set(rows) == {str(c.pk) for c in made}
    assert {(e.source_id, e.version, e.action, e.state) for e in rows.values()} == {
        (f"bc-{i}", 1, OutboxAction.UPSERT, OutboxState.PENDING) for i in range(3)
    }
    assert set(Customer.objects.values_list("sync_state", flat=True)) == {SyncState.PENDING}


@pytest.mark.django_db
def test_bulk_create_updating_conflicts_queues_the_rows_created_and_updated(sent):
    customers("bu-0")
    Customer.objects.bulk_create(
        [Customer(source_id="bu-0", name="New"), Customer(source_id="bu-1", name="One")],
        update_conflicts=True,
        unique_fields=["source_id"],
        update_fields=["name"],
    )
    assert versions() == {"bu-0": 2, "bu-1": 1}
    assert OutboxEntry.objects.get(source_id="bu-0").remote_id.startswith("v-")  # kept


@pytest.mark.django_db
def test_bulk_create_ignoring_conflicts_is_refused_unless_muted(sent):
    with pytest.raises(NotSupportedError, match="muted"):
        Customer.objects.bulk_create([Customer(source_id="ig-1")], ignore_conflicts=True)
    assert not Customer.objects.exists()
    with muted():
        Customer.objects.bulk_create([Customer(source_id="ig-1")], ignore_conflicts=True)
    assert not OutboxEntry.objects.exists()


@pytest.mark.django_db
def test_bulk_update_queues_each_row_it_updated_and_not_a_deleted_one(sent):
    a, b, gone = customers("bb-a", "bb-b", "bb-gone")
    stale = Customer.objects.get(pk=gone.pk)
    gone.delete()  # queued as a deletion (version 2)
    for obj in (a, b, stale):
        obj.name = "Bulk"
    assert Customer.objects.bulk_update([a, b, stale], ["name"]) == 2
    assert versions() == {"bb-a": 2, "bb-b": 2, "bb-gone": 2}
    # Expected: the deletion stays a deletion (an upsert would make the customer again).
    assert OutboxEntry.objects.get(source_id="bb-gone").action == OutboxAction.DELETE
    assert a.sync_state == SyncState.PENDING
    assert Customer.objects.get(pk=a.pk).sync_state == SyncState.PENDING


@pytest.mark.django_db
def test_products_written_in_bulk_are_queued(sent):
    made = Product.objects.bulk_create([Product(source_id="pr-1", name="P")])
    Product.objects.filter(pk=made[0].pk).update(price=100)
    assert OutboxEntry.objects.get(kind="product").version == 2


@pytest.mark.django_db
def test_a_placeholder_product_written_in_bulk_is_no_longer_one(sent):
    """A save of a product's own values clears ``placeholder`` (its body is its source id only,
    else); a bulk write does too, or the name it wrote would never be sent."""
    with muted():  # as the registry makes one for a SKU whose product is not mapped
        product = Product.objects.create(source_id="ph-1")
        Product.objects.filter(pk=product.pk).update(placeholder=True)
    Product.objects.filter(pk=product.pk).update(name="Real name")
    product.refresh_from_db()
    assert not product.placeholder and product.to_voucherify()["name"] == "Real name"
    assert OutboxEntry.objects.get(kind="product").version == 1


@pytest.mark.django_db
def test_items_written_in_bulk_queue_their_orders(sent):
    first, second, untouched = (Order.objects.create(source_id=f"it-{i}") for i in range(3))
    OrderItem.objects.create(order=untouched, product_source_id="p")
    delivered(first, second, untouched)
    items = OrderItem.objects.bulk_create(
        [OrderItem(order=first, product_source_id="p", quantity=q) for q in (1, 2)]
    )
    assert versions(Order) == {"it-0": 2, "it-1": 1, "it-2": 2}  # it-2: its item's save
    assert Order.objects.get(pk=first.pk).sync_state == SyncState.PENDING

    OrderItem.objects.filter(order=first, quantity=2).update(quantity=3)
    assert versions(Order) == {"it-0": 3, "it-1": 1, "it-2": 2}

    items[0].price = 5
    OrderItem.objects.bulk_update(items[:1], ["price"])
    assert versions(Order) == {"it-0": 4, "it-1": 1, "it-2": 2}

    # Moved to another order: both bodies changed.
    OrderItem.objects.filter(pk=items[1].pk).update(order=second)
    assert versions(Order) == {"it-0": 5, "it-1": 2, "it-2": 2}
    assert OrderItem.objects.filter(order=untouched).update(quantity=1) == 1
    assert versions(Order)["it-2"] == 3


@pytest.mark.django_db(transaction=True)
def test_deliveries_are_requested_after_commit_one_message_per_batch(sent, settings):
    settings.VOUCHERIFY = {**settings.VOUCHERIFY, "SYNC_BATCH_SIZE": 50}
    with transaction.atomic():
        Customer.objects.bulk_create([Customer(source_id=f"msg-{i:03d}") for i in range(120)])
        assert sent == []  # nothing before the commit
    ids = sorted(OutboxEntry.objects.values_list("pk", flat=True))
    # One message per SYNC_BATCH_SIZE rows: its task's batch claims the next due ones.
    assert sent == [ids[0], ids[50], ids[100]]


@pytest.mark.django_db(transaction=True)
def test_a_drain_is_asked_for_once(sent, monkeypatch):
    from django_voucherify.sync import drain

    asked: list[int] = []
    monkeypatch.setattr(drain, "request", lambda: asked.append(1) or True)
    Customer.objects.bulk_create([Customer(source_id=f"dr-{i}") for i in range(30)])
    Customer.objects.update(name="x")
    assert asked == [1, 1] and sent == []


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_write_leaves_no_row_and_enqueues_nothing(sent, settings):
    # A message per row (the bulk writes of one transaction share one per SYNC_BATCH_SIZE rows).
    settings.VOUCHERIFY = {**settings.VOUCHERIFY, "SYNC_BATCH_SIZE": 1}
    (customer,) = customers("rb-1")
    sent.clear()  # the save's

    class Undo(Exception):
        pass

    def writes() -> None:
        Customer.objects.filter(pk=customer.pk).update(name="Lost")
        Customer.objects.bulk_create([Customer(source_id="rb-2")])
        OrderItem.objects.bulk_create([OrderItem(order=Order.objects.get_or_create(source_id="rb-o")[0])])

    with pytest.raises(Undo), transaction.atomic():
        writes()
        raise Undo
    assert versions() == {"rb-1": 1} and not OutboxEntry.objects.filter(kind="order").exists()
    assert sent == []
    with transaction.atomic():
        writes()
    assert versions() == {"rb-1": 2, "rb-2": 1} and versions(Order) == {"rb-o": 2}
    # After the commit, each row's delivery asked for (the order's twice: by its save, then by
    # its items' bulk write; a second message finds it sent).
    assert set(sent) == set(OutboxEntry.objects.values_list("pk", flat=True))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("write", ["update", "bulk_update", "bulk_create", "items"])
def test_a_failed_outbox_insert_undoes_the_write_in_autocommit(sent, monkeypatch, write):
    (customer,) = customers("fail-1")
    order = Order.objects.create(source_id="fail-o")
    assert connection.get_autocommit()

    def down(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(outbox, "_upsert_rows", down, raising=False)  # (absent before: no error)
    with pytest.raises(OperationalError):
        if write == "update":
            Customer.objects.filter(pk=customer.pk).update(name="Lost")
        elif write == "bulk_update":
            customer.name = "Lost"
            Customer.objects.bulk_update([customer], ["name"])
        elif write == "bulk_create":
            Customer.objects.bulk_create([Customer(source_id="fail-2")])
        else:
            OrderItem.objects.bulk_create([OrderItem(order=order, product_source_id="p")])
    assert list(Customer.objects.values_list("source_id", "name")) == [("fail-1", "fail-1")]
    assert not OrderItem.objects.exists()


@pytest.mark.django_db
def test_outbox_rows_are_inserted_a_chunk_at_a_time(sent, monkeypatch):
    """Queries grow by one per chunk of rows, not one per row."""
    monkeypatch.setattr(outbox, "ROWS_PER_INSERT", 10)
    counts = {}
    for size in (20, 40):
        Customer.objects.all().delete()
        made = Customer.objects.bulk_create([Customer(source_id=f"q{size}-{i}") for i in range(size)])
        for obj in made:
            obj.name = "Renamed"
        with CaptureQueriesContext(connection) as update:
            Customer.objects.bulk_update(made, ["name"])
        with CaptureQueriesContext(connection) as create:
            Customer.objects.bulk_create([Customer(source_id=f"q{size}-new-{i}") for i in range(size)])
        outbox_inserts = [q for q in update.captured_queries if OutboxEntry._meta.db_table in q["sql"]]
        assert len(outbox_inserts) == size // 10
        counts[size] = (len(update), len(create))
    # One UPDATE (Django's bulk_update, RETURNING) and one INSERT of mirrors, plus 1 per chunk.
    assert counts == {20: (1 + 2, 1 + 2), 40: (1 + 4, 1 + 4)}


@pytest.mark.django_db
def test_sync_disabled_turns_the_state_pending_as_a_save_does_and_queues_nothing(sent, settings):
    settings.VOUCHERIFY = {**settings.VOUCHERIFY, "SYNC_ENABLED": False}
    made = Customer.objects.bulk_create([Customer(source_id="off-1", sync_state=SyncState.SYNCED)])
    assert Customer.objects.get().sync_state == SyncState.PENDING
    Customer.objects.update(sync_state=SyncState.SYNCED)
    Customer.objects.update(name="x")
    assert Customer.objects.get().sync_state == SyncState.PENDING
    assert not OutboxEntry.objects.exists() and made[0].pk


@pytest.mark.django_db
def test_a_large_update_queues_every_row_in_bounded_memory(sent):
    """The rows of an ``UPDATE ... RETURNING`` are queued a chunk at a time (PostgreSQL): read at
    once, 20,000 rows held 10 MB of tuples (tracemalloc peak; 49 MB for 100,000)."""
    import tracemalloc

    size = 20_000
    with muted():
        Customer.objects.bulk_create((Customer(source_id=f"big-{i}") for i in range(size)), batch_size=5000)
    tracemalloc.start()
    try:
        assert Customer.objects.update(name="Renamed") == size
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert OutboxEntry.objects.count() == size
    assert peak < 5_000_000, f"{peak / 1e6:.1f} MB"


@pytest.mark.django_db
@pytest.mark.parametrize("model", [Customer, OrderItem])
def test_updates_django_refuses_are_refused_before_anything_is_written(sent, model):
    """The querysets build their own ``UPDATE ... RETURNING``: they refuse what Django's update()
    refuses. Before, ``a.union(b).update()`` updated ``a``'s rows only (and said 1) and
    ``distinct("pk").update()`` updated every row."""
    if model is Customer:
        rows = customers("cq-a", "cq-b")
        changes: dict[str, Any] = {"name": "Changed"}
    else:
        order = Order.objects.create(source_id="cq-o")
        rows = [OrderItem.objects.create(order=order, product_source_id=f"cq-{i}") for i in range(2)]
        changes = {"quantity": 7}
    before = list(model.objects.order_by("pk").values_list(*changes))
    queued = OutboxEntry.objects.count()
    union = model.objects.filter(pk=rows[0].pk).union(model.objects.filter(pk=rows[1].pk))
    with pytest.raises(NotSupportedError, match="union"):
        union.update(**changes)
    with pytest.raises(TypeError, match="distinct"):
        model.objects.distinct("pk").update(**changes)
    assert list(model.objects.order_by("pk").values_list(*changes)) == before
    assert OutboxEntry.objects.count() == queued


@pytest.mark.django_db
def test_bulk_create_updating_conflicts_turns_the_rows_it_updated_pending(sent):
    """An upsert updates an existing row with ``update_fields`` only: its ``sync_state`` stayed
    ``synced`` (and a placeholder product stayed one, its new name never sent) though the row
    changed and was queued."""
    (existing,) = customers("up-0")
    with muted():
        placeholder = Product.objects.create(source_id="up-p", placeholder=True, sync_state=SyncState.SYNCED)
    Customer.objects.bulk_create(
        [Customer(source_id="up-0", name="New")],
        update_conflicts=True,
        unique_fields=["source_id"],
        update_fields=["name"],
    )
    Product.objects.bulk_create(
        [Product(source_id="up-p", name="Real")],
        update_conflicts=True,
        unique_fields=["source_id"],
        update_fields=["name"],
    )
    existing.refresh_from_db()
    placeholder.refresh_from_db()
    assert (existing.name, existing.sync_state, existing.voucherify_id) == (
        "New",
        SyncState.PENDING,
        f"v-{existing.pk}",
    )
    assert (placeholder.name, placeholder.placeholder, placeholder.sync_state) == (
        "Real",
        False,
        SyncState.PENDING,
    )
    assert placeholder.to_voucherify()["name"] == "Real"


@pytest.mark.django_db
def test_another_receiver_of_mirrors_written_reads_the_rows_and_they_are_queued(sent):
    """``mirrors_written`` is public (a shop may audit bulk writes): the rows it carries are read
    by every receiver. Before, they came as an iterator read once: a receiver connected before
    the app's left the update committed and pending with no outbox row (never sent)."""
    from django_voucherify.models.sync_state import mirrors_written

    a, b = customers("rx-a", "rx-b")
    seen: list[Any] = []

    def audit(sender: Any, signal: Any, using: str, rows: Any = (), chunks: Any = (), **kwargs: Any) -> None:
        # ``rows`` (now) or ``chunks`` (before: an iterator of lists): a receiver reading them all.
        seen.extend(row[0] for row in rows)
        seen.extend(row[0] for chunk in chunks for row in chunk)

    mirrors_written.connect(audit, weak=False, dispatch_uid="test-audit")
    # First in line, as a shop app listed before django_voucherify in INSTALLED_APPS would be.
    mirrors_written.receivers.insert(0, mirrors_written.receivers.pop())
    mirrors_written.sender_receivers_cache.clear()
    try:
        assert Customer.objects.filter(source_id__in=["rx-a", "rx-b"]).update(name="Audited") == 2
    finally:
        mirrors_written.disconnect(dispatch_uid="test-audit")
    assert versions() == {"rx-a": 2, "rx-b": 2}
    assert {a.pk, b.pk} <= set(seen)


@pytest.mark.django_db(transaction=True)
def test_an_update_read_in_chunks_asks_for_its_deliveries_once(sent, monkeypatch):
    """An ``update()`` queues its rows a chunk at a time; the delivery is asked for once per
    transaction. With one request per chunk, a broker that is down cost one timeout per 2,000
    rows after the commit (a drain cache down: one warning each)."""
    from django_voucherify.models import sync_state

    with muted():
        Customer.objects.bulk_create([Customer(source_id=f"ch-{i}") for i in range(7)])
    monkeypatch.setattr(sync_state, "FETCH_ROWS", 2)
    tries: list[int] = []

    def broker_down(entry_id: int, **kwargs: Any) -> bool:
        tries.append(entry_id)
        return False

    monkeypatch.setattr(outbox, "enqueue", broker_down)
    assert Customer.objects.update(name="Chunked") == 7
    assert len(tries) == 1 and OutboxEntry.objects.filter(state=OutboxState.PENDING).count() == 7


@pytest.mark.django_db(transaction=True)
def test_bulk_writes_of_one_transaction_share_a_request_but_not_a_rolled_back_savepoints(sent, settings):
    settings.VOUCHERIFY = {**settings.VOUCHERIFY, "SYNC_BATCH_SIZE": 1}
    with muted():
        a, b, c = Customer.objects.bulk_create([Customer(source_id=f"sp-{x}") for x in "abc"])
    with transaction.atomic():
        Customer.objects.filter(pk=a.pk).update(name="A")
        with pytest.raises(ZeroDivisionError), transaction.atomic():
            Customer.objects.filter(pk=b.pk).update(name="B")
            raise ZeroDivisionError
        Customer.objects.filter(pk=c.pk).update(name="C")
    ids = dict(OutboxEntry.objects.values_list("source_id", "pk"))
    assert sent == [ids["sp-a"], ids["sp-c"]] and "sp-b" not in ids


@pytest.mark.django_db
def test_moving_items_of_a_distinct_queryset_queues_both_orders(sent):
    """``update()`` accepts ``distinct()``; a move locked the queryset itself with ``SELECT ...
    FOR UPDATE``, which PostgreSQL refuses with DISTINCT (NotSupportedError)."""
    left, joined = Order.objects.create(source_id="mv-1"), Order.objects.create(source_id="mv-2")
    OrderItem.objects.create(order=left, product_source_id="p")
    assert OrderItem.objects.filter(order__source_id="mv-1").distinct().update(order=joined) == 1
    assert versions(Order) == {"mv-1": 3, "mv-2": 2}  # mv-1: made, its item added, left


@pytest.mark.django_db
def test_a_large_item_update_holds_its_orders_not_a_row_per_item(sent):
    """An item ``update()`` keeps the orders it touched, reading the returned rows a chunk at a
    time: before, one tuple per item updated (all at once)."""
    import tracemalloc

    size = 30_000
    order = Order.objects.create(source_id="big-items")
    with muted():
        OrderItem.objects.bulk_create(
            (OrderItem(order=order, product_source_id="p") for _ in range(size)), batch_size=5000
        )
    tracemalloc.start()
    try:
        assert OrderItem.objects.filter(order=order).update(quantity=3) == size
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert versions(Order) == {"big-items": 2}
    assert peak < 1_000_000, f"{peak / 1e6:.1f} MB"


@pytest.mark.django_db
def test_an_item_saved_into_another_order_queues_both_orders(sent):
    """As an ``update()`` moving items does: the order left lists the item no more. Before, a
    save queued the new order only; Voucherify kept the line in the old one."""
    left, joined = Order.objects.create(source_id="sv-1"), Order.objects.create(source_id="sv-2")
    item = OrderItem.objects.create(order=left, product_source_id="p")
    item.order = joined
    item.save()
    assert versions(Order) == {"sv-1": 3, "sv-2": 2}  # sv-1: made, its item added, left
    item.quantity = 4
    item.save()  # not moved: its order only
    assert versions(Order) == {"sv-1": 3, "sv-2": 3}
