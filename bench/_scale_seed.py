"""Seeding for bench/sandbox_scale.py: a sandbox state filled in-process (no HTTP), with the
objects the handlers build, timestamps one millisecond apart with bursts sharing one, and a
third of the objects updated later (so ``updated_at`` orders and windows have work to do).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django_voucherify.sandbox.handlers.vouchers import build_voucher
from django_voucherify.sandbox.objects import new_customer
from django_voucherify.sandbox.routing import SandboxRequest
from django_voucherify.sandbox.state import SandboxState, iso

BASE = datetime(2024, 1, 1, tzinfo=UTC)
CAMPAIGNS = 10  # filters on one campaign match a tenth of the vouchers at every size
BURST_EVERY, BURST = 997, 30  # every 997th object starts a burst of 30 in one millisecond


class StepClock:
    def __init__(self) -> None:
        self.now = BASE

    def __call__(self) -> datetime:
        return self.now

    def step(self, index: int) -> None:
        if not 0 < index % BURST_EVERY < BURST:
            self.now += timedelta(milliseconds=1)


def _touch(coll: Any, key: str) -> None:
    touch = getattr(coll, "touch", None)  # absent before the indexed store (a "before" run)
    if touch is not None:
        touch(key)


def midpoint(size: int) -> str:
    """A created_at instant about halfway through a store of ``size`` objects."""
    return iso(BASE + timedelta(milliseconds=size // 2))


def seed_vouchers(state: SandboxState, size: int, clock: StepClock) -> None:
    built = []
    for n in range(size):
        camp = n % CAMPAIGNS
        payload = {
            "type": "DISCOUNT_VOUCHER",
            "discount": {"type": "AMOUNT", "amount_off": 100},
            "category": f"cat{camp}",
            "campaign": f"Campaign {camp}",
            "campaign_id": f"camp_{camp}",
        }
        # Codes not in creation order, so the code ordering is not the creation ordering.
        built.append(build_voucher(state, f"C{(n * 7_919) % size:07d}-{n}", payload))
        clock.step(n)
    later = iso(clock.now + timedelta(seconds=1))
    put_many = getattr(state, "put_vouchers", None)  # absent before the bulk load (a "before" run)
    if put_many is None:
        for voucher in built:
            state.put_voucher(voucher)
        for n, voucher in enumerate(built):
            if n % 3 == 0:
                voucher["updated_at"] = later
                _touch(state.vouchers, voucher["code"])
        return
    # A third updated later: stamped before the one bulk load (the CSV import's store path,
    # state.put_vouchers), which indexes them exactly as an update and a touch would.
    for n, voucher in enumerate(built):
        if n % 3 == 0:
            voucher["updated_at"] = later
    put_many(built)


def seed_customers(state: SandboxState, size: int, clock: StepClock) -> None:
    for n in range(size):
        cust = new_customer(state.new_id("cust_"), f"src-{(n * 7_919) % size:07d}-{n}", iso(clock()))
        cust["email"] = f"c{n % CAMPAIGNS}@example.com"
        state.customers[cust["id"]] = cust
        clock.step(n)


def seed_orders(state: SandboxState, size: int, clock: StepClock) -> None:
    for n in range(size):
        oid = state.new_id("ord_")
        order = {
            "id": oid,
            "source_id": f"o-{n}",
            "created_at": iso(clock()),
            "updated_at": None,
            "status": "PAID",
            "amount": 1000,
            "metadata": {},
            "customer_id": None,
            "referrer_id": None,
            "object": "order",
            "redemptions": {},
        }
        state.put_order(order)
        clock.step(n)


def seed_redemptions(state: SandboxState, size: int, clock: StepClock) -> None:
    for n in range(size):
        rid = state.new_id("r_")
        failed = n % CAMPAIGNS == 0
        state.redemptions[rid] = {
            "id": rid,
            "object": "redemption",
            "date": iso(clock()),
            "customer_id": f"cust_{n % 100:04d}",
            "tracking_id": f"track-{(n * 7_919) % size}",
            "metadata": {},
            "result": "FAILURE" if failed else "SUCCESS",
            "status": "FAILED" if failed else "SUCCEEDED",
            "redemption": None,
            "voucher": {"code": f"C{(n * 31) % size:07d}", "campaign": f"Campaign {n % CAMPAIGNS}"},
        }
        clock.step(n)


SEEDERS: dict[str, Callable[[SandboxState, int, StepClock], None]] = {
    "vouchers": seed_vouchers,
    "customers": seed_customers,
    "orders": seed_orders,
    "redemptions": seed_redemptions,
}


def request(path: str, query: dict[str, Any]) -> SandboxRequest:
    return SandboxRequest("GET", path, query, {}, b"", "req_bench")
