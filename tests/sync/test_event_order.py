"""Webhook events and pulls against deletions the shop has sent, and across the two keys an event
may name a customer by (its source id, its Voucherify id).

1. A copy of a customer older than a deletion this shop has sent (the outbox row ``synced``)
   made the mirror again: a late ``customer.created``/``updated`` event, or a pull page read
   before the deletion. Until Voucherify's own ``customer.deleted`` arrived, and for ever if it
   never did. A customer made again in Voucherify after the deletion still comes back.
2. Events naming a customer by its Voucherify id only and events naming it by its source id were
   ordered apart: an id-only ``customer.deleted`` applied, then an older event naming the source
   id made the mirror again.
3. Orders: Voucherify keeps an order the shop deleted (it has no order deletion), so every pull
   and every late order event made a deleted order's mirror again.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from io import StringIO
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

import django_voucherify
from django_voucherify import background, sync
from django_voucherify.freshness import parse_time
from django_voucherify.models import Customer, Order, OutboxEntry, OutboxState, WebhookEventState
from django_voucherify.sync import bulk, delivery
from django_voucherify.sync.delivery import deletions_of
from django_voucherify.webhooks import events, record
from django_voucherify.webhooks.signals import webhook_event
from tests.support.concurrency import run_in_threads, wait_until_another_session_waits_for_a_lock
from tests.support.outbox import index_names, plan_nodes, seed_history
from tests.support.webhooks import deliver, envelope

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _events_of_2026_accepted(settings: Any) -> None:
    """Some events carry fixed 2026 dates: a century of retention keeps them acceptable."""
    settings.VOUCHERIFY = {**settings.VOUCHERIFY, "WEBHOOK_RETENTION_DAYS": 36500}


def _stamp(moment: Any) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _listed(*objects: dict[str, Any]) -> Any:
    """A client whose lists hold ``objects``: a pull page read before the deletion."""
    return SimpleNamespace(
        customers=SimpleNamespace(iterate=lambda: iter(objects)),
        orders=SimpleNamespace(iterate=lambda: iter(objects)),
    )


def _created_then_deleted(capture: Any, source_id: str = "gone-1") -> dict[str, Any]:
    """A customer sent to Voucherify, then deleted here and the deletion sent; Voucherify's copy
    of it from before the deletion (what a late event or an old pull page carries)."""
    with capture(execute=True):
        Customer.objects.create(source_id=source_id, name="Before")
    copy = dict(Customer.objects.get(source_id=source_id).remote_payload)
    with capture(execute=True):
        Customer.objects.get(source_id=source_id).delete()
    assert OutboxEntry.objects.get(kind="customer", action="delete").state == OutboxState.SYNCED
    return copy


def _event_of(kind: str, key: str, copy: dict[str, Any]) -> dict[str, Any]:
    at = copy.get("updated_at") or copy["created_at"]
    return envelope(kind, {key: copy}, at=at)


# ---- 1. a deletion the shop has sent ---------------------------------------------------------
@pytest.mark.parametrize("kind", ["customer.created", "customer.updated"])
def test_an_event_older_than_a_sent_deletion_does_not_make_the_customer_again(
    sandbox, django_capture_on_commit_callbacks, kind
):
    copy = _created_then_deleted(django_capture_on_commit_callbacks)
    assert sandbox.state.find_customer("gone-1") is None
    row = deliver(_event_of(kind, "customer", copy))
    assert not Customer.objects.filter(source_id="gone-1").exists()
    assert row.state == WebhookEventState.PROCESSED and not row.applied and "deleted since" in row.outcome


def test_a_pull_page_read_before_a_sent_deletion_does_not_make_the_customer_again(
    sandbox, django_capture_on_commit_callbacks
):
    copy = _created_then_deleted(django_capture_on_commit_callbacks)
    stats = bulk.pull("customers", client=_listed(copy))
    assert (stats["created"], stats["deleted_since"]) == (0, 1)
    assert not Customer.objects.filter(source_id="gone-1").exists()


def test_a_copy_of_the_deleted_customer_stamped_after_the_deletion_stays_out(
    sandbox, django_capture_on_commit_callbacks
):
    """Voucherify's clock ahead of the shop's: the deleted customer's last copy looks later than
    the deletion. Voucherify never gives a deleted customer's id back (no restore in its API):
    a copy under that id is from before the deletion, whatever its time says."""
    copy = _created_then_deleted(django_capture_on_commit_callbacks)
    copy["updated_at"] = _stamp(parse_time(copy["created_at"]) + timedelta(minutes=5))
    assert bulk.pull("customers", client=_listed(copy))["created"] == 0
    deliver(_event_of("customer.updated", "customer", copy))
    assert not Customer.objects.filter(source_id="gone-1").exists()


def test_a_customer_made_again_in_voucherify_after_the_deletion_comes_back(
    sandbox, django_capture_on_commit_callbacks
):
    _created_then_deleted(django_capture_on_commit_callbacks)
    again = dict(sandbox.state.upsert_customer({"source_id": "gone-1", "name": "Made again there"}))
    row = deliver(_event_of("customer.created", "customer", again))
    assert row.applied and Customer.objects.get(source_id="gone-1").name == "Made again there"


def test_a_deletion_by_source_id_keeps_out_older_copies_under_any_id(
    sandbox, django_capture_on_commit_callbacks
):
    """A deletion addressed by source id (the shop never learnt the Voucherify id: the answer to
    the creation was lost) deleted whatever held the source id: a copy that changed before the
    deletion was recorded stays out, whatever its id; a later one comes back."""
    copy = _created_then_deleted(django_capture_on_commit_callbacks)
    OutboxEntry.objects.filter(kind="customer", action="delete").update(remote_id="")
    deleted_at = OutboxEntry.objects.get(kind="customer", action="delete").delivered_at
    older = {**copy, "id": "cust_unknown", "created_at": _stamp(deleted_at - timedelta(seconds=1))}
    newer = {
        **older,
        "id": "cust_again",
        "name": "After",
        "created_at": _stamp(deleted_at + timedelta(seconds=1)),
    }
    assert bulk.pull("customers", client=_listed(older))["created"] == 0
    assert bulk.pull("customers", client=_listed(newer))["created"] == 1
    assert Customer.objects.get(source_id="gone-1").name == "After"


def _made_again_there(sandbox: Any, capture: Any, source_id: str = "gone-1") -> tuple[str, dict[str, Any]]:
    """A customer sent to Voucherify, then deleted by Voucherify itself (its dashboard) and made
    again there with the same source id: the old Voucherify id (the mirror's) and the other one."""
    with capture(execute=True):
        Customer.objects.create(source_id=source_id, name="Before")
    old = Customer.objects.get(source_id=source_id).voucherify_id
    django_voucherify.get_client().customers.delete(old)
    other = dict(sandbox.state.upsert_customer({"source_id": source_id, "name": "Made there"}))
    sandbox.calls.calls.clear()
    return old, other


@pytest.mark.parametrize("erase", [False, True], ids=["delete", "erase"])
def test_a_deletion_by_voucherify_id_answered_404_deletes_the_customer_made_there_before_it(
    sandbox, django_capture_on_commit_callbacks, erase
):
    """Voucherify deleted the customer itself and made another with the source id, then the shop
    deleted its mirror: the newest act is the shop's. The deletion, addressed to the old id,
    answers 404; the customer holding the source id, made before the shop's deletion, is looked
    up and deleted (3 calls). Before, the 404 was taken as done: the other customer stayed in
    Voucherify and its copy made the mirror again. The row now judges copies by time: a late
    event of the customer it deleted stays out."""
    old, other = _made_again_there(sandbox, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        customer = Customer.objects.get(source_id="gone-1")
        sync.erase_customer(customer) if erase else customer.delete()
    assert sandbox.state.find_customer("gone-1") is None
    row = OutboxEntry.objects.get(kind="customer", source_id="gone-1")
    assert (row.state, row.remote_id) == (OutboxState.SYNCED, "")
    method, path = ("DELETE", "/v1/customers/{}")
    if erase:
        method, path = ("POST", "/v1/customers/{}/permanent-deletion")
    assert [(m, p) for m, p, _ in sandbox.calls.calls] == [
        (method, path.format(old)),
        ("GET", "/v1/customers/gone-1"),
        (method, path.format(other["id"])),
    ]
    event = deliver(_event_of("customer.created", "customer", other))
    assert not event.applied and not Customer.objects.filter(source_id="gone-1").exists()


def test_a_customer_made_there_after_the_shops_deletion_stays_and_comes_back(
    sandbox, django_capture_on_commit_callbacks, monkeypatch
):
    """Newest wins: a customer made in Voucherify with the source id after the shop deleted its
    mirror (before the deletion was sent) is not the shop's to delete. The deletion answers 404
    to the old id, finds the other one newer, leaves it; the row keeps the old id, so the
    other's copy makes the mirror again."""
    with django_capture_on_commit_callbacks(execute=True):
        Customer.objects.create(source_id="gone-1", name="Before")
    old = Customer.objects.get(source_id="gone-1").voucherify_id
    Customer.objects.get(source_id="gone-1").delete()  # queued, not sent yet (no commit run)
    django_voucherify.get_client().customers.delete(old)
    # Voucherify stamps milliseconds: made a second after the shop's deletion, unambiguously.
    monkeypatch.setattr(sandbox.state, "clock", lambda: timezone.now() + timedelta(seconds=1))
    other = dict(sandbox.state.upsert_customer({"source_id": "gone-1", "name": "Made there"}))
    row = OutboxEntry.objects.get(kind="customer", source_id="gone-1")
    assert delivery.deliver(row.pk).status == "sent"
    assert sandbox.state.find_customer("gone-1")["id"] == other["id"]
    row.refresh_from_db()
    assert (row.state, row.remote_id) == (OutboxState.SYNCED, old)
    event = deliver(_event_of("customer.created", "customer", other))
    assert event.applied and Customer.objects.get(source_id="gone-1").name == "Made there"


def test_a_deletion_answered_404_with_nothing_holding_the_source_id_is_done_by_time(
    sandbox, django_capture_on_commit_callbacks
):
    """Nothing holds the source id (the lookup answers 404, Voucherify's not_found): done, and
    the row judges copies by time from now on, so a sender that deleted the other customer and
    died before recording it (the retry finds nothing) still keeps that customer's copies out."""
    _old, other = _made_again_there(sandbox, django_capture_on_commit_callbacks)
    Customer.objects.get(source_id="gone-1").delete()
    django_voucherify.get_client().customers.delete(other["id"])  # the first attempt's deletion, unrecorded
    row = OutboxEntry.objects.get(kind="customer", source_id="gone-1")
    assert delivery.deliver(row.pk).status == "sent"
    assert [status for _, _, status in sandbox.calls.calls][-2:] == [404, 404]
    row.refresh_from_db()
    assert (row.state, row.remote_id) == (OutboxState.SYNCED, "")
    assert not deliver(_event_of("customer.created", "customer", other)).applied


def test_a_source_id_shaped_like_a_voucherify_id_is_not_taken_for_another_customer(
    sandbox, django_capture_on_commit_callbacks
):
    """``GET /v1/customers/{x}`` reads ``x`` as an id first: when the source id is another
    customer's id, the lookup finds that one, which the deletion leaves alone."""
    old, other = _made_again_there(sandbox, django_capture_on_commit_callbacks, source_id="cust_shaped")
    django_voucherify.get_client().customers.delete(other["id"])
    state = sandbox.state
    bystander = dict(state.upsert_customer({"source_id": "someone-else", "name": "Bystander"}))
    state.customers["cust_shaped"] = {**state.customers.pop(bystander["id"]), "id": "cust_shaped"}
    state.customer_ids_by_source["someone-else"] = "cust_shaped"
    with django_capture_on_commit_callbacks(execute=True):
        Customer.objects.get(source_id="cust_shaped").delete()
    assert state.find_customer("someone-else")["id"] == "cust_shaped"
    assert [(m, p) for m, p, _ in sandbox.calls.calls][-1] == ("GET", "/v1/customers/cust_shaped")
    row = OutboxEntry.objects.get(kind="customer", action="delete")
    assert (row.state, row.remote_id) == (OutboxState.SYNCED, old)


def test_a_sender_whose_lease_runs_short_after_the_404_looks_nothing_up(
    sandbox, django_capture_on_commit_callbacks, monkeypatch
):
    """The lease is checked before each of the 3 calls, as on the other multi-call paths: a
    sender that stalled after the 404 sends nothing more and the row is sent again."""
    old, other = _made_again_there(sandbox, django_capture_on_commit_callbacks)
    Customer.objects.get(source_id="gone-1").delete()
    checks = []
    real = delivery._check_lease

    def stalls_after_the_first_call(claim):
        checks.append(claim)
        if len(checks) > 1:
            raise delivery.LeaseExpiring("stalled")
        real(claim)

    monkeypatch.setattr(delivery, "_check_lease", stalls_after_the_first_call)
    row = OutboxEntry.objects.get(kind="customer", source_id="gone-1")
    assert delivery.deliver(row.pk).status == "retry"
    assert [(m, p) for m, p, _ in sandbox.calls.calls] == [("DELETE", f"/v1/customers/{old}")]
    row.refresh_from_db()
    assert (row.state, row.remote_id) == (OutboxState.PENDING, old)
    assert sandbox.state.find_customer("gone-1")["id"] == other["id"]


def test_a_source_id_no_url_can_carry_is_not_looked_up(sandbox, django_capture_on_commit_callbacks):
    """A source id ``.`` (possible through the Python API) cannot be looked up: the deletion by
    id answered 404 stays done, as before, instead of failing for good."""
    old, _other = _made_again_there(sandbox, django_capture_on_commit_callbacks, source_id=".")
    with django_capture_on_commit_callbacks(execute=True):
        Customer.objects.get(source_id=".").delete()
    row = OutboxEntry.objects.get(kind="customer", action="delete")
    assert (row.state, row.remote_id) == (OutboxState.SYNCED, old)
    assert [(m, p) for m, p, _ in sandbox.calls.calls] == [("DELETE", f"/v1/customers/{old}")]


def test_store_remote_counts_a_copy_kept_out_by_a_sent_deletion(sandbox, django_capture_on_commit_callbacks):
    """store_remote (what webhook events call) counts a copy kept out by a sent deletion."""
    copy = _created_then_deleted(django_capture_on_commit_callbacks)
    stats = bulk.store_remote("customers", [copy])
    assert (stats["created"], stats["deleted_since"], stats["unsent"]) == (0, 1, 0)


def test_the_deletions_lookup_uses_its_index(sandbox):
    """One query per page, through ``dv_outbox_deletions``, whatever the history."""
    seed_history(20_000)
    query = deletions_of("customer", [f"hist-{i}" for i in range(0, 500, 7)]).values_list("source_id")
    sql, params = query.query.sql_with_params()
    assert "dv_outbox_deletions" in index_names(plan_nodes(sql, params))


# ---- 2. one customer, two keys ---------------------------------------------------------------
def _mirrored(source_id: str = "two-keys", ident: str = "cust_twokeys") -> dict[str, Any]:
    """A customer mirrored from Voucherify (created 09:00, never updated); its copy."""
    copy = {
        "id": ident,
        "source_id": source_id,
        "object": "customer",
        "name": "First",
        "metadata": {},
        "created_at": "2026-01-01T09:00:00.000Z",
        "updated_at": None,
    }
    with sync.muted():
        Customer.objects.create(source_id=source_id, voucherify_id=ident, name="First", remote_payload=copy)
    return copy


def test_an_older_event_by_source_id_does_not_undo_a_deletion_by_voucherify_id(sandbox):
    copy = _mirrored()
    gone = deliver(
        envelope("customer.deleted", {"customer": {"id": "cust_twokeys"}}, at="2026-01-01T11:00:00Z")
    )
    assert gone.applied and not Customer.objects.filter(source_id="two-keys").exists()
    late = {**copy, "name": "Late", "updated_at": "2026-01-01T10:00:00.000Z"}
    row = deliver(envelope("customer.updated", {"customer": late}, at="2026-01-01T10:00:00Z"))
    assert row.state == WebhookEventState.STALE
    assert not Customer.objects.filter(source_id="two-keys").exists()


def test_a_deletion_by_voucherify_id_of_a_customer_not_mirrored_still_orders_later_events(sandbox):
    """The id-only deletion arrives first, nothing mirrored yet: it is the newest thing known of
    that customer, and the older creation naming the source id is stale."""
    gone = deliver(
        envelope("customer.deleted", {"customer": {"id": "cust_first"}}, at="2026-01-01T11:00:00Z")
    )
    assert gone.applied
    created = {
        "id": "cust_first",
        "source_id": "first",
        "object": "customer",
        "name": "Early",
        "created_at": "2026-01-01T10:00:00.000Z",
    }
    row = deliver(envelope("customer.created", {"customer": created}, at="2026-01-01T10:00:00Z"))
    assert row.state == WebhookEventState.STALE
    assert not Customer.objects.filter(source_id="first").exists()


def test_a_newer_event_by_source_id_after_a_deletion_by_voucherify_id_applies(sandbox):
    """Newest wins across the keys, both ways: the customer made again (a new Voucherify id)
    after the deletion comes back."""
    _mirrored()
    deliver(envelope("customer.deleted", {"customer": {"id": "cust_twokeys"}}, at="2026-01-01T11:00:00Z"))
    again = {
        "id": "cust_again",
        "source_id": "two-keys",
        "object": "customer",
        "name": "Again",
        "created_at": "2026-01-01T12:00:00.000Z",
    }
    row = deliver(envelope("customer.created", {"customer": again}, at="2026-01-01T12:00:00Z"))
    assert row.applied and Customer.objects.get(source_id="two-keys").name == "Again"


def test_an_id_only_deletion_resolved_through_the_mirror_is_recorded_under_the_source_id(sandbox):
    _mirrored()
    gone = deliver(
        envelope("customer.deleted", {"customer": {"id": "cust_twokeys"}}, at="2026-01-01T11:00:00Z")
    )
    assert gone.subject == "customer:two-keys"


@pytest.mark.parametrize("mirrored", [True, False])
@pytest.mark.parametrize("named", [{"id": "cust_twokeys", "source_id": "two-keys"}, {"id": "cust_twokeys"}])
def test_a_pull_page_read_before_a_deletion_made_in_voucherify_does_not_make_it_again(
    sandbox, named, mirrored
):
    """Deleted in Voucherify's dashboard: no outbox row here, the applied ``customer.deleted``
    event is what the shop knows of it (by either key; the customer mirrored or not)."""
    copy = _mirrored()
    if not mirrored:
        with sync.muted():
            Customer.objects.all().delete()
    deliver(envelope("customer.deleted", {"customer": named}, at="2026-01-01T11:00:00Z"))
    assert not Customer.objects.filter(source_id="two-keys").exists()
    stats = bulk.pull("customers", client=_listed(copy))
    assert (stats["created"], stats["deleted_since"]) == (0, 1)
    again = {**copy, "id": "cust_again", "created_at": "2026-01-01T12:00:00.000Z"}
    assert bulk.pull("customers", client=_listed(again))["created"] == 1


# ---- 3. orders -------------------------------------------------------------------------------
def _order_created_then_deleted(capture: Any, source_id: str = "order-gone") -> dict[str, Any]:
    with capture(execute=True):
        Order.objects.create(source_id=source_id, amount=1000, status="PAID")
    copy = dict(Order.objects.get(source_id=source_id).remote_payload)
    with capture(execute=True):
        Order.objects.get(source_id=source_id).delete()
    assert OutboxEntry.objects.get(kind="order", action="delete").state == OutboxState.SYNCED
    return copy


def test_a_pull_does_not_make_an_order_deleted_here_again(sandbox, django_capture_on_commit_callbacks):
    """Voucherify has no order deletion: it lists the order for ever, as it was."""
    _order_created_then_deleted(django_capture_on_commit_callbacks)
    assert sandbox.state.find_order("order-gone") is not None
    stats = bulk.pull("orders")
    assert (stats["created"], stats["deleted_since"]) == (0, 1)
    assert not Order.objects.filter(source_id="order-gone").exists()
    out = StringIO()
    call_command("voucherify_pull", "orders", no_progress=True, stdout=out)
    assert "1 not made again: deleted since the copy listed" in out.getvalue()
    assert not Order.objects.filter(source_id="order-gone").exists()


def test_a_late_order_event_does_not_make_an_order_deleted_here_again(
    sandbox, django_capture_on_commit_callbacks
):
    copy = _order_created_then_deleted(django_capture_on_commit_callbacks)
    deliver(_event_of("customer.order.updated", "order", copy))
    assert not Order.objects.filter(source_id="order-gone").exists()


def test_an_order_changed_in_voucherify_after_its_deletion_here_comes_back(
    sandbox, django_capture_on_commit_callbacks
):
    """Newest wins: the deletion stayed here, and Voucherify changed the order since."""
    copy = _order_created_then_deleted(django_capture_on_commit_callbacks)
    deleted_at = OutboxEntry.objects.get(kind="order", action="delete").delivered_at
    later = {**copy, "status": "CANCELED", "updated_at": _stamp(deleted_at + timedelta(seconds=1))}
    row = deliver(_event_of("customer.order.canceled", "order", later))
    assert row.applied and Order.objects.get(source_id="order-gone").status == "CANCELED"


# ---- 2b. two workers, one customer named two ways ----------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_two_workers_applying_events_of_one_customer_by_either_key_take_turns(sandbox, monkeypatch):
    """PostgreSQL, two connections. A worker applies an id-only ``customer.deleted`` (11:00) and,
    before it commits, another worker processes an older ``customer.updated`` (10:00) naming the
    source id. Before, each locked its own key: the second one waited on the mirror's row only,
    found it gone once the first committed, and made it again. Both keys are locked now: the
    second waits for the first, then finds the deletion applied and is stale."""
    monkeypatch.setattr(background, "enqueue", lambda *a, **k: None)  # processed by the threads below
    copy = _mirrored()
    gone, _new = record(
        envelope("customer.deleted", {"customer": {"id": "cust_twokeys"}}, at="2026-01-01T11:00:00Z")
    )
    late = {**copy, "name": "Late", "updated_at": "2026-01-01T10:00:00.000Z"}
    older, _new = record(envelope("customer.updated", {"customer": late}, at="2026-01-01T10:00:00Z"))
    deleting, waited = threading.Event(), threading.Event()

    def hold(sender: Any, event: Any, **kwargs: Any) -> None:
        if event.pk == gone.pk:  # inside the first worker's transaction, the deletion applied
            deleting.set()
            waited.set() if wait_until_another_session_waits_for_a_lock() else None

    def first() -> None:
        events.process(gone.pk)

    def second() -> None:
        assert deleting.wait(10)
        events.process(older.pk)

    webhook_event.connect(hold, weak=False)
    try:
        assert run_in_threads(first, second) == {}
    finally:
        webhook_event.disconnect(hold)
    assert waited.is_set()  # the second worker did wait for the first one
    older.refresh_from_db()
    assert older.state == WebhookEventState.STALE
    assert not Customer.objects.filter(source_id="two-keys").exists()
