"""The cost of automatic promotions at checkout, side by side in one run against one sandbox (a
subprocess, over HTTP), PostgreSQL for the ledger:

* ``bare``       ``checkout.redeem([code], order, customer)``: the code alone (one call);
* ``tiers``      ``checkout.redeem([code], order, customer, tiers=[...])``: the shop names the
                 qualifying tiers itself (the same redeem body as ``automatic``, one call);
* ``automatic``  ``checkout.redeem([code], order, customer, automatic=True)``: one qualifications
                 call (promotion tiers only, ``BEST_DEAL``), then the redeem with the tiers.

The sandbox holds ``--tiers`` promotion tiers, half of them out of reach of the cart (a rule on
the order amount), so the qualifications call prices every tier and keeps half. Each tier is
its own campaign, so no campaign's tiers are read for their hierarchy (two qualifying tiers of
one campaign would add that read: a third round trip, docs/checkout.md). Rounds are
interleaved (the contenders' order rotates every round); each contender's p50 is the median of
all its calls. Prints, per contender: HTTP round trips per checkout (counted at the client's
transport), p50 wall time, its ratio to ``bare``, and the discount.

    .venv/bin/python bench/checkout_promotions.py            # full
    .venv/bin/python bench/checkout_promotions.py --quick    # checks it runs and counts right

``--quick`` checks what is measured, never timings: ``bare`` and ``tiers`` make one round trip,
``automatic`` two; every ``automatic`` ledger row records exactly the qualifying tiers and its
discount equals ``tiers``'s; the sandbox counted every redemption of the code.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from _django import django_db
from checkout_round_trips import APP_ID, APP_TOKEN, sandbox_process

CONTENDERS = ("bare", "tiers", "automatic")
ROUND_TRIPS = {"bare": 1, "tiers": 1, "automatic": 2}
CODE = "BENCH-PROMO"
AMOUNT = 10_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes; checks counts, not timings")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--per-round", type=int, default=10)
    parser.add_argument("--tiers", type=int, default=6, help="promotion tiers in the sandbox (half qualify)")
    args = parser.parse_args()
    rounds, per_round = (2, 3) if args.quick else (args.rounds, args.per_round)
    os.environ["DJANGO_SETTINGS_MODULE"] = "_checkout_settings"
    with (
        sandbox_process() as url,
        django_db(
            os.environ.get(
                "BENCH_PROMOTIONS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_promotions"
            )
        ),
    ):
        from django.test import override_settings

        import django_voucherify

        conf = {"APP_ID": APP_ID, "SECRET_KEY": APP_TOKEN, "API_URL": url, "SYNC_ENABLED": False}
        with override_settings(VOUCHERIFY=conf):
            django_voucherify.reset_client()
            try:
                return measure(rounds, per_round, max(2, args.tiers), quick=args.quick)
            finally:
                django_voucherify.reset_client()


class Counted:
    """Counts the HTTP requests the checkout client sends (its transport's ``request``)."""

    def __init__(self, transport: Any) -> None:
        self.calls = 0
        real = transport.request

        def request(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return real(*args, **kwargs)

        transport.request = request


def seed(tier_count: int) -> list[str]:
    """The code, and ``tier_count`` tiers (each its own campaign): even ones apply to the cart,
    odd ones need an order of 1000.00. Returns the qualifying tier ids, best deal first."""
    from django_voucherify.checkout.cart import checkout_client

    api = checkout_client()
    api.vouchers.create(CODE, {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 100}})
    rule = api.transport.request(
        "POST",
        "/v1/validation-rules",
        json={
            "name": "Big carts",
            "rules": {
                "1": {"name": "order.amount", "conditions": {"$more_than_equal": [100_000]}, "rules": {}}
            },
        },
    )
    qualifying: list[tuple[int, str]] = []
    for i in range(tier_count):
        off = 50 + 10 * i
        tier: dict[str, Any] = {
            "name": f"Tier {i}",
            "action": {"discount": {"type": "AMOUNT", "amount_off": off}},
        }
        if i % 2:
            tier["validation_rules"] = [rule["id"]]
        created = api.campaigns.create(
            {"name": f"Promotion {i}", "campaign_type": "PROMOTION", "promotion": {"tiers": [tier]}}
        )
        if not i % 2:
            qualifying.append((off, created["promotion"]["tiers"][0]["id"]))
    return [tier_id for _, tier_id in sorted(qualifying, reverse=True)]


def measure(rounds: int, per_round: int, tier_count: int, *, quick: bool) -> int:
    from django_voucherify import checkout
    from django_voucherify.checkout.cart import checkout_client

    qualifying = seed(tier_count)
    counter = Counted(checkout_client().transport)
    serial = iter(range(10**9))

    def order() -> dict[str, Any]:
        return {"source_id": f"bench-promo-{next(serial)}", "amount": AMOUNT}

    contenders: dict[str, Callable[[], Any]] = {
        "bare": lambda: checkout.redeem([CODE], order(), "bench-shopper"),
        "tiers": lambda: checkout.redeem([CODE], order(), "bench-shopper", tiers=qualifying),
        "automatic": lambda: checkout.redeem([CODE], order(), "bench-shopper", automatic=True),
    }
    walls: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    trips: dict[str, list[int]] = {name: [] for name in CONTENDERS}
    outcomes: dict[str, list[Any]] = {name: [] for name in CONTENDERS}
    for round_no in range(rounds):
        names = list(CONTENDERS[round_no % 3 :] + CONTENDERS[: round_no % 3])
        for name in names:
            for _ in range(per_round):
                before = counter.calls
                started = time.perf_counter()
                outcome = contenders[name]()
                walls[name].append(time.perf_counter() - started)
                trips[name].append(counter.calls - before)
                outcomes[name].append(outcome)

    calls = rounds * per_round
    print(
        f"{calls} checkouts per contender; {tier_count} promotion tiers, {len(qualifying)} qualify; "
        "sandbox subprocess over HTTP, PostgreSQL ledger, interleaved rounds"
    )
    print(f"{'contender':<10} {'round trips':>12} {'p50 ms':>8} {'/bare':>6} {'discount':>9}")
    bare = statistics.median(walls["bare"])
    for name in CONTENDERS:
        p50 = statistics.median(walls[name])
        discount = outcomes[name][0].totals.discount_amount
        mean_trips = statistics.mean(trips[name])
        print(f"{name:<10} {mean_trips:>12.2f} {p50 * 1000:>8.2f} {p50 / bare:>6.2f} {discount:>9}")

    problems = check(calls, trips, outcomes, qualifying)
    for problem in problems:
        print(f"BROKEN: {problem}")
    return 1 if problems else 0


def check(
    calls: int, trips: dict[str, list[int]], outcomes: dict[str, list[Any]], qualifying: list[str]
) -> list[str]:
    """What the bench claims to measure: the round trips, the tiers redeemed, the discounts."""
    from django_voucherify.checkout.cart import checkout_client

    problems = []
    for name, expected in ROUND_TRIPS.items():
        if set(trips[name]) != {expected}:
            problems.append(
                f"{name}: {sorted(set(trips[name]))} round trips per checkout, expected {expected}"
            )
    for outcome in outcomes["automatic"]:
        if list(outcome.ledger.tiers) != qualifying:
            problems.append(f"automatic: the ledger recorded {outcome.ledger.tiers}, expected {qualifying}")
            break
    expected_discount = outcomes["tiers"][0].totals.discount_amount
    if {o.totals.discount_amount for o in outcomes["automatic"]} != {expected_discount}:
        problems.append("automatic: its discount differs from naming the qualifying tiers")
    redeemed = checkout_client().vouchers.get(CODE)["redemption"]["redeemed_quantity"]
    if redeemed != calls * len(CONTENDERS):
        problems.append(
            f"the sandbox counted {redeemed} redemptions of the code, expected {calls * len(CONTENDERS)}"
        )
    return problems


if __name__ == "__main__":
    sys.exit(main())
