"""What checking requests against the spec costs the sandbox (``sandbox/request_schema.py``).

Runs the same mix of typical requests (create a customer with an address, create an order with
items, validate and redeem a voucher, list vouchers with a query) through an in-process
``Sandbox`` (no HTTP, so the check's share is as large as it gets) with the validation on and
off, in interleaved rounds, and prints the median CPU time per request of each and their ratio
(``process_time``: on a shared machine wall time is mostly waiting for a core).
Target: the validation adds at most 30% to a request's in-process time (over HTTP the share is
smaller still). Exits 1 when the target is missed; ``--quick`` checks only that it still runs
and counts what it says (every request validated when on, none when off; an invalid body
refused), never timings.

    .venv/bin/python bench/request_validation.py [--quick] [--rounds 15]
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

from django_voucherify.sandbox import app, request_schema
from django_voucherify.sandbox.app import Sandbox

TARGET = 1.30
CHECKED = 0
ORIGINAL = request_schema.validate_request


def counting(req: Any) -> None:
    global CHECKED
    CHECKED += 1
    ORIGINAL(req)


def skipping(req: Any) -> None:
    return None


class Api:
    """A requests session mounted on an in-process sandbox, with its keys."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.session = requests.Session()
        sandbox.mount(self.session)
        self.session.headers.update({"X-App-Id": sandbox.app_id, "X-App-Token": sandbox.app_token})

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.session.post("https://api.voucherify.io" + path, **kw)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.session.get("https://api.voucherify.io" + path, **kw)


def mix(api: Api, n: int) -> int:
    """One round: ``n`` times the mix; returns the number of requests sent."""
    sent = 0
    for i in range(n):
        api.post(
            "/v1/customers",
            json={"source_id": f"c{i}", "name": "Ann", "address": {"city": "Berlin", "postal_code": "10115"}},
        )
        api.post(
            "/v1/orders",
            json={"source_id": f"o{i}", "amount": 2000, "items": [{"sku_id": "s1", "quantity": 2}]},
        )
        body = {"redeemables": [{"object": "voucher", "id": "BENCH"}], "order": {"amount": 1000}}
        api.post("/v1/validations", json=body)
        api.post("/v1/redemptions", json=body)
        api.get("/v1/vouchers", params={"limit": "10", "order": "-created_at"})
        sent += 5
    return sent


def round_time(validate: Any, n: int) -> tuple[float, int, int]:
    """CPU seconds per request, requests sent, requests validated, of one round."""
    app.validate_request = validate  # type: ignore[attr-defined]
    api = Api(Sandbox())
    discount = {"type": "AMOUNT", "amount_off": 100}
    created = api.post("/v1/vouchers/BENCH", json={"type": "DISCOUNT_VOUCHER", "discount": discount})
    if created.status_code != 200:
        raise SystemExit(f"BROKEN: creating the voucher got {created.status_code} {created.text}")
    checked_before = CHECKED
    started = time.process_time()
    sent = mix(api, n)
    return (time.process_time() - started) / sent, sent, CHECKED - checked_before


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--per-round", type=int, default=40)
    args = parser.parse_args()
    rounds, per_round = (2, 3) if args.quick else (args.rounds, args.per_round)
    on: list[float] = []
    off: list[float] = []
    for _ in range(rounds):  # interleaved, so load changes hit both alike
        seconds, sent, validated = round_time(counting, per_round)
        if validated != sent:
            print(f"BROKEN: {validated} requests validated of {sent}")
            return 2
        on.append(seconds)
        seconds, sent, validated = round_time(skipping, per_round)
        if validated:
            print("BROKEN: requests validated with the validation off")
            return 2
        off.append(seconds)
    app.validate_request = counting  # type: ignore[attr-defined]
    refused = Api(Sandbox()).post("/v1/customers", json={"source_id": "x", "address": {"city": 5}})
    if refused.status_code != 400 or refused.json().get("key") != "invalid_payload":
        print(f"BROKEN: an invalid body got {refused.status_code}")
        return 2
    med_on, med_off = statistics.median(on), statistics.median(off)
    ratio = med_on / med_off
    print(f"{'':>22} {'median us/request':>18}")
    print(f"{'validation off':>22} {med_off * 1e6:>18.0f}")
    print(f"{'validation on':>22} {med_on * 1e6:>18.0f}")
    print(f"ratio on/off {ratio:.2f} (target <= {TARGET:.2f}); {rounds} rounds x {per_round * 5} requests")
    if args.quick:
        return 0
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
