"""A mirror push reads only the columns its bodies are made of, encodes each row once, and sends
the bytes it sized: the parts' bodies are exactly the model's ``to_voucherify()`` bodies."""

from __future__ import annotations

import gc
import itertools
import json
import tracemalloc
from datetime import date, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_voucherify.api.batching import EncodedJSON, ItemTooLarge, encoded_batches
from django_voucherify.jobs import push_mirrors, push_rows, queueing_paused, runner
from django_voucherify.models import Customer, JobPart, JobState, Order, OrderItem, SyncState
from django_voucherify.models.customers import BODY_FIELDS
from django_voucherify.sync import muted

pytestmark = pytest.mark.django_db(transaction=True)

CUSTOMER_KEYS = {"source_id", "name", "email", "phone", "description", "birthdate", "address", "metadata"}


def make_customers(count: int, **extra: Any) -> list[Customer]:
    with muted():
        return [
            Customer.objects.create(
                source_id=f"enc-{i:05d}",
                name=f"Name {i}",
                city="Berlin",
                metadata={"i": i},
                remote_payload={"raw": "never read by a push " * 20},
                **extra,
            )
            for i in range(count)
        ]


def bodies(job: Any) -> list[dict[str, Any]]:
    return [item for part in job.parts.order_by("index") for item in json.loads(bytes(part.body))]


@pytest.mark.parametrize("kind", ["customers", "orders"])
def test_the_push_reads_no_column_its_bodies_do_not_need(sandbox, kind):  # nor instances
    customers = make_customers(3)
    with muted():
        order = Order.objects.create(source_id="enc-o", customer=customers[0], remote_payload={"raw": 1})
        OrderItem.objects.create(order=order, product_source_id="p", quantity=2, price=5, amount=10)
    with CaptureQueriesContext(connection) as queries:
        push_mirrors(kind, chunk_bytes=2000)
    reads = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    mirror_reads = [sql for sql in reads if f"django_voucherify_{kind[:-1]}" in sql]
    assert mirror_reads, "the push read no mirror at all?"
    for sql in mirror_reads:
        assert "remote_payload" not in sql and "last_error" not in sql, sql


def test_each_row_is_encoded_once_and_the_part_is_sent_as_those_bytes(sandbox, monkeypatch):
    make_customers(40)
    real_dumps = json.dumps
    encoded: dict[str, int] = {}

    def counting_dumps(value: Any, *args: Any, **kwargs: Any) -> str:
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict) and set(item) == CUSTOMER_KEYS:
                encoded[item["source_id"]] = encoded.get(item["source_id"], 0) + 1
        return real_dumps(value, *args, **kwargs)

    received: list[bytes] = []
    sandbox.response_listeners.append(
        lambda ex: ex.request.path == "/v1/customers/bulk/async" and received.append(bytes(ex.request.body))
    )
    sent: list[bytes] = []
    real_send = runner.send
    monkeypatch.setattr(runner, "send", lambda part: (sent.append(bytes(part.body)), real_send(part))[1])
    monkeypatch.setattr(json, "dumps", counting_dumps)
    with queueing_paused():
        job = push_mirrors("customers", chunk_bytes=1500)
    assert job.parts.count() > 3
    job = runner.drive(job, timeout=20)
    monkeypatch.undo()
    assert job.state == JobState.DONE, job.error
    assert encoded == {f"enc-{i:05d}": 1 for i in range(40)}  # building and sending included
    assert sent == [bytes(p.body) for p in job.parts.order_by("index")]
    assert received == sent  # byte for byte what was sized and stored
    assert all(part.size_bytes == len(bytes(part.body)) <= 1500 for part in job.parts.all())
    assert Customer.objects.filter(sync_state=SyncState.SYNCED).count() == 40


text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30)
scalars = st.integers() | text | st.booleans() | st.none()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {
                "name": text,
                "email": st.sampled_from(["", "a@example.com"]),
                "phone": text.map(lambda s: s[:50]),
                "description": text,
                "birthdate": st.none() | st.dates(min_value=date(1900, 1, 1), max_value=date(2030, 1, 1)),
                "line_1": text,
                "country": text,
                "metadata": st.dictionaries(text, scalars, max_size=3),
            }
        ),
        min_size=1,
        max_size=12,
    ),
    page=st.integers(1, 5),
)
def test_pushed_customer_bodies_are_to_voucherify_whatever_the_values(sandbox, monkeypatch, rows, page):
    monkeypatch.setattr(push_rows, "PAGE_SIZE", page)
    Customer.objects.all().delete()
    with muted():
        made = [Customer.objects.create(source_id=f"h-{i}", **row) for i, row in enumerate(rows)]
    with queueing_paused():  # only the parts are checked here
        job = push_mirrors("customers", chunk_bytes=4000)
    assert bodies(job) == [c.to_voucherify() for c in made]
    sent_ids = [sid for part in job.parts.order_by("index") for sid in part.payload]
    assert sent_ids == [c.source_id for c in made]
    job.delete()


def test_pushed_order_bodies_are_to_voucherify_with_items_and_customers(sandbox, monkeypatch):
    monkeypatch.setattr(push_rows, "PAGE_SIZE", 3)  # items of a page fetched per page
    (customer,) = make_customers(1)
    with muted():
        orders = [
            Order.objects.create(source_id=f"eo-{i}", amount=i, customer=customer if i % 2 else None)
            for i in range(7)
        ]
        for i, order in enumerate(orders):
            for k in range(i % 3):
                sku = f"s{k}" if k else ""
                OrderItem.objects.create(order=order, sku_source_id=sku, product_source_id="p")
    with queueing_paused():
        job = push_mirrors("orders", chunk_bytes=900)
    assert job.parts.count() > 1
    assert bodies(job) == [Order.objects.get(pk=o.pk).to_voucherify() for o in orders]


def test_a_page_of_orders_reads_its_items_by_one_range_whatever_its_size(sandbox, monkeypatch):
    # Issue 13: the items of a page were read with ``order_id IN (every pk of the page)``, a
    # statement of 2000 parameters that cost ~8x one read of every item. The page is a pk range:
    # its items are one index range, two parameters whatever the page's size.
    monkeypatch.setattr(push_rows, "PAGE_SIZE", 50)
    (customer,) = make_customers(1)
    with muted():
        for i in range(120):
            order = Order.objects.create(source_id=f"range-{i}", amount=i, customer=customer)
            OrderItem.objects.create(order=order, product_source_id=f"p{i}", quantity=1, price=i)
    with CaptureQueriesContext(connection) as queries:
        rows = list(push_rows.encoded_rows(Order, None))
    assert [source_id for _pk, source_id, _body in rows] == [f"range-{i}" for i in range(120)]
    item_reads = [q["sql"] for q in queries.captured_queries if "django_voucherify_orderitem" in q["sql"]]
    assert len(item_reads) == 3  # one per page of 50
    for sql in item_reads:
        assert " IN (" not in sql, sql[:300]


@pytest.mark.parametrize("model", [Customer, Order])
def test_each_page_is_read_as_a_closed_pk_range(sandbox, monkeypatch, model):
    # Issue 13: ``pk > last ORDER BY pk LIMIT n`` (orders: joined to their customer) was planned
    # from stale statistics after a bulk load as a scan and sort of every later row, per page.
    # Every full page is now read between two pks (the bound read first, index-only).
    monkeypatch.setattr(push_rows, "PAGE_SIZE", 4)
    customers = make_customers(10)
    with muted():
        for i in range(10):
            Order.objects.create(source_id=f"closed-{i}", amount=i, customer=customers[i])
    with CaptureQueriesContext(connection) as queries:
        rows = list(push_rows.encoded_rows(model, None))
    assert len(rows) == 10
    table = model._meta.db_table
    page_reads = [
        q["sql"]
        for q in queries.captured_queries
        if f'FROM "{table}"' in q["sql"] and f'"{table}"."source_id"' in q["sql"]
    ]
    assert len(page_reads) == 3  # 4 + 4 + 2 rows, then nothing left to read
    for sql in page_reads[:2]:
        assert f'"{table}"."id" <=' in sql and " LIMIT " not in sql, sql[:400]


def test_orders_pushed_since_a_time_carry_their_own_items_only(sandbox, monkeypatch):
    # The items are read by pk range: orders of the range not changed since ``since`` are not on
    # the page, and neither their items nor anything of theirs reaches a body.
    monkeypatch.setattr(push_rows, "PAGE_SIZE", 4)
    with muted():
        orders = [Order.objects.create(source_id=f"since-{i}", amount=i) for i in range(10)]
        for order in orders:
            OrderItem.objects.create(order=order, product_source_id=f"of-{order.source_id}", quantity=1)
    cut = timezone.now()
    changed = orders[1::3]
    with muted():
        for order in changed:
            Order.objects.filter(pk=order.pk).update(updated_at=cut + timedelta(seconds=1))
    rows = list(push_rows.encoded_rows(Order, cut))
    sent = {source_id: json.loads(body) for _pk, source_id, body in rows}
    assert list(sent) == [o.source_id for o in changed]
    for source_id, body in sent.items():
        assert body == Order.objects.get(source_id=source_id).to_voucherify()
        assert [item["source_id"] for item in body["items"]] == [f"of-{source_id}"]


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 60), max_size=40),
    max_bytes=st.integers(70, 300),
    max_items=st.none() | st.integers(1, 6),
)
def test_encoded_batches_are_the_json_of_their_items_and_respect_both_limits(sizes, max_bytes, max_items):
    items = [(i, json.dumps("x" * size).encode()) for i, size in enumerate(sizes)]
    batches = list(encoded_batches(items, max_bytes, max_items))
    assert [key for keys, _body in batches for key in keys] == list(range(len(sizes)))
    for keys, body in batches:
        assert isinstance(body, EncodedJSON)
        assert body == json.dumps([json.loads(items[k][1]) for k in keys]).encode()
        assert len(body) <= max_bytes and (max_items is None or len(keys) <= max_items)
    for (keys, body), (next_keys, _next) in itertools.pairwise(batches):
        fits = len(body) + 2 + len(items[next_keys[0]][1]) <= max_bytes
        assert not fits or (max_items is not None and len(keys) == max_items)  # never cut early


def test_an_item_too_large_alone_is_refused_by_encoded_batches():
    with pytest.raises(ItemTooLarge):
        list(encoded_batches([("a", b'"' + b"x" * 100 + b'"')], 50))


def test_a_row_too_large_for_any_request_is_a_failed_row_and_the_rest_go(sandbox):
    make_customers(5)
    with muted():
        Customer.objects.filter(source_id="enc-00002").update(description="y" * 3000)
    job = runner.drive(push_mirrors("customers", chunk_bytes=2000), timeout=20)
    assert job.failed_row_set.get().source_id == "enc-00002"
    assert Customer.objects.get(source_id="enc-00002").sync_state == SyncState.FAILED
    assert Customer.objects.filter(sync_state=SyncState.SYNCED).count() == 4


def make_push_rows(count: int) -> None:
    Customer.objects.all().delete()
    with muted():
        Customer.objects.bulk_create(
            Customer(source_id=f"m-{i:06d}", name="N" * 40, metadata={"k": "v" * 40}) for i in range(count)
        )


def peak_of_push(count: int) -> int:
    """The building's peak of live memory. The collector runs often meanwhile: cyclic garbage
    (the ORM's compiled queries) waits for a collection whose timing depends on every other
    allocation in the process, not on the rows; counting it made the peak noisy (CI: 1.53x)."""
    make_push_rows(count)
    gc.collect()
    thresholds = gc.get_threshold()
    gc.set_threshold(100, 5, 5)
    tracemalloc.start()
    try:
        with queueing_paused():  # the building only: the in-process sandbox holds what it is sent
            push_mirrors("customers", chunk_bytes=20_000)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        gc.set_threshold(*thresholds)


def test_the_push_memory_does_not_grow_with_the_number_of_rows(sandbox, monkeypatch):
    monkeypatch.setattr(push_rows, "PAGE_SIZE", 100)
    peak_of_push(200)  # warm-up: imports, caches
    # The least of two peaks per size: a peak also counts what another thread (the in-process
    # sandbox, a connection's) allocated meanwhile, which only ever adds.
    small = min(peak_of_push(500) for _ in range(2))
    large = min(peak_of_push(4000) for _ in range(2))
    assert large < small * 1.5, (small, large)


def test_a_built_part_is_let_go_before_the_next_without_the_collector(sandbox, monkeypatch):
    """Each part is freed when the loop moves on, not by a later collection: a saved part and its
    FieldFile refer to each other, so the push breaks that cycle (else every part built so far
    stays in memory until the collector happens to run)."""
    monkeypatch.setattr(push_rows, "PAGE_SIZE", 100)
    make_push_rows(1000)
    gc.collect()
    gc.disable()
    try:
        with queueing_paused():
            job = push_mirrors("customers", chunk_bytes=20_000)
        assert job.parts.count() > 5
        # type(), not isinstance(): isinstance asks __class__, which makes lazy objects left by
        # other tests (a response's resolver_match) evaluate themselves.
        alive = [o for o in gc.get_objects() if type(o) is JobPart]
    finally:
        gc.enable()
    assert alive == []


def test_body_fields_are_the_model_fields_to_voucherify_reads():
    assert set(BODY_FIELDS) <= {f.name for f in Customer._meta.concrete_fields}
    assert "remote_payload" not in BODY_FIELDS
