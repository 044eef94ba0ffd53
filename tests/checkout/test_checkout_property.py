"""Checkout against an adversary: a Hypothesis state machine over the in-process sandbox.

Rules interleave checkouts (redeem then pay; the payment may fail) of codes, of a promotion
tier and of both, cancellations, sweeps after
time passes, and workers killed in the middle of a sweep, with a fault on the request that
matters: injected by the sandbox before or after it handles the request (4xx, 5xx, 429,
timeouts, dropped connections), or by :mod:`tests.support.adversary` (a sender stalled past
its deadline, a request held by Voucherify past the grace period, an answer arriving after the
sweep ran, a worker killed before or after sending, a 2xx HTML page before or after handling).

Invariants, after every step:

1. at most one live (not rolled back) redemption per order in Voucherify;
2. every live redemption is known to the ledger: its row (found by the metadata marker) is
   PENDING/UNKNOWN (reconciliation will settle it) or SUCCEEDED/ORPHANED with its id recorded;
3. no requested rollback is ever dropped: once a row's rollback is asked for, it stays asked
   for, and a row whose order was cancelled or whose payment failed has it asked for.

At quiescence (faults off, time passes, sweeps run until nothing is left): no PENDING, UNKNOWN
or ORPHANED row; every row whose rollback was asked for is ROLLED_BACK or FAILED and holds no
live redemption; every SUCCEEDED row's redemptions are live; every paid, uncancelled checkout
kept its redemption. The ledger and Voucherify agree.

Bounded for the normal suite (profile ``checkout-ci``); ``VOUCHERIFY_PROPERTY_PROFILE=
checkout-long`` (or ``HYPOTHESIS_PROFILE=thorough``) runs many more examples (docs/checkout.md).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

import django_voucherify
from django_voucherify import checkout
from django_voucherify.models import CheckoutRedemption, LedgerState
from django_voucherify.tasks.checkout import checkout_sweep
from tests.support import adversary, properties
from tests.support.checkout import REDEEM_CALL, checkout_checks, checkout_conf, live_redemptions, marker_of
from tests.support.vouchers import make_tier, make_voucher

pytestmark = pytest.mark.django_db(transaction=True)

_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
}
settings.register_profile("checkout-ci", max_examples=80, stateful_step_count=20, **_COMMON)
settings.register_profile("checkout-long", max_examples=500, stateful_step_count=40, **_COMMON)

#: Settings that pass every system check (E024: 60 s grace > 3.05 + 2 * 0.05 s).
CONF = {
    "CONNECT_TIMEOUT": 3.05,
    "READ_TIMEOUT": 0.2,
    "CHECKOUT_TIMEOUT": 0.05,
    "CHECKOUT_RECONCILE_GRACE": 60,
    "CHECKOUT_ROLLBACK_BACKOFF": 1,
    "CHECKOUT_ROLLBACK_BACKOFF_MAX": 30,
    "CHECKOUT_RECONCILE_MAX_ATTEMPTS": 3,
    "CHECKOUT_ATTENTION_INTERVAL": 120,
}
PAST_EVERYTHING = 4000.0  # seconds: beyond the grace, every lease (300 s), backoff and interval

ORDERS = ("ORD-A", "ORD-B", "ORD-C")
TIER = "<tier>"  # stands for the promotion tier made for the run (its id is known at run time)
#: Single and stacked (parent) redemptions, of codes, of a promotion tier, and of both.
CODES = (["FIVE"], ["TEN"], ["FIVE", "TEN"], [TIER], ["FIVE", TIER])

ROLLBACK = ("POST", "/v1/redemptions/*/rollback*")
LIST = ("GET", "/v1/redemptions")

#: Sandbox faults: (keyword arguments of ``faults.add``).
SANDBOX_FAULTS = [
    {"status": 400},
    {"status": 401},
    {"status": 403},
    {"status": 404},
    {"status": 429},
    {"status": 500},
    {"status": 502},
    {"status": 503},
    {"status": 504},
    {"drop": True},
    {"drop": True, "after": True},
    {"status": 500, "after": True},
    {"latency": 0.06},
    {"latency": 0.06, "after": True},  # longer than CHECKOUT_TIMEOUT
]
#: Adversary plans for the redeem (the action, where one applies, is chosen by the rule).
REDEEM_PLANS = [
    adversary.STALL_BEFORE_SEND,
    adversary.HELD_BY_SERVER,
    adversary.LATE_ANSWER,
    adversary.CRASH_BEFORE,
    adversary.CRASH_AFTER,
    adversary.HTML_BEFORE,
    adversary.HTML_AFTER,
]

faults = st.none() | st.sampled_from(SANDBOX_FAULTS) | st.sampled_from(REDEEM_PLANS)
read_faults = st.none() | st.sampled_from([{"status": 500}, {"status": 503}, {"drop": True}, {"status": 401}])


class PaymentDeclined(Exception):
    pass


class CheckoutMachine(RuleBasedStateMachine):
    sandbox: Any = None
    tier_id: str = ""
    clock: adversary.Clock | None = None
    interceptor: adversary.Interceptor | None = None

    #: What the run exercised (the test asserts it is not vacuous).
    examples = 0
    steps: dict[str, int] = {}

    def __init__(self) -> None:
        super().__init__()
        CheckoutMachine.examples += 1
        CheckoutRedemption.objects.all().delete()
        self.sandbox.faults.clear()
        assert self.interceptor is not None
        self.interceptor.plans.clear()
        for redemption in live_redemptions(self.sandbox):  # previous examples' leftovers
            redemption["status"] = "ROLLED_BACK"
        self.asked: set[int] = set()  # rows whose rollback was asked for (must never be dropped)
        self.must_undo: set[int] = set()  # rows of cancelled orders / failed payments
        self.paid: dict[int, str] = {}  # row -> order of checkouts paid with the discount

    # --- helpers ------------------------------------------------------------------------------
    def _fault(self, target: tuple[str, str], fault: Any, action: Any = None) -> None:
        name = "none" if fault is None else str(fault)
        CheckoutMachine.steps[name] = CheckoutMachine.steps.get(name, 0) + 1
        if fault is None:
            return
        method, path = target
        if isinstance(fault, dict):
            self.sandbox.faults.add(path=path, method=method, times=1, **fault)
        else:
            assert self.interceptor is not None
            self.interceptor.arm(fault, action, method=method, path=path)

    def _sweep_after(self, seconds: float) -> None:
        assert self.clock is not None
        self.clock.advance(seconds)
        checkout_sweep()

    def _quiet(self) -> None:
        self.sandbox.faults.clear()
        assert self.interceptor is not None
        self.interceptor.plans.clear()

    # --- rules --------------------------------------------------------------------------------
    @initialize()
    def start(self) -> None:
        self._quiet()

    @rule(
        order=st.sampled_from(ORDERS),
        codes=st.sampled_from(CODES),
        pay_ok=st.booleans(),
        fault=faults,
        meanwhile=st.sampled_from(["sweep", "cancel"]),
    )
    def place_order(self, order: str, codes: list[str], pay_ok: bool, fault: Any, meanwhile: str) -> None:
        def during() -> None:  # what happens while the request is stalled or in flight
            if meanwhile == "cancel" and fault == adversary.LATE_ANSWER:
                self._cancel(order)
            else:
                self._sweep_after(PAST_EVERYTHING)

        self._fault(REDEEM_CALL, fault, during)

        def pay(outcome: checkout.RedeemOutcome) -> str:
            if not pay_ok:
                raise PaymentDeclined
            return "paid"

        newest = CheckoutRedemption.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        redeemables = [checkout.Redeemable.tier(self.tier_id) if c == TIER else c for c in codes]
        try:
            paid = checkout.redeem_then_pay(redeemables, {"source_id": order, "amount": 10_000}, pay)
        except PaymentDeclined:  # this attempt's redemption must be undone
            self.must_undo.update(
                CheckoutRedemption.objects.filter(order_source_id=order, pk__gt=newest).values_list(
                    "pk", flat=True
                )
            )
        except (checkout.CheckoutError, adversary.WorkerCrash):
            pass
        else:
            if paid.redemption.applied:
                self.paid[paid.redemption.ledger.pk] = order
        finally:
            self._quiet()

    def _cancel(self, order: str) -> None:
        live = checkout.rollback_order(order, "order cancelled")
        self.must_undo.update(row.pk for row in live)
        for pk in [pk for pk, o in self.paid.items() if o == order]:
            self.paid.pop(pk)

    @rule(order=st.sampled_from(ORDERS), fault=st.none() | st.sampled_from(SANDBOX_FAULTS))
    def cancel(self, order: str, fault: Any) -> None:
        self._fault(ROLLBACK, fault)
        try:
            self._cancel(order)
        finally:
            self._quiet()

    @rule(
        seconds=st.sampled_from([0.0, 30.0, 61.0, 400.0, PAST_EVERYTHING]),
        read_fault=read_faults,
        rollback_fault=st.none() | st.sampled_from(SANDBOX_FAULTS),
    )
    def sweep(self, seconds: float, read_fault: Any, rollback_fault: Any) -> None:
        self._fault(LIST, read_fault)
        self._fault(ROLLBACK, rollback_fault)
        try:
            self._sweep_after(seconds)
        finally:
            self._quiet()

    @rule(
        where=st.sampled_from(
            [
                (LIST, adversary.CRASH_BEFORE),
                (ROLLBACK, adversary.CRASH_BEFORE),
                (ROLLBACK, adversary.CRASH_AFTER),
            ]
        )
    )
    def worker_killed_during_sweep(self, where: tuple[tuple[str, str], str]) -> None:
        target, kind = where
        self._fault(target, kind)
        try:
            self._sweep_after(PAST_EVERYTHING)
        except adversary.WorkerCrash:
            pass  # its lease expires; the next sweep sends the row's task again
        finally:
            self._quiet()

    # --- invariants ---------------------------------------------------------------------------
    def _rows_by_marker(self) -> dict[str, CheckoutRedemption]:
        return {str(row.reference): row for row in CheckoutRedemption.objects.all()}

    @invariant()
    def one_live_redemption_per_order_all_known(self) -> None:
        rows = self._rows_by_marker()
        live_orders: dict[str, set[str]] = {}
        for redemption in live_redemptions(self.sandbox):
            row = rows.get(str(marker_of(redemption)))
            assert row is not None, f"redemption {redemption['id']} has no ledger row"
            live_orders.setdefault(row.order_source_id, set()).add(str(row.reference))
            if row.state in (LedgerState.PENDING, LedgerState.UNKNOWN):
                continue  # reconciliation settles it
            assert row.state in (LedgerState.SUCCEEDED, LedgerState.ORPHANED), (
                f"live redemption {redemption['id']} but ledger row {row.pk} is {row.state}"
            )
            assert redemption["id"] in row.redemption_ids, (row.pk, redemption["id"])
        for order, attempts in live_orders.items():
            assert len(attempts) <= 1, f"order {order}: live redemptions of attempts {attempts}"

    @invariant()
    def no_requested_rollback_is_dropped(self) -> None:
        rows = {row.pk: row for row in CheckoutRedemption.objects.all()}
        self.asked.update(pk for pk, row in rows.items() if row.rollback_requested_at is not None)
        for pk in self.asked:
            assert rows[pk].rollback_requested_at is not None, f"rollback of row {pk} dropped"
        for pk in self.must_undo:
            row = rows[pk]
            assert row.rollback_requested_at is not None or row.state in (
                LedgerState.FAILED,
                LedgerState.ROLLED_BACK,
                LedgerState.PENDING,
            ), (pk, row.state)

    def teardown(self) -> None:
        """Quiescence: Voucherify behaves, time passes, the sweep runs until nothing is left."""
        self._quiet()
        assert self.clock is not None
        for _ in range(12):
            self._sweep_after(PAST_EVERYTHING)
            stale = self.clock.now() - timedelta(seconds=CONF["CHECKOUT_RECONCILE_GRACE"])
            if not CheckoutRedemption.objects.needing_work(stale).exists():
                break
        rows = list(CheckoutRedemption.objects.all())
        live = {r["id"] for r in live_redemptions(self.sandbox)}
        by_marker: dict[str, set[str]] = {}
        for redemption in live_redemptions(self.sandbox):
            by_marker.setdefault(str(marker_of(redemption)), set()).add(redemption["id"])
        for row in rows:
            assert row.state not in (LedgerState.PENDING, LedgerState.UNKNOWN, LedgerState.ORPHANED), (
                f"row {row.pk} still {row.state} at quiescence"
            )
            mine = by_marker.get(str(row.reference), set())
            if row.state == LedgerState.SUCCEEDED:
                assert row.rollback_requested_at is None, f"row {row.pk}: rollback never done"
                assert set(row.redemption_ids) <= live and mine == set(row.redemption_ids), row.pk
            else:
                assert not mine, f"row {row.pk} is {row.state} but holds live redemptions {mine}"
            if row.pk in self.asked or row.pk in self.must_undo:
                assert row.state in (LedgerState.ROLLED_BACK, LedgerState.FAILED), (row.pk, row.state)
        for pk in self.paid:
            row = next(r for r in rows if r.pk == pk)
            assert row.state == LedgerState.SUCCEEDED, f"paid checkout {pk} lost its redemption"


def _profile() -> settings:
    return properties.chosen("checkout-ci", "checkout-long")


def test_checkout_state_machine(sandbox):
    for code, amount in (("FIVE", 500), ("TEN", 1000)):
        make_voucher(code, amount_off=amount)
    with override_settings(VOUCHERIFY=checkout_conf(**CONF)):
        assert [m.id for m in checkout_checks() if m.is_serious()] == []
        django_voucherify.reset_client()
        CheckoutMachine.sandbox = sandbox
        CheckoutMachine.tier_id = make_tier(amount_off=300)["id"]
        CheckoutMachine.examples, CheckoutMachine.steps = 0, {}
        CheckoutMachine.interceptor = adversary.intercept(sandbox)
        CheckoutMachine.clock = adversary.Clock(sandbox).install()
        try:
            run_state_machine_as_test(CheckoutMachine, settings=_profile())
            print("checkout state machine:", CheckoutMachine.examples, "examples;", CheckoutMachine.steps)
            assert CheckoutMachine.examples and sum(CheckoutMachine.steps.values())  # not vacuous
            kinds = {r.get("related_object_type") for r in sandbox.state.redemptions.values()}
            assert "promotion_tier" in kinds, kinds  # tiers were redeemed, not only drawn
        finally:
            CheckoutMachine.clock.uninstall()
            django_voucherify.reset_client()
