"""Qualifications in the sandbox, and ``checkout.offers()`` beside a bare validate.

Part 1, the sandbox's ``POST /v1/qualifications`` at two store sizes side by side (in-process
``Sandbox``, interleaved rounds): a store of ``--small`` and of ``--large`` vouchers (the
``bench/_scale_seed`` shape: nine in ten are campaign codes nobody holds yet, one in ten a
public standalone code, timestamps one millisecond apart with bursts), where the customer holds
three of the oldest codes. Timed: ``ALL`` (limit 5: the public codes and the customer's) and
``CUSTOMER_WALLET`` (the customer's three, read through the holder index), median CPU per request
(``process_time``: the sandbox runs in this process). Target: per-request cost flat, the large
store at most 1.5x the small one for each scenario.

Part 2, the checkout side against the large store: ``checkout.offers(cart, customer)`` and a
bare ``checkout.validate([code], cart, customer)``, interleaved: round trips per call (counted by
the sandbox) and median wall time per call, with their ratio (printed, no target: an offers call
prices every candidate it looks at, a validate one code).

    .venv/bin/python bench/qualifications.py [--quick] [--rounds 30] [--small 1000] [--large 100000]

Exits 1 when a target is missed; ``--quick`` (tiny stores) checks that it runs and measures what
it says (each scenario answers the codes expected, offers makes one round trip and validate one),
never timings.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import requests

from bench._scale_seed import StepClock
from django_voucherify.sandbox.app import Sandbox
from django_voucherify.sandbox.handlers.vouchers import build_voucher
from django_voucherify.sandbox.objects import new_customer
from django_voucherify.sandbox.state import iso

TARGET = 1.5
BASE = "https://api.voucherify.io"
CART = {
    "amount": 10_000,
    "items": [{"source_id": "sku-1", "related_object": "sku", "quantity": 2, "price": 5000}],
}
HELD = 3


def seeded(size: int) -> Sandbox:
    """A sandbox of ``size`` vouchers: 9 in 10 a campaign's unpublished codes, 1 in 10 public; the
    customer ``ann`` holds the ``HELD`` oldest codes (the worst case for offers, which asks for
    the customer's codes or tiers: the sandbox then skips the public codes, however many newer
    ones there are)."""
    sandbox = Sandbox()
    state = sandbox.state
    clock = StepClock()
    state.clock = clock
    ann = new_customer(state.new_id("cust_"), "ann", iso(clock()))
    state.customers[ann["id"]] = ann
    state.customer_ids_by_source["ann"] = ann["id"]
    built = []
    for n in range(size):
        payload: dict[str, Any] = {
            "type": "DISCOUNT_VOUCHER",
            "discount": {"type": "AMOUNT", "amount_off": 100 + n % 50},
        }
        if n % 10 and n >= HELD:
            payload.update(campaign=f"Campaign {n % 7}", campaign_id=f"camp_{n % 7}")
        voucher = build_voucher(state, f"C{n:07d}", payload)
        if n < HELD:
            voucher["holder_id"] = ann["id"]
        built.append(voucher)
        clock.step(n)
    state.put_vouchers(built)
    state.clock = lambda: clock.now  # the stores' later writes (none here) stay in order
    return sandbox


def session_for(sandbox: Sandbox) -> requests.Session:
    s = requests.Session()
    sandbox.mount(s)
    s.headers.update({"X-App-Id": sandbox.app_id, "X-App-Token": sandbox.app_token})
    return s


def qualify(s: requests.Session, scenario: str) -> dict[str, Any]:
    body = {"scenario": scenario, "customer": {"source_id": "ann"}, "order": CART, "options": {"limit": 5}}
    r = s.post(f"{BASE}/v1/qualifications", json=body)
    r.raise_for_status()
    answer: dict[str, Any] = r.json()
    return answer


def cpu_of(call: Callable[[], Any]) -> float:
    start = time.process_time()
    call()
    return time.process_time() - start


def wall_of(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def part1(small: int, large: int, rounds: int, quick: bool) -> bool:
    sessions = {size: session_for(seeded(size)) for size in (small, large)}
    ok = True
    for size, s in sessions.items():  # warm-up, and what each scenario answers
        wallet = [r["id"] for r in qualify(s, "CUSTOMER_WALLET")["redeemables"]["data"]]
        every = qualify(s, "ALL")["redeemables"]
        if (
            sorted(wallet) != [f"C{n:07d}" for n in range(HELD)]
            or len(every["data"]) != 5
            or not every["has_more"]
        ):
            print(f"size {size}: unexpected answers: wallet {wallet}, ALL {[r['id'] for r in every['data']]}")
            ok = False
    times: dict[tuple[str, int], list[float]] = {}
    for n in range(rounds):
        order = list(sessions.items()) if n % 2 == 0 else list(reversed(sessions.items()))
        for size, s in order:
            for scenario in ("ALL", "CUSTOMER_WALLET"):
                times.setdefault((scenario, size), []).append(cpu_of(lambda s=s, sc=scenario: qualify(s, sc)))
    print(f"qualifications, median CPU per request ({rounds} rounds, interleaved)")
    print(f"  {'scenario':<16} {small:>9} vouchers {large:>9} vouchers   ratio")
    for scenario in ("ALL", "CUSTOMER_WALLET"):
        a = statistics.median(times[(scenario, small)]) * 1e6
        b = statistics.median(times[(scenario, large)]) * 1e6
        ratio = b / a if a else float("inf")
        mark = "" if quick else ("  ok" if ratio <= TARGET else f"  MISSED (target <= {TARGET}x)")
        print(f"  {scenario:<16} {a:>12.0f} us {b:>12.0f} us   {ratio:.2f}x{mark}")
        if not quick and ratio > TARGET:
            ok = False
    return ok


def part2(size: int, rounds: int) -> bool:
    import django

    django.setup()
    from django.test import override_settings

    import django_voucherify
    from django_voucherify import checkout
    from django_voucherify.api.client import add_client_hook, remove_client_hook
    from django_voucherify.checkout import cart as checkout_cart

    sandbox = seeded(size)
    calls: list[str] = []
    sandbox.response_listeners.append(lambda exchange: calls.append(exchange.request.path))

    def mount_on(client: Any) -> None:
        sandbox.mount(client.transport.session)

    from django.conf import settings

    conf = {
        **settings.VOUCHERIFY,
        "APP_ID": sandbox.app_id,
        "SECRET_KEY": sandbox.app_token,
        "MAX_RETRIES": 0,
    }
    add_client_hook(mount_on)
    ok = True
    try:
        with override_settings(VOUCHERIFY=conf):
            django_voucherify.reset_client()
            checkout_cart._cache = None
            contenders: dict[str, Callable[[], Any]] = {
                "offers": lambda: checkout.offers(CART, "ann"),
                "validate": lambda: checkout.validate(["C0000000"], CART, "ann"),
            }
            per_call: dict[str, int] = {}
            for name, call in contenders.items():
                before = len(calls)
                result = call()
                per_call[name] = len(calls) - before
                held = sorted(f"C{n:07d}" for n in range(HELD))
                if name == "offers" and sorted(o.code for o in result.offers) != held:
                    print(f"offers: {[o.code for o in result.offers]}, expected the customer's {held}")
                    ok = False
            if per_call != {"offers": 1, "validate": 1}:
                print(f"round trips per call: {per_call} (expected one each)")
                ok = False
            walls: dict[str, list[float]] = {name: [] for name in contenders}
            cpus: dict[str, list[float]] = {name: [] for name in contenders}
            for n in range(rounds):
                names = list(contenders) if n % 2 == 0 else list(reversed(contenders))
                for name in names:
                    cpu = time.process_time()
                    walls[name].append(wall_of(contenders[name]))
                    cpus[name].append(time.process_time() - cpu)
            p50 = {
                name: (statistics.median(walls[name]) * 1e3, statistics.median(cpus[name]) * 1e3)
                for name in contenders
            }
            print(f"checkout against {size} vouchers, medians per call ({rounds} rounds, interleaved)")
            for name in contenders:
                wall, cpu = p50[name]
                trips = per_call[name]
                print(f"  {name + '()':<11} {trips} round trip   wall {wall:7.2f} ms   CPU {cpu:7.2f} ms")
            ratio_wall = p50["offers"][0] / p50["validate"][0]
            ratio_cpu = p50["offers"][1] / p50["validate"][1] if p50["validate"][1] else float("inf")
            print(f"  offers / validate: wall {ratio_wall:.2f}x, CPU {ratio_cpu:.2f}x")
    finally:
        remove_client_hook(mount_on)
        django_voucherify.reset_client()
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=100_000)
    args = parser.parse_args()
    small, large, rounds = (100, 2000, 3) if args.quick else (args.small, args.large, args.rounds)
    ok = part1(small, large, rounds, args.quick)
    ok = part2(large, rounds) and ok
    if args.quick:
        print("quick: answers and round trips checked; timings not checked")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
