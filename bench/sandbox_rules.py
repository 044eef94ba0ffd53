"""What validation rules cost a validation in the sandbox (``sandbox/rule_check.py``).

Validates the same order in an in-process ``Sandbox`` against three vouchers, in interleaved
rounds: one with no rule, one with an assigned rule of four conditions (order amount, an item
set with a nested quantity, order metadata, customer metadata), and one with a
``redemption.count.per_customer`` rule whose voucher has a long redemption history (``--history``
redemptions by other customers). Prints the median CPU time per validation of each and the
ratios to the plain one (``process_time``: on a shared machine wall time is mostly waiting).
Targets: a four-condition rule adds at most 30%; the per-customer count does not grow with the
history (the count is read forward, not rescanned: at most 30% over the plain voucher).
Exits 1 when a target is missed; ``--quick`` checks only that it runs and that the rules are
enforced (a refused validation for each rule), never timings.

    .venv/bin/python bench/sandbox_rules.py [--quick] [--rounds 15] [--history 20000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import requests

from django_voucherify.sandbox.app import Sandbox

TARGET = 1.30
BASE = "https://api.voucherify.io"
ORDER = {
    "amount": 20000,
    "metadata": {"shop": "Berlin"},
    "items": [
        {"product_id": "prod_shoe", "price": 5000, "quantity": 2},
        {"product_id": "prod_sock", "price": 500},
    ],
}
FOUR = {
    "1": {"name": "order.amount", "conditions": {"$more_than_equal": [10000]}},
    "2": {
        "name": "order.items.any",
        "conditions": {"$is": [{"object": "product", "id": "prod_shoe"}]},
        "rules": {"1": {"name": "order.items.quantity", "conditions": {"$more_than": [1]}}},
    },
    "3": {"name": "order.metadata", "property": "shop", "conditions": {"$in": ["Berlin", "Paris"]}},
    "4": {"name": "customer.metadata", "property": "tier", "conditions": {"$is": ["gold"]}},
    "logic": "1 and 2 and (3 or 4)",
}
ONCE = {"1": {"name": "redemption.count.per_customer", "conditions": {"$less_than": [1]}}}


def setup(history: int) -> tuple[requests.Session, Sandbox]:
    sandbox = Sandbox()
    s = requests.Session()
    sandbox.mount(s)
    s.headers.update({"X-App-Id": sandbox.app_id, "X-App-Token": sandbox.app_token})
    for code in ("PLAIN", "RULED", "ONCE"):
        body = {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1}}
        s.post(f"{BASE}/v1/vouchers/{code}", json=body).raise_for_status()
    for code, rules in (("RULED", FOUR), ("ONCE", ONCE)):
        rule = s.post(f"{BASE}/v1/validation-rules", json={"name": code, "rules": rules}).json()
        s.post(f"{BASE}/v1/validation-rules/{rule['id']}/assignments", json={"related_object_id": code})
    s.post(f"{BASE}/v1/customers", json={"source_id": "ann", "metadata": {"tier": "gold"}}).raise_for_status()
    for n in range(history):
        r = s.post(
            f"{BASE}/v1/redemptions",
            json={
                "redeemables": [{"object": "voucher", "id": "ONCE"}],
                "customer": {"source_id": f"other-{n}"},
                "order": {"amount": 100},
            },
        )
        r.raise_for_status()
    return s, sandbox


def validate(s: requests.Session, code: str, **extra: Any) -> dict[str, Any]:
    body = {
        "redeemables": [{"object": "voucher", "id": code}],
        "order": ORDER,
        "customer": {"source_id": "ann"},
    }
    body.update(extra)
    r = s.post(f"{BASE}/v1/validations", json=body)
    r.raise_for_status()
    result: dict[str, Any] = r.json()
    return result


def per_call(s: requests.Session, code: str, n: int) -> float:
    start = time.process_time()
    for _ in range(n):
        validate(s, code)
    return (time.process_time() - start) / n


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--history", type=int, default=20000)
    args = parser.parse_args()
    history = 20 if args.quick else args.history
    s, _ = setup(history)
    # the rules are enforced (what is measured is really the rule path)
    assert validate(s, "RULED")["valid"] is True
    assert validate(s, "RULED", order={**ORDER, "amount": 1})["valid"] is False
    assert validate(s, "ONCE")["valid"] is True
    s.post(
        f"{BASE}/v1/redemptions",
        json={
            "redeemables": [{"object": "voucher", "id": "ONCE"}],
            "customer": {"source_id": "ann"},
            "order": ORDER,
        },
    ).raise_for_status()
    assert validate(s, "ONCE")["valid"] is False
    if args.quick:
        print("quick: rules enforced; timings not checked")
        return 0
    n = 200
    times: dict[str, list[float]] = {"PLAIN": [], "RULED": [], "ONCE": []}
    for _ in range(args.rounds):
        for code in times:
            times[code].append(per_call(s, code, n))
    med = {code: statistics.median(v) for code, v in times.items()}
    ruled, once = med["RULED"] / med["PLAIN"], med["ONCE"] / med["PLAIN"]
    print(
        f"validation, CPU per call: plain {med['PLAIN'] * 1e6:.0f} us | four-condition rule "
        f"{med['RULED'] * 1e6:.0f} us (x{ruled:.2f}) | per-customer count over {history} redemptions "
        f"{med['ONCE'] * 1e6:.0f} us (x{once:.2f})"
    )
    missed = [
        name
        for name, ratio in (("four-condition rule", ruled), ("per-customer count", once))
        if ratio > TARGET
    ]
    if missed:
        print(f"target x{TARGET} missed: {', '.join(missed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
