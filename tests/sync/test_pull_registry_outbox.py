"""Pull keeps unsent local edits; the registry path's cost and races; outbox bookkeeping."""

from __future__ import annotations

import threading
from io import StringIO
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from django_voucherify.models import Customer, Order, OrderItem, OutboxEntry, OutboxState, SyncState
from django_voucherify.sync import bulk, outbox, registry
from tests.support.concurrency import run_in_threads, wait_until_another_session_waits_for_a_lock


@pytest.mark.django_db
def test_pull_keeps_local_edits_not_yet_sent(sandbox, monkeypatch, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        edited = Customer.objects.create(source_id="pl-1", name="Original")
        Customer.objects.create(source_id="pl-2", name="Untouched")
    sandbox.state.find_customer("pl-2")["name"] = "Renamed in Voucherify"
    with monkeypatch.context() as m:
        m.setattr(outbox, "enqueue", lambda *a, **k: False)  # broker down: the edit stays in the outbox
        with django_capture_on_commit_callbacks(execute=True):
            edited.name = "Local edit"
            edited.save()
    out = StringIO()
    call_command("voucherify_pull", "customers", no_progress=True, stdout=out)
    assert "1 updated" in out.getvalue() and "1 kept (local changes not sent" in out.getvalue()
    edited.refresh_from_db()
    assert edited.name == "Local edit" and edited.sync_state == SyncState.PENDING
    assert Customer.objects.get(source_id="pl-2").name == "Renamed in Voucherify"
    assert outbox.redrive(inline=True)["sent"] == 1
    assert sandbox.state.find_customer("pl-1")["name"] == "Local edit"  # the edit survived both sides


@pytest.mark.django_db
def test_pull_keeps_unsent_order_and_its_items(sandbox, monkeypatch, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        order = Order.objects.create(source_id="po-1", amount=100)
        OrderItem.objects.create(order=order, sku_source_id="sku-1", quantity=1, price=100, amount=100)
    monkeypatch.setattr(outbox, "enqueue", lambda *a, **k: False)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        order.status = "PAID"
        order.save()
        OrderItem.objects.create(order=order, sku_source_id="sku-2", quantity=1, price=50, amount=50)
    stats = bulk.pull("orders")
    assert stats["unsent"] == 1 and stats["updated"] == 0
    order.refresh_from_db()
    assert order.status == "PAID" and order.items.count() == 2
    assert OutboxEntry.objects.get(kind="order").state == OutboxState.PENDING


def _save_queries(user) -> list[str]:
    with CaptureQueriesContext(connection) as q, transaction.atomic():
        user.save()
    return [x["sql"] for x in q.captured_queries]


@pytest.mark.django_db
def test_registry_save_adds_at_most_two_queries(sandbox, django_capture_on_commit_callbacks):
    User = get_user_model()
    user = User.objects.create_user("q", email="q@example.com")
    user.first_name = "Plain"
    plain = _save_queries(user)
    registry.connect(
        User,
        Customer,
        lambda u: {
            "source_id": f"user-{u.pk}",
            "email": u.email,
            "name": u.get_full_name(),
            "user": u,
        },
    )
    try:
        with django_capture_on_commit_callbacks(execute=False):
            user.first_name = "Created"
            created = _save_queries(user)  # the mirror is created
            user.first_name = "Changed"
            changed = _save_queries(user)
            user.last_login = None
            unchanged = _save_queries(user)  # nothing Voucherify cares about
    finally:
        registry.disconnect(User)
    assert len(created) - len(plain) == 2 and len(changed) - len(plain) == 2
    assert len(unchanged) - len(plain) == 1
    for queries in (created, changed, unchanged):
        added = [sql for sql in queries[1:-1] if sql not in plain[1:-1]]  # between our SAVEPOINT/RELEASE
        assert not [sql for sql in added if "SAVEPOINT" in sql or sql.startswith('SELECT "auth_user"')]
    mirror = Customer.objects.get()
    assert (mirror.name, mirror.user_id, mirror.sync_state) == ("Changed", user.pk, SyncState.PENDING)
    assert OutboxEntry.objects.get().version == 2


@pytest.mark.django_db(transaction=True)
def test_two_first_saves_racing_make_one_mirror(user_mirrored, monkeypatch):
    monkeypatch.setattr(outbox, "enqueue", lambda *a, **k: True)
    registry.disconnect(user_mirrored)
    a = user_mirrored.objects.create_user("a", email="same@example.com")
    b = user_mirrored.objects.create_user("b", email="same@example.com")
    registry.connect(user_mirrored, Customer, lambda u: {"source_id": "shared", "email": u.email})
    first_inserted = threading.Event()

    def first():
        with transaction.atomic():
            registry.refresh(a)
            first_inserted.set()
            assert wait_until_another_session_waits_for_a_lock()  # the second waits on our new row

    def second():
        assert first_inserted.wait(10)
        with transaction.atomic():
            registry.refresh(b)

    assert run_in_threads(first, second) == {}
    assert list(Customer.objects.values_list("source_id", "email")) == [("shared", "same@example.com")]
    assert OutboxEntry.objects.get().version == 1


@pytest.mark.django_db
def test_registry_replacing_items_queues_the_order_once(sandbox, django_capture_on_commit_callbacks):
    User = get_user_model()
    lines = [{"sku_source_id": f"sku-{n}", "quantity": 1, "price": 100} for n in range(5)]
    registry.connect(
        User,
        Order,
        lambda u: {
            "source_id": f"order-{u.pk}",
            "amount": 500,
            "customer": f"buyer-{u.pk}",
            "items": list(lines),
        },
    )
    try:
        with django_capture_on_commit_callbacks(execute=True):
            user = User.objects.create_user("buyer")
        entry = OutboxEntry.objects.get(kind="order")
        assert entry.version == 1 and Order.objects.get().items.count() == 5
        lines[:] = [{"sku_source_id": f"sku-{n}", "quantity": 2, "price": 100} for n in range(5)]
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            user.save()
    finally:
        registry.disconnect(User)
    entry.refresh_from_db()
    assert entry.version == 2 and len(callbacks) == 1  # not once per deleted and created item
    assert [i["quantity"] for i in sandbox.state.find_order(f"order-{user.pk}")["items"]] == [2] * 5
    assert Customer.objects.get().source_id == f"buyer-{user.pk}"


@pytest.mark.django_db(transaction=True)
def test_enqueue_memo_is_emptied_after_a_rollback(monkeypatch):
    monkeypatch.setattr(outbox, "enqueue", lambda *a, **k: True)
    with pytest.raises(RuntimeError), transaction.atomic():
        for n in range(3):
            Customer.objects.create(source_id=f"rb-{n}")
        raise RuntimeError("rolled back")
    memo = connections["default"].__dict__[outbox._CALLBACKS_ATTR]
    assert len(memo) == 3  # the rollback dropped Django's callbacks, not ours...
    with transaction.atomic():
        Customer.objects.create(source_id="after")
        assert len(memo) == 1  # ...until the next transaction starts afresh
    assert memo == {}


def test_enqueue_falls_back_when_django_internals_differ(monkeypatch):
    registered = []
    monkeypatch.setattr(outbox.transaction, "on_commit", lambda func, using=None: registered.append(func))
    for layout in (None, "not a list", [object()]):
        fake = SimpleNamespace(in_atomic_block=True, run_on_commit=layout)
        monkeypatch.setattr(outbox, "connections", {"default": fake})
        registered.clear()
        outbox._enqueue_on_commit("default", 7)
        outbox._enqueue_on_commit("default", 7)
        assert len(registered) == 2, layout  # one per change rather than a lost enqueue


@pytest.mark.django_db
def test_outbox_admin_cannot_add_or_delete(admin_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        Customer.objects.create(source_id="adm-del")
    entry = OutboxEntry.objects.get()
    delete_url = reverse("admin:django_voucherify_outboxentry_delete", args=[entry.pk])
    assert admin_client.get(delete_url).status_code == 403
    assert admin_client.get(reverse("admin:django_voucherify_outboxentry_add")).status_code == 403
    page = admin_client.get(reverse("admin:django_voucherify_outboxentry_changelist")).content.decode()
    assert "delete_selected" not in page and "redrive_selected" in page


@pytest.mark.django_db
def test_deleted_then_recreated_customer_ends_up_in_voucherify(sandbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        old = Customer.objects.create(source_id="dup", name="Old")
    with django_capture_on_commit_callbacks(execute=False) as deletion:
        old.delete()
    with django_capture_on_commit_callbacks(execute=False) as creation:
        Customer.objects.create(source_id="dup", name="New")
    for callback in creation + deletion:  # the worker happens to take the newer entry first
        callback()
    remote = sandbox.state.find_customer("dup")
    assert remote is not None and remote["name"] == "New"
    assert sandbox.calls.count("DELETE") == 1
    outcomes = set(OutboxEntry.objects.values_list("action", "state"))
    assert outcomes == {("delete", "synced"), ("upsert", "synced")}
