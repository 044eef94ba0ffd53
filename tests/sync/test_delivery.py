"""Save -> outbox (same transaction) -> on_commit -> task -> sandbox, against the in-process sandbox."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from django_voucherify.models import Customer, Order, OrderItem, OutboxEntry, OutboxState, SyncState
from django_voucherify.sync import delivery, erase_customer
from django_voucherify.tasks import deliver_outbox_entry

pytestmark = pytest.mark.django_db

CUSTOMERS = "/v1/customers"


def test_save_reaches_voucherify_after_commit(sandbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        c = Customer.objects.create(
            source_id="c-1", name="Ada", email="ada@example.com", city="Paris", metadata={"tier": "gold"}
        )
    assert sandbox.calls.count() == 0  # nothing sent inside the transaction
    entry = OutboxEntry.objects.get()
    assert (entry.kind, entry.object_pk, entry.state, entry.version) == ("customer", str(c.pk), "pending", 1)
    for cb in callbacks:
        cb()
    remote = sandbox.state.find_customer("c-1")
    assert remote["name"] == "Ada" and remote["metadata"] == {"tier": "gold"}
    assert remote["address"]["city"] == "Paris"
    c.refresh_from_db()
    assert c.sync_state == SyncState.SYNCED and c.voucherify_id == remote["id"]
    assert c.synced_at is not None and c.remote_payload["source_id"] == "c-1"
    assert OutboxEntry.objects.get().state == OutboxState.SYNCED


def test_save_costs_one_outbox_query_and_no_http(sandbox, django_capture_on_commit_callbacks):
    c = Customer.objects.create(source_id="c-q")
    with django_capture_on_commit_callbacks(execute=False), CaptureQueriesContext(connection) as q:
        c.name = "Q"
        c.save()
    outbox_queries = [x for x in q.captured_queries if "outboxentry" in x["sql"]]
    assert len(outbox_queries) == 1
    assert len(q.captured_queries) <= 2
    assert sandbox.calls.count() == 0


def test_several_saves_coalesce_into_one_call(sandbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        c = Customer.objects.create(source_id="c-2", name="v1")
        for n in range(2, 6):
            c.name = f"v{n}"
            c.save()
    assert len(callbacks) == 1  # one enqueue per object per transaction, not one per save
    assert sandbox.calls.count("POST", CUSTOMERS) == 1
    assert sandbox.state.find_customer("c-2")["name"] == "v5"
    assert OutboxEntry.objects.get().version == 5


def test_rolled_back_savepoint_does_not_swallow_the_enqueue(sandbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        c = Customer.objects.create(source_id="c-rb", name="v0")
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        try:
            with transaction.atomic():
                c.name = "lost"
                c.save()
                raise RuntimeError("payment failed")
        except RuntimeError:
            pass
        c.name = "kept"
        c.save()
    assert len(callbacks) == 1
    assert sandbox.state.find_customer("c-rb")["name"] == "kept"


def test_item_change_marks_the_order_mirror_pending(sandbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        order = Order.objects.create(source_id="o-items", amount=1000, currency="EUR")
    order.refresh_from_db()
    assert order.sync_state == SyncState.SYNCED
    with django_capture_on_commit_callbacks(execute=False):
        OrderItem.objects.create(order=order, sku_source_id="sku-9", quantity=1, price=1000, amount=1000)
    order.refresh_from_db()
    assert order.sync_state == SyncState.PENDING


def test_late_task_sends_current_state_not_its_own(sandbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as first:
        c = Customer.objects.create(source_id="c-3", name="old")
    with django_capture_on_commit_callbacks(execute=False) as second:
        c.name = "new"
        c.save()
    for cb in second + first:  # the newer task runs first, the older one arrives late
        cb()
    assert sandbox.state.find_customer("c-3")["name"] == "new"
    assert sandbox.calls.count("POST", CUSTOMERS) == 1


def test_save_during_send_leaves_entry_pending_and_resends(
    sandbox, django_capture_on_commit_callbacks, monkeypatch
):
    with django_capture_on_commit_callbacks(execute=False):
        c = Customer.objects.create(source_id="c-4", name="first")
    entry = OutboxEntry.objects.get()
    fired = []

    def concurrent_save(exchange):
        if not fired:
            fired.append(1)
            again = Customer.objects.get(pk=c.pk)
            again.name = "second"
            again.save()  # bumps the version while the call is in flight

    sandbox.response_listeners.insert(0, concurrent_save)
    requeued = []
    monkeypatch.setattr(delivery, "enqueue", lambda entry_id, **kw: requeued.append(entry_id))
    with django_capture_on_commit_callbacks(execute=False) as on_commit:
        outcome = delivery.deliver(entry.pk)
    assert outcome.status == "resend" and requeued == [entry.pk]
    assert sandbox.calls.count("POST", CUSTOMERS) == 1
    entry.refresh_from_db()
    assert entry.state == OutboxState.PENDING and entry.delivered_version == 1 and entry.version == 2
    c.refresh_from_db()
    assert c.sync_state == SyncState.PENDING  # not marked synced with the older data
    assert sandbox.state.find_customer("c-4")["name"] == "first"
    assert deliver_outbox_entry.apply((entry.pk,)).get() == "sent"
    assert sandbox.state.find_customer("c-4")["name"] == "second"
    for cb in on_commit:  # the concurrent save's own task arrives late: nothing left to send
        cb()
    assert sandbox.calls.count("POST", CUSTOMERS) == 2
    entry.refresh_from_db()
    assert entry.state == OutboxState.SYNCED and entry.delivered_version == 2


@pytest.mark.parametrize("fault", [{"status": 503}, {"status": 429, "retry_after": 1}, {"drop": True}])
def test_transient_failures_are_retried_then_delivered(sandbox, django_capture_on_commit_callbacks, fault):
    rule = sandbox.faults.add(path=CUSTOMERS, method="POST", times=2, **fault)
    with django_capture_on_commit_callbacks(execute=True):
        c = Customer.objects.create(source_id="c-5", name="Retry")
    assert rule.hits == 2
    assert sandbox.state.find_customer("c-5")["name"] == "Retry"
    c.refresh_from_db()
    assert c.sync_state == SyncState.SYNCED and c.last_error == ""


def test_rate_limit_delay_is_honoured(sandbox, django_capture_on_commit_callbacks):
    sandbox.faults.add(path=CUSTOMERS, method="POST", status=429, retry_after=7, times=1)
    with django_capture_on_commit_callbacks(execute=False):
        Customer.objects.create(source_id="c-6")
    entry = OutboxEntry.objects.get()
    outcome = delivery.deliver(entry.pk)
    assert outcome.status == "retry" and outcome.retry_in == 7
    entry.refresh_from_db()
    assert entry.state == OutboxState.PENDING and entry.attempts == 1
    assert 6 <= (entry.due_at - entry.updated_at).total_seconds() <= 8
    assert delivery.deliver(entry.pk).status == "skipped"  # not due yet
    assert delivery.deliver(entry.pk, ignore_schedule=True).status == "sent"


def test_retry_budget_exhausted_marks_failed_with_request_id(sandbox, django_capture_on_commit_callbacks):
    rule = sandbox.faults.add(path=CUSTOMERS, method="POST", status=503)
    with django_capture_on_commit_callbacks(execute=True):
        c = Customer.objects.create(source_id="c-7")
    assert rule.hits == 3  # SYNC_MAX_ATTEMPTS in the fixture
    c.refresh_from_db()
    entry = OutboxEntry.objects.get()
    assert entry.state == OutboxState.FAILED and entry.attempts == 3
    assert c.sync_state == SyncState.FAILED
    assert c.last_request_id.startswith("v-") and c.last_request_id == entry.last_request_id
    assert c.last_error_key == "service_unavailable" and "503" in c.last_error


def test_non_retryable_error_fails_at_once(sandbox, django_capture_on_commit_callbacks):
    rule = sandbox.faults.add(path=CUSTOMERS, method="POST", status=400, key="invalid_payload")
    with django_capture_on_commit_callbacks(execute=True):
        Customer.objects.create(source_id="c-8")
    assert rule.hits == 1
    assert OutboxEntry.objects.get().state == OutboxState.FAILED


def test_delete_and_permanent_delete(sandbox, django_capture_on_commit_callbacks, settings):
    with django_capture_on_commit_callbacks(execute=True):
        a = Customer.objects.create(source_id="del-a")
        b = Customer.objects.create(source_id="del-b")
    assert sandbox.state.find_customer("del-a")
    b_id = sandbox.state.find_customer("del-b")["id"]
    with django_capture_on_commit_callbacks(execute=True):
        a.delete()
        erase_customer(b)
    assert sandbox.state.find_customer("del-a") is None
    assert sandbox.state.find_customer("del-b") is None
    assert sandbox.calls.count("DELETE") == 1
    assert sandbox.calls.count("POST", f"{CUSTOMERS}/{b_id}/permanent-deletion") == 1
    outcomes = set(OutboxEntry.objects.values_list("action", "state"))
    assert outcomes == {("delete", "synced"), ("erase", "synced")}


def test_permanent_delete_setting(sandbox, django_capture_on_commit_callbacks, settings):
    with django_capture_on_commit_callbacks(execute=True):
        c = Customer.objects.create(source_id="del-c")
    settings.VOUCHERIFY = {**settings.VOUCHERIFY, "SYNC_PERMANENT_DELETE": True}
    sandbox.mount(__import__("django_voucherify").get_client().transport.session)
    with django_capture_on_commit_callbacks(execute=True):
        c.delete()
    assert sandbox.calls.count("DELETE") == 0
    assert OutboxEntry.objects.get().action == "erase"
    assert sandbox.state.find_customer("del-c") is None


def test_order_and_status_changes_reach_voucherify(sandbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        cust = Customer.objects.create(source_id="buyer")
        order = Order.objects.create(source_id="o-1", amount=2500, currency="EUR", customer=cust)
        OrderItem.objects.create(
            order=order, sku_source_id="sku-1", product_source_id="p-1", quantity=2, price=1250, amount=2500
        )
    remote = sandbox.state.find_order("o-1")
    assert remote["status"] == "CREATED" and remote["amount"] == 2500
    assert remote["items"][0]["source_id"] == "sku-1"
    assert remote["customer"]["id"] == sandbox.state.find_customer("buyer")["id"]
    for status in ("PAID", "FULFILLED", "CANCELED"):
        with django_capture_on_commit_callbacks(execute=True):
            order.status = status
            order.save()
        assert sandbox.state.find_order("o-1")["status"] == status
    order.refresh_from_db()
    assert order.sync_state == SyncState.SYNCED and order.voucherify_id == remote["id"]
    assert sandbox.calls.count("PUT", f"/v1/orders/{remote['id']}") == 3


def test_sync_disabled_writes_nothing(sandbox, settings, django_capture_on_commit_callbacks):
    settings.VOUCHERIFY = {**settings.VOUCHERIFY, "SYNC_ENABLED": False}
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        Customer.objects.create(source_id="off")
    assert callbacks == [] and OutboxEntry.objects.count() == 0


def test_broker_down_keeps_work_pending(sandbox, django_capture_on_commit_callbacks, monkeypatch, caplog):
    def refuse(*a, **kw):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(deliver_outbox_entry, "apply_async", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        c = Customer.objects.create(source_id="nb")  # the save itself succeeds
    assert Customer.objects.filter(pk=c.pk).exists()
    assert OutboxEntry.objects.get().state == OutboxState.PENDING
    assert "could not enqueue" in caplog.text
    assert sandbox.calls.count() == 0


def test_http_call_happens_outside_any_transaction(sandbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        Customer.objects.create(source_id="c-tx")
    baseline = len(connection.atomic_blocks)  # the test's own wrapping transaction
    depth = []
    sandbox.response_listeners.append(lambda ex: depth.append(len(connection.atomic_blocks)))
    assert delivery.deliver(OutboxEntry.objects.get().pk).status == "sent"
    assert depth == [baseline]


def test_periodic_redrive_task(sandbox, django_capture_on_commit_callbacks, monkeypatch):
    from django_voucherify.tasks import redrive_outbox

    with monkeypatch.context() as m:
        m.setattr(deliver_outbox_entry, "apply_async", lambda *a, **k: (_ for _ in ()).throw(OSError("down")))
        with django_capture_on_commit_callbacks(execute=True):
            Customer.objects.create(source_id="c-beat")
    assert redrive_outbox.apply().get() == {
        "found": 1,
        "enqueued": 1,
        "sent": 0,
        "enqueue_failed": 0,
        "not_enqueued": 0,
    }
    assert sandbox.state.find_customer("c-beat") is not None
