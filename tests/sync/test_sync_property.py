"""Stateful property test of sync against the sandbox: nothing lost, nothing stale, refusals said.

Hypothesis drives random interleavings of: saves (create/update) and deletes of customers and
orders (source ids reused after deletions), payloads Voucherify really refuses (a customer whose
name starts with ``REFUSE``, an order with status ``BOGUS``), one-shot faults before or after
Voucherify handles a request (500/502/503, 429, dropped connections, timeouts, answers lost),
saves landing while a call is in flight (before or after Voucherify handled it), worker crashes
(a claim whose worker died, with or without its call sent), stalled workers resuming after
their lease ran out, Celery messages lost, time jumping past every lease, and re-drives.

Deliveries run as the Celery task does (retry on ``retry_in``), from a simulated broker the test
controls. At quiescence (faults cleared, leases expired, re-drives and all messages run):
- every live customer/order mirror whose current payload is acceptable is ``synced`` and
  Voucherify holds exactly its last saved version;
- every mirror whose current payload is refused is ``failed`` with Voucherify's error, and a
  mirror is ``failed`` for no other reason;
- no customer deleted here is held by Voucherify.

Bounded for the normal suite (profile ``sync-ci``, a few seconds); run many more examples with
``HYPOTHESIS_PROFILE=thorough`` (profile ``sync-long``, 1000 examples) or
``VOUCHERIFY_PROPERTY_EXAMPLES=N``
(see docs/sync.md).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.cache import caches
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
from django_voucherify import background
from django_voucherify.api.errors import VoucherifyError
from django_voucherify.models import Customer, Order, OrderItem, OutboxEntry, OutboxState, SyncState
from django_voucherify.sandbox import Sandbox
from django_voucherify.sandbox.errors import invalid_payload
from django_voucherify.sandbox.routing import SandboxResponse
from django_voucherify.sync import batches, claims, delivery, drain, muted, outbox
from tests.support import properties

settings.register_profile(
    "sync-ci",
    max_examples=20,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "sync-long",
    max_examples=1000,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _profile() -> settings:
    return properties.chosen("sync-ci", "sync-long")


CUSTOMER_IDS = ["c-a", "c-b", "c-c"]
ORDER_IDS = ["o-a", "o-b"]
NAMES = st.sampled_from(["Ada", "Bob", "Cy", "REFUSE-1", "REFUSE-2"])
STATUSES = st.sampled_from(["CREATED", "PAID", "BOGUS"])
FAULTS = st.sampled_from(
    [
        {"status": 500},
        {"status": 502},
        {"status": 503},
        {"status": 429, "retry_after": 0.01},
        {"drop": True},
        {"latency": 0.2},
        {"drop": True, "after": True},
        {"latency": 0.2, "after": True},
        {"status": 500, "after": True},
    ]
)


def refused(kind: str, payload: dict[str, Any]) -> bool:
    """Whether Voucherify refuses this payload (the sandbox, plus the name rule added here)."""
    if kind == "customer":
        return str(payload.get("name") or "").startswith("REFUSE")
    return payload.get("status") == "BOGUS"


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> Any:
        return REAL_NOW() + self.offset


REAL_NOW = timezone.now
REAL_PAYLOAD = {"customer": Customer.to_voucherify, "order": Order.to_voucherify}


def payload(kind: str, mirror: Any) -> dict[str, Any]:
    """The mirror's payload, read without the machine's stall hook."""
    return dict(REAL_PAYLOAD[kind](mirror))


class SyncMachine(RuleBasedStateMachine):
    """One shop database + one Voucherify account; see the module docstring."""

    clock: Clock
    batch_size = 1  # SYNC_BATCH_SIZE of the simulated delivery tasks

    def __init__(self) -> None:
        super().__init__()
        self.broker: list[tuple[int, bool]] = []
        self.zombies: list[Any] = []
        self.in_flight: list[tuple[str, Any]] = []  # (phase, action) run at the next request
        self.after_next_read: list[Any] = []  # run once the next payload was read (a stall)
        self.sandbox = Sandbox()
        self.sandbox.mount(django_voucherify.get_client().transport.session)
        real_handle = self.sandbox.handle_environ

        def handle(environ: dict[str, Any]) -> Any:
            pending, self.in_flight = self.in_flight, []
            for phase, action in pending:
                if phase == "before":
                    action(environ)
            response = self._refuse(environ) or real_handle(environ)
            for phase, action in pending:
                if phase == "after":
                    action(environ)  # Voucherify handled it; the answer is not back yet
            return response

        self.sandbox.handle_environ = handle  # type: ignore[method-assign]

    @staticmethod
    def _refuse(environ: dict[str, Any]) -> SandboxResponse | None:
        if environ["REQUEST_METHOD"] != "POST" or environ["PATH_INFO"] != "/v1/customers":
            return None
        body = environ["wsgi.input"].getvalue()
        if not refused("customer", json.loads(body or b"{}")):
            return None
        error = invalid_payload("name refused by this test's rule")
        response = SandboxResponse(error.status, error.to_body("v-refused"), {})
        response.headers["X-Request-Id"] = "v-refused"
        return response

    # ---- the shop ---------------------------------------------------------------------------
    @rule(source_id=st.sampled_from(CUSTOMER_IDS), name=NAMES)
    def save_customer(self, source_id: str, name: str) -> None:
        obj = Customer.objects.filter(source_id=source_id).first() or Customer(source_id=source_id)
        obj.name = name
        obj.save()

    @rule(source_id=st.sampled_from(CUSTOMER_IDS))
    def delete_customer(self, source_id: str) -> None:
        Customer.objects.filter(source_id=source_id).delete()

    @rule(source_id=st.sampled_from(ORDER_IDS), status=STATUSES, amount=st.integers(0, 5))
    def save_order(self, source_id: str, status: str, amount: int) -> None:
        obj = Order.objects.filter(source_id=source_id).first() or Order(source_id=source_id)
        obj.status, obj.amount = status, amount * 100
        obj.save()

    @rule(source_id=st.sampled_from(ORDER_IDS))
    def delete_order(self, source_id: str) -> None:
        Order.objects.filter(source_id=source_id).delete()

    @rule(phase=st.sampled_from(["before", "after"]), source_id=st.sampled_from(CUSTOMER_IDS), name=NAMES)
    def save_customer_during_next_call(self, phase: str, source_id: str, name: str) -> None:
        self.in_flight.append((phase, lambda environ: self.save_customer(source_id, name)))

    @rule(phase=st.sampled_from(["before", "after"]), source_id=st.sampled_from(ORDER_IDS), status=STATUSES)
    def save_order_during_next_call(self, phase: str, source_id: str, status: str) -> None:
        self.in_flight.append((phase, lambda environ: self.save_order(source_id, status, 1)))

    @rule(phase=st.sampled_from(["before", "after"]), source_id=st.sampled_from(CUSTOMER_IDS))
    def delete_customer_during_next_call(self, phase: str, source_id: str) -> None:
        self.in_flight.append((phase, lambda environ: self.delete_customer(source_id)))

    def _take_over(self, kind: str, source_id: str, value: str) -> None:
        """This sender stalls past its lease; meanwhile a save lands and another sender sends it."""
        self.clock.offset += outbox.lease() + timedelta(seconds=1)
        if kind == "customer":
            self.save_customer(source_id, value)
        else:
            self.save_order(source_id, value, 2)
        model = Customer if kind == "customer" else Order
        pk = model.objects.filter(source_id=source_id).values_list("pk", flat=True).first()
        for entry_id in OutboxEntry.objects.filter(kind=kind, object_pk=str(pk)).values_list("pk", flat=True):
            self._run(entry_id, True)

    @rule(
        kind=st.sampled_from(["customer", "order"]),
        phase=st.sampled_from(["read", "before", "after"]),
        name=NAMES,
        status=STATUSES,
        deletion=st.booleans(),
    )
    def sender_stalls_past_its_lease(
        self, kind: str, phase: str, name: str, status: str, deletion: bool = False
    ) -> None:
        """A sender of a ``kind`` row (an upsert, or with ``deletion`` a deletion) stalls past its
        lease after reading its payload (``read``), or while its call is on the wire, before or
        after Voucherify handled it; meanwhile its object (or a new one with the deleted one's
        source_id) is saved and another sender takes the row over and sends the new state."""

        def take_over(target: tuple[str, str] | None) -> None:
            if target is not None:
                self._take_over(target[0], target[1], name if target[0] == "customer" else status)

        actions = ["delete", "erase"] if deletion else ["upsert"]
        rows = OutboxEntry.objects.filter(kind=kind, action__in=actions)
        if deletion:
            rows = rows.exclude(state=OutboxState.SYNCED)  # a synced deletion is not sent again
        entry_ids = list(rows.values_list("pk", flat=True))
        if not entry_ids:
            return
        if phase == "read":
            self.after_next_read.append(lambda mirror: take_over((mirror.sync_kind, mirror.source_id)))
        else:
            self.in_flight.append((phase, lambda environ: take_over(_target(environ))))
        self._run(entry_ids[0], True)

    # ---- Voucherify and the network ---------------------------------------------------------
    @rule(fault=FAULTS, path=st.sampled_from(["/v1/customers*", "/v1/orders*"]))
    def inject_fault(self, fault: dict[str, Any], path: str) -> None:
        self.sandbox.faults.add(path=path, times=1, **fault)

    # ---- workers and the broker -------------------------------------------------------------
    @precondition(lambda self: self.broker)
    @rule(index=st.integers(0, 10))
    def run_task(self, index: int) -> None:
        entry_id, retry = self.broker.pop(index % len(self.broker))
        self._run(entry_id, retry)

    def _run(self, entry_id: int, retry: bool) -> None:
        """What the delivery task does: its row and a batch of other due rows; a drain message
        (``DRAIN``, with ``SYNC_DRAIN_CACHE``): every due row, a batch at a time."""
        if entry_id == DRAIN:
            delivered = batches.drain_due(limit=self.batch_size)
        else:
            delivered = batches.deliver_batch(entry_id, ignore_schedule=retry, limit=self.batch_size)
        for sent_id, outcome in delivered:
            if outcome.retry_in is not None:  # the task's retry (countdown=...)
                self.broker.append((sent_id, True))

    @precondition(lambda self: self.broker)
    @rule(index=st.integers(0, 10))
    def lose_task(self, index: int) -> None:
        """The broker or a worker lost the message before the row was claimed."""
        self.broker.pop(index % len(self.broker))

    @rule(kind=st.sampled_from(["customer", "order"]), send=st.booleans())
    def worker_dies_holding_a_claim(self, kind: str, send: bool) -> None:
        """A worker claims a row and dies (or stalls) before recording, maybe after its call."""
        for entry_id in OutboxEntry.objects.filter(kind=kind).values_list("pk", flat=True):
            claim = claims.claim(entry_id, ignore_schedule=True)
            if claim is None:
                continue
            if send:
                with contextlib.suppress(VoucherifyError, delivery.LeaseExpiring):
                    delivery._send(django_voucherify.get_client(), claim)
            self.zombies.append(claim)
            return

    @precondition(lambda self: self.zombies)
    @rule()
    def stalled_worker_resumes(self) -> None:
        """A worker that stalled after its claim carries on (maybe long after its lease)."""
        delivery.deliver_claimed(self.zombies.pop(0))

    @rule()
    def time_passes_beyond_every_lease(self) -> None:
        self.clock.offset += outbox.lease() + timedelta(seconds=1)

    @rule()
    def periodic_redrive(self) -> None:
        outbox.redrive()

    # ---- invariants -------------------------------------------------------------------------
    @invariant()
    def failed_only_when_refused_or_temporary(self) -> None:
        """At any time, a permanently failed row is one whose current payload is refused."""
        for entry in OutboxEntry.objects.filter(state=OutboxState.FAILED, due_at__isnull=True):
            mirror = _mirror(entry)
            assert mirror is not None and refused(entry.kind, payload(entry.kind, mirror)), (
                f"{entry} failed for good, but its current payload is acceptable: {entry.last_error}"
            )

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

    def quiesce(self) -> None:
        self.sandbox.faults.clear()
        self.in_flight = []
        self.after_next_read = []
        self.zombies = []  # dead for good: their leases run out below
        for _ in range(30):
            self.clock.offset += outbox.lease() + timedelta(seconds=1)
            outbox.redrive()
            while self.broker:
                self._run(*self.broker.pop(0))
            busy = OutboxEntry.objects.exclude(state=OutboxState.SYNCED).exclude(
                state=OutboxState.FAILED, due_at__isnull=True
            )
            if not busy.exists():
                return
        raise AssertionError(f"not quiescent: {list(busy)}")

    def check_quiescent(self) -> None:
        state = self.sandbox.state
        for customer in Customer.objects.all():
            self._check_mirror(
                "customer",
                customer,
                state.find_customer(customer.source_id),
                lambda remote, c=customer: remote.get("name") == (c.name or None),
            )
        for order in Order.objects.all():
            self._check_mirror(
                "order",
                order,
                state.find_order(order.source_id),
                lambda remote, o=order: (remote.get("status"), remote.get("amount")) == (o.status, o.amount),
            )
        live = set(Customer.objects.values_list("source_id", flat=True))
        for source_id in set(CUSTOMER_IDS) - live:
            assert state.find_customer(source_id) is None, f"deleted customer {source_id} still in Voucherify"

    @staticmethod
    def _check_mirror(kind: str, mirror: Any, remote: Any, same: Any) -> None:
        entry = OutboxEntry.objects.get(kind=kind, object_pk=str(mirror.pk))
        if refused(kind, payload(kind, mirror)):
            assert (entry.state, mirror.sync_state) == (OutboxState.FAILED, SyncState.FAILED), (entry, mirror)
            assert mirror.last_error and mirror.last_error_key == "invalid_payload", mirror.last_error
            return
        assert (entry.state, mirror.sync_state) == (OutboxState.SYNCED, SyncState.SYNCED), (
            entry,
            mirror.sync_state,
            entry.last_error,
        )
        assert entry.delivered_version == entry.version
        assert remote is not None and same(remote), (kind, mirror.source_id, remote)


def _target(environ: dict[str, Any]) -> tuple[str, str] | None:
    """(kind, source_id) of the object a customer/order upsert request carries."""
    path = str(environ["PATH_INFO"])
    kind = "customer" if path.startswith("/v1/customers") else "order"
    if environ["REQUEST_METHOD"] == "DELETE" and kind == "customer":  # DELETE /v1/customers/{id}
        target = path.rsplit("/", 1)[1]
        if target in CUSTOMER_IDS:
            return kind, target
        known = OutboxEntry.objects.filter(kind=kind, remote_id=target).values_list("source_id", flat=True)
        return (kind, known[0]) if known else None
    body = environ["wsgi.input"].getvalue()
    source_id = (
        (json.loads(body) if body else {}).get("source_id") if environ["REQUEST_METHOD"] != "DELETE" else None
    )
    if not source_id and kind == "order" and path.count("/") == 3:  # PUT /v1/orders/{id}
        source_id = (
            Order.objects.filter(voucherify_id=path.rsplit("/", 1)[1])
            .values_list("source_id", flat=True)
            .first()
        )
    return (kind, source_id) if source_id else None


def _stalling(read: Any, current: dict[str, Any]) -> Any:
    """``to_voucherify`` that runs the machine's ``after_next_read`` actions once it has read."""

    def to_voucherify(self: Any) -> dict[str, Any]:
        data = read(self)
        machine = current.get("machine")
        if machine is not None and machine.after_next_read:
            actions, machine.after_next_read = machine.after_next_read, []
            for action in actions:
                action(self)
        return dict(data)

    return to_voucherify


#: A ``drain_outbox`` message in the machine's broker (entry ids are positive).
DRAIN = -1


def _mirror(entry: OutboxEntry) -> Any:
    model = Customer if entry.kind == "customer" else Order
    return model.objects.filter(pk=entry.object_pk).first()


@pytest.fixture
def quick_sync(monkeypatch: pytest.MonkeyPatch, voucherify_sandbox: Any) -> Iterator[SyncMachine]:
    """Short timeouts (an injected latency times out at once), fast retries, a test broker."""
    conf = dict(django_settings.VOUCHERIFY)
    conf.update(
        SYNC_MAX_ATTEMPTS=3,
        SYNC_RETRY_BACKOFF=0.01,
        SYNC_RETRY_BACKOFF_MAX=0.05,
        MAX_RETRIES=0,
        READ_TIMEOUT=0.05,
        CONNECT_TIMEOUT=0.05,
    )
    clock = Clock()
    monkeypatch.setattr(timezone, "now", clock.now)
    monkeypatch.setattr(SyncMachine, "clock", clock, raising=False)
    with override_settings(VOUCHERIFY=conf):
        django_voucherify.reset_client()
        machine_broker: dict[str, Any] = {}

        def enqueue(entry_id: int, *, retry: bool = False) -> bool:
            machine_broker["current"].append((entry_id, retry))
            return True

        original_init = SyncMachine.__init__

        def init(self: SyncMachine) -> None:
            original_init(self)
            machine_broker["current"] = self.broker
            machine_broker["machine"] = self

        monkeypatch.setattr(SyncMachine, "__init__", init)
        for model in (Customer, Order):
            monkeypatch.setattr(model, "to_voucherify", _stalling(model.to_voucherify, machine_broker))
        monkeypatch.setattr(outbox, "enqueue", enqueue)
        monkeypatch.setattr(delivery, "enqueue", enqueue)
        real_send = background.send

        def send(name: str, *args: Any, **kwargs: Any) -> bool:
            if name != drain.DRAIN_TASK:
                return real_send(name, *args, **kwargs)
            machine_broker["current"].append((DRAIN, False))
            return True

        monkeypatch.setattr(background, "send", send)
        yield SyncMachine
    django_voucherify.reset_client()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("batch_size", [1, 3])
def test_sync_converges_to_the_last_saved_version(quick_sync, monkeypatch, batch_size):
    """Each delivery task sends its own row only (1), or a batch of due rows (3: the rows of a
    few saves; the deliveries of ``SYNC_BATCH_SIZE`` in tasks.sync)."""
    monkeypatch.setattr(quick_sync, "batch_size", batch_size)
    run_state_machine_as_test(quick_sync, settings=_profile())


@pytest.mark.django_db(transaction=True)
def test_sync_converges_with_one_drain_per_burst(quick_sync, monkeypatch):
    """``SYNC_DRAIN_CACHE`` on: saves send a drain message only when none is queued (lost
    ones included: the flag then stays set and the re-drives deliver), drains send due rows
    3 at a time; the same faults, crashes, stalls and invariants as above."""
    monkeypatch.setattr(quick_sync, "batch_size", 3)
    caches_setting = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "drain": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "drain-machine"},
    }
    values = {**django_settings.VOUCHERIFY, "SYNC_DRAIN_CACHE": "drain"}
    original_init = quick_sync.__init__

    def init(self: SyncMachine) -> None:
        original_init(self)
        caches["drain"].clear()  # each example starts with no drain queued

    monkeypatch.setattr(quick_sync, "__init__", init)
    with override_settings(CACHES=caches_setting, VOUCHERIFY=values):
        run_state_machine_as_test(quick_sync, settings=_profile())


# ---- scenarios the machine found, kept as explicit regression tests ---------------------------
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("delete_phase", ["before", "after"])
@pytest.mark.parametrize("stall_phase", ["read", "before", "after"])
def test_late_upsert_of_a_deleted_customer_is_undone_for_the_new_one(quick_sync, delete_phase, stall_phase):
    """Found by the machine (it reverted the first outbox-at-scale merge, but main failed it as
    well): c-a is saved; during the call sending it, c-a is deleted; the sender stalls past its
    lease while a NEW c-a (another primary key, another outbox row) is saved and sent, the old
    row's deletion first. The stalled upsert then lands, or its answer comes back late: the old
    row's lost-claim record re-sent only ITS row (the deletion: Voucherify lost c-a while the new
    mirror said synced). Now the new c-a's row is sent again too, after the deletion."""
    machine = quick_sync()
    machine.save_customer("c-a", "Ada")
    machine.delete_customer_during_next_call(delete_phase, "c-a")
    machine.sender_stalls_past_its_lease("customer", stall_phase, "Bob", "CREATED")
    machine.teardown()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("stall_phase", ["before", "after"])
def test_late_deletion_is_undone_for_the_new_customer(quick_sync, stall_phase):
    """The same with a stalled DELETION by source_id (the customer was never sent, so its
    Voucherify id is unknown): c-a is saved and deleted; the deletion's sender stalls on the wire
    while a new c-a is saved and sent (the deletion taken over first); the late deletion then
    removes the new c-a from Voucherify: the new c-a's row must be sent again."""
    machine = quick_sync()
    machine.save_customer("c-a", "Ada")
    machine.delete_customer("c-a")
    machine.broker.clear()  # the deletion is sent by the stalled sender below
    machine.sender_stalls_past_its_lease("customer", stall_phase, "Bob", "CREATED", deletion=True)
    machine.teardown()


@pytest.mark.django_db(transaction=True)
def test_late_update_of_a_deleted_order_is_undone_for_the_new_one(quick_sync):
    """Orders: Voucherify has no order deletion and knows an order by its source_id. o-a's update
    is on the wire when o-a is deleted and a new o-a is saved; the update's sender stalls past its
    lease while the new o-a is sent. The new o-a waits for the old row (as a customer waits for an
    earlier deletion), takes it over once its lease ran out, and is sent; the late update then
    lands on it: the new o-a's row must be sent again."""
    machine = quick_sync()
    machine.save_order("o-a", "CREATED", 1)
    machine.run_task(0)
    machine.save_order("o-a", "PAID", 1)
    machine.broker.clear()

    def delete_and_take_over(environ: Any) -> None:
        machine.delete_order("o-a")
        machine._take_over("order", "o-a", "CREATED")

    machine.in_flight.append(("before", delete_and_take_over))
    entry_id = OutboxEntry.objects.get(kind="order", action="upsert").pk
    machine._run(entry_id, True)
    machine.teardown()
