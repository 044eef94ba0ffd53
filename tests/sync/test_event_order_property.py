"""Stateful property test: the mirrors against Voucherify's webhook events and pulls delivered in
any order, duplicated and late, around local saves, local deletions and outbox drains.

Hypothesis interleaves: the shop saving and deleting customers and orders (source ids reused);
the outbox drained whole or one row at a time; changes made in Voucherify outside the shop (its
dashboard: a customer renamed, created, deleted; an order's status changed); the webhook events
the sandbox emits for every change (the shop's own included), delivered in any order, again
(duplicates), and a customer deletion named by its Voucherify id only; pulls, run at once or read
at one step and written at a later one (a page read before a change, applied after it).

One clock, 1 ms a reading, for the shop and the sandbox: every instant is distinct and both sides
agree on which came first (the test is about order, not about clock skew).

Invariants:
- at every step, no mirror holds a copy of a customer the shop's deletions removed from
  Voucherify (a late event or an old pull page brought it back), the customers a deletion
  addressed to a Voucherify id deleted by source id after a 404 included;
- once every event is delivered, every pull page written and the outbox drained: each
  customer's mirror exists exactly when Voucherify holds that customer, with its name, and
  none when the newest act on its source id is the shop's deletion; each
  order's mirror, when it exists, holds Voucherify's status; an order deleted here stays
  deleted unless Voucherify changed it after the deletion was recorded delivered (Voucherify
  has no order deletion: it keeps the order).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

import django_voucherify
from django_voucherify.models import Customer, Order, OrderItem, OutboxEntry, OutboxState, WebhookEvent
from django_voucherify.sandbox import Sandbox
from django_voucherify.sandbox import webhooks as sandbox_webhooks
from django_voucherify.sandbox.state import SandboxState, iso
from django_voucherify.sandbox.webhooks import Delivery, WebhookSender
from django_voucherify.sync import bulk, delivery, muted, outbox
from tests.support import properties
from tests.support.webhooks import deliver

settings.register_profile(
    "event-order-ci",
    max_examples=15,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "event-order-long",
    max_examples=500,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

CUSTOMER_IDS = ["c-a", "c-b"]
ORDER_IDS = ["o-a", "o-b"]
NAMES = st.sampled_from(["Ada", "Bob", "Cy", "Dee"])
STATUSES = st.sampled_from(["CREATED", "PAID", "CANCELED", "FULFILLED"])


class Clock:
    """The shop's and Voucherify's clock: 1 ms later at every reading (no two instants equal)."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC).replace(microsecond=0)
        self.lock = threading.Lock()

    def now(self) -> datetime:
        with self.lock:
            self.at += timedelta(milliseconds=1)
            return self.at


class Captured(WebhookSender):
    """The sandbox's webhook sender, each event kept for the machine instead of posted."""

    def __init__(self) -> None:
        super().__init__(["https://shop.example/hooks/"], "unused")
        self.bodies: list[dict[str, Any]] = []

    def _push(self, due: float, delivery: Delivery) -> None:
        self.bodies.append(json.loads(delivery.body))


def _listed(objects: list[dict[str, Any]]) -> Any:
    """A client whose list holds ``objects`` (a pull page read earlier)."""
    return SimpleNamespace(
        customers=SimpleNamespace(iterate=lambda: iter(objects)),
        orders=SimpleNamespace(iterate=lambda: iter(objects)),
    )


class EventOrderMachine(RuleBasedStateMachine):
    clock: Clock

    def __init__(self) -> None:
        super().__init__()
        keys = django_settings.VOUCHERIFY
        self.sandbox = Sandbox(keys["APP_ID"], str(keys["SECRET_KEY"]), state=SandboxState(self.clock.now))
        self.sandbox.mount(django_voucherify.get_client().transport.session)
        self.sender = Captured().attach(self.sandbox)
        self.delivered: list[dict[str, Any]] = []
        self.pages: list[tuple[str, list[dict[str, Any]]]] = []
        # Orders deleted here: "pending" until the deletion row is synced, then "synced";
        # ``back``: Voucherify changed the order after that (its mirror is to come back).
        self.removed_by_shop: set[str] = set()  # Voucherify ids the shop's deletions removed
        # Customer source ids whose newest act is the shop's deletion (no save here or in
        # Voucherify since): at quiescence Voucherify holds no customer under them.
        self.deleted_last: set[str] = set()
        self.order_gone: dict[str, str] = {}
        self.order_back: set[str] = set()

    @property
    def client(self) -> Any:
        return django_voucherify.get_client()

    # ---- the shop ---------------------------------------------------------------------------
    @rule(source_id=st.sampled_from(CUSTOMER_IDS), name=NAMES)
    def save_customer(self, source_id: str, name: str) -> None:
        obj = Customer.objects.filter(source_id=source_id).first() or Customer(source_id=source_id)
        obj.name = name
        obj.save()
        self.deleted_last.discard(source_id)

    @rule(source_id=st.sampled_from(CUSTOMER_IDS))
    def delete_customer(self, source_id: str) -> None:
        if Customer.objects.filter(source_id=source_id).delete()[0]:
            self.deleted_last.add(source_id)

    @rule(source_id=st.sampled_from(ORDER_IDS), status=STATUSES)
    def save_order(self, source_id: str, status: str) -> None:
        obj = Order.objects.filter(source_id=source_id).first() or Order(source_id=source_id)
        obj.status, obj.amount = status, 1000
        obj.save()
        self.order_gone.pop(source_id, None)
        self.order_back.discard(source_id)

    @rule(source_id=st.sampled_from(ORDER_IDS))
    def delete_order(self, source_id: str) -> None:
        if Order.objects.filter(source_id=source_id).delete()[0]:
            self.order_gone[source_id] = "pending"
            self.order_back.discard(source_id)

    # ---- the outbox -------------------------------------------------------------------------
    @rule()
    def drain_outbox(self) -> None:
        with self._noting_removals():
            outbox.redrive(inline=True)
        self._note_order_deletions()

    @contextlib.contextmanager
    def _noting_removals(self) -> Iterator[None]:
        """The customers Voucherify held before the shop's sends and not after: the shop's
        deletions removed them (nothing else acts meanwhile)."""
        before = set(self.sandbox.state.customers)
        yield
        self.removed_by_shop |= before - set(self.sandbox.state.customers)

    @precondition(lambda self: OutboxEntry.objects.exclude(state=OutboxState.SYNCED).exists())
    @rule(index=st.integers(0, 10))
    def deliver_one_row(self, index: int) -> None:
        rows = list(
            OutboxEntry.objects.exclude(state=OutboxState.SYNCED).order_by("pk").values_list("pk", flat=True)
        )
        with self._noting_removals():
            delivery.deliver(rows[index % len(rows)], ignore_schedule=True)
        self._note_order_deletions()

    def _note_order_deletions(self) -> None:
        for source_id, state in list(self.order_gone.items()):
            if (
                state == "pending"
                and not OutboxEntry.objects.filter(kind="order", source_id=source_id, action="delete")
                .exclude(state=OutboxState.SYNCED)
                .exists()
            ):
                self.order_gone[source_id] = "synced"

    # ---- Voucherify, changed outside the shop -----------------------------------------------
    @rule(source_id=st.sampled_from(CUSTOMER_IDS), name=NAMES)
    def dashboard_saves_customer(self, source_id: str, name: str) -> None:
        """Renamed in Voucherify's dashboard, or made there (again) when it has none."""
        self.client.customers.create({"source_id": source_id, "name": name})
        self.deleted_last.discard(source_id)

    @rule(source_id=st.sampled_from(CUSTOMER_IDS))
    def dashboard_deletes_customer(self, source_id: str) -> None:
        held = self.sandbox.state.find_customer(source_id)
        if held is not None:
            self.client.customers.delete(held["id"])

    @rule(source_id=st.sampled_from(CUSTOMER_IDS), name=NAMES)
    def dashboard_makes_customer_again(self, source_id: str, name: str) -> None:
        """Deleted in Voucherify's dashboard and made again there with the same source id (a
        new Voucherify id): a deletion the shop addresses to the old id then answers 404."""
        self.dashboard_deletes_customer(source_id)
        self.dashboard_saves_customer(source_id, name)

    @rule(source_id=st.sampled_from(ORDER_IDS), status=STATUSES)
    def dashboard_changes_order(self, source_id: str, status: str) -> None:
        held = self.sandbox.state.find_order(source_id)
        if held is None or held.get("status") == status:
            return
        self.client.orders.update(held["id"], {"status": status})
        if self.order_gone.get(source_id) == "synced":
            self.order_back.add(source_id)

    # ---- webhook events and pulls -----------------------------------------------------------
    @precondition(lambda self: self.sender.bodies)
    @rule(index=st.integers(0, 20), by_id_only=st.booleans())
    def deliver_event(self, index: int, by_id_only: bool) -> None:
        """Any pending event (events overtake each other); a customer deletion maybe named by
        its Voucherify id only."""
        body = self.sender.bodies.pop(index % len(self.sender.bodies))
        if by_id_only and body["type"] == "customer.deleted":
            body["data"]["customer"].pop("source_id", None)
        self._deliver(body)

    @precondition(lambda self: self.delivered)
    @rule(index=st.integers(0, 20))
    def deliver_again(self, index: int) -> None:
        """Voucherify sends an event again (another sendout of it): a duplicate."""
        self._deliver(self.delivered[index % len(self.delivered)])

    def _deliver(self, body: dict[str, Any]) -> None:
        deliver(body)
        self.delivered.append(body)

    @rule(kind=st.sampled_from(["customers", "orders"]))
    def pull(self, kind: str) -> None:
        bulk.pull(kind)

    @rule(kind=st.sampled_from(["customers", "orders"]))
    def read_pull_page(self, kind: str) -> None:
        """A pull reads a page now and writes it at a later step."""
        source = self.client.customers.iterate() if kind == "customers" else self.client.orders.iterate()
        self.pages.append((kind, [dict(obj) for obj in source]))

    @precondition(lambda self: self.pages)
    @rule(index=st.integers(0, 10))
    def write_pull_page(self, index: int) -> None:
        kind, page = self.pages.pop(index % len(self.pages))
        bulk.pull(kind, client=_listed(page))

    # ---- invariants -------------------------------------------------------------------------
    @invariant()
    def no_customer_deleted_here_is_back_from_an_older_copy(self) -> None:
        """No mirror holds a copy of a customer the shop's deletions removed from Voucherify (a
        late event or an old pull page about it came after the deletion)."""
        for mirror in Customer.objects.all():
            copy = mirror.remote_payload or {}
            assert copy.get("id") not in self.removed_by_shop, (mirror.source_id, copy)

    def teardown(self) -> None:
        try:
            self.quiesce()
            self.check_quiescent()
        finally:
            with muted():
                OrderItem.objects.all().delete()
                Order.objects.all().delete()
                Customer.objects.all().delete()
                OutboxEntry.objects.all().delete()
                WebhookEvent.objects.all().delete()

    def quiesce(self) -> None:
        """Every late pull page written, every event delivered (in the order they are held),
        the outbox drained; again until nothing is left (a drain's calls emit events)."""
        for _ in range(10):
            while self.pages:
                self.write_pull_page(0)
            with self._noting_removals():
                outbox.redrive(inline=True)
            self._note_order_deletions()
            while self.sender.bodies:
                self._deliver(self.sender.bodies.pop(0))
            if not self.sender.bodies and not OutboxEntry.objects.exclude(state=OutboxState.SYNCED).exists():
                return
        raise AssertionError("not quiescent")

    def check_quiescent(self) -> None:
        state = self.sandbox.state
        for source_id in CUSTOMER_IDS:
            mirror = Customer.objects.filter(source_id=source_id).first()
            held = state.find_customer(source_id)
            assert (mirror is None) == (held is None), (source_id, mirror, held)
            # The newest act wins: a customer Voucherify made with the source id before the
            # shop's deletion (its dashboard deleted the one the shop knew) is deleted too.
            assert held is None or source_id not in self.deleted_last, (source_id, held)
            if mirror is not None:
                assert (mirror.name or None) == held.get("name"), (source_id, mirror.name, held.get("name"))
        for source_id in ORDER_IDS:
            mirror = Order.objects.filter(source_id=source_id).first()
            held = state.find_order(source_id)
            gone = self.order_gone.get(source_id) == "synced" and source_id not in self.order_back
            if mirror is not None:
                assert held is not None and mirror.status == held.get("status"), (
                    source_id,
                    mirror.status,
                    held,
                )
                assert not gone, f"order {source_id} deleted here is back"
            else:
                assert held is None or gone, (source_id, held, self.order_gone.get(source_id))


@pytest.fixture
def event_order(monkeypatch: pytest.MonkeyPatch, eager_celery: Any) -> Iterator[type[EventOrderMachine]]:
    """One clock for both sides; outbox rows wait for the machine's drains (no message sent);
    events kept for the machine; events of any date accepted."""
    clock = Clock()
    monkeypatch.setattr(timezone, "now", clock.now)
    monkeypatch.setattr(sandbox_webhooks, "_now_iso", lambda: iso(clock.now()))
    monkeypatch.setattr(EventOrderMachine, "clock", clock, raising=False)
    monkeypatch.setattr(outbox, "enqueue", lambda *a, **k: True)
    monkeypatch.setattr(delivery, "enqueue", lambda *a, **k: True)
    conf = {**django_settings.VOUCHERIFY, "MAX_RETRIES": 0, "WEBHOOK_RETENTION_DAYS": 36500}
    with override_settings(VOUCHERIFY=conf):
        django_voucherify.reset_client()
        yield EventOrderMachine
    django_voucherify.reset_client()


@pytest.mark.django_db(transaction=True)
def test_mirrors_end_as_the_newest_state_whatever_the_order_of_events(event_order):
    run_state_machine_as_test(event_order, settings=properties.chosen("event-order-ci", "event-order-long"))


@pytest.mark.django_db(transaction=True)
def test_the_machine_replays_a_deletion_by_an_id_voucherify_deleted_itself(event_order):
    """The sequence the machine's random runs rarely reach (four steps in this order): the shop's
    customer synced, Voucherify's dashboard deletes it and makes another with its source id, the
    shop deletes its mirror, the outbox drains. The shop's deletion is the newest act: Voucherify
    ends holding no customer under that source id, and the step invariants hold throughout."""
    machine = event_order()
    machine.save_customer("c-a", "Ada")
    machine.drain_outbox()
    machine.dashboard_makes_customer_again("c-a", "Bob")
    machine.delete_customer("c-a")
    machine.drain_outbox()
    machine.no_customer_deleted_here_is_back_from_an_older_copy()
    machine.teardown()
    assert machine.sandbox.state.find_customer("c-a") is None
