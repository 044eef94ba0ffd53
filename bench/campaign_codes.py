"""Campaign code generation in the sandbox: does a big job keep other requests waiting?

Generates ``--codes`` codes (default 10,000) in one ``POST /v1/campaigns/{id}/vouchers`` while a
reader thread keeps calling ``GET /v1/campaigns/{id}``, twice: with the sandbox's chunks
(at most ``campaign_vouchers.CHUNK`` codes and ``HOLD_SECONDS`` per hold of the state lock)
and with the whole job in one hold (what a plain job would do). Prints, side by side, the job's wall
time, the reader's requests answered during the job, and its slowest answer as a multiple of
its median answer when idle (a ratio: the machine is shared).

    .venv/bin/python bench/campaign_codes.py [--codes 10000] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django_voucherify.sandbox.handlers import campaign_vouchers  # noqa: E402
from tests.support.sandbox import Api  # noqa: E402


def run(codes: int, chunk: int, hold: float) -> tuple[float, int, float, int]:
    """(job seconds, reader answers during the job, slowest / idle median, codes stored)."""
    campaign_vouchers.CHUNK = chunk
    campaign_vouchers.HOLD_SECONDS = hold
    api = Api()
    body = {
        "name": "Bench",
        "campaign_type": "DISCOUNT_COUPONS",
        "voucher": {"discount": {"type": "AMOUNT", "amount_off": 1}, "code_config": {"length": 12}},
    }
    cid = api.post("/v1/campaigns", json=body).json()["id"]
    path = f"/v1/campaigns/{cid}"
    idle = []
    for _ in range(50):
        started = time.perf_counter()
        api.get(path)
        idle.append(time.perf_counter() - started)
    during: list[float] = []
    running = threading.Event()
    running.set()

    def reader() -> None:
        while running.is_set():
            started = time.perf_counter()
            api.get(path)
            during.append(time.perf_counter() - started)

    t = threading.Thread(target=reader)
    t.start()
    started = time.perf_counter()
    api.post(f"{path}/vouchers", params={"vouchers_count": codes}, json={})
    api.sandbox.wait_for_jobs(timeout=600)
    wall = time.perf_counter() - started
    running.clear()
    t.join()
    stored = api.get(path).json()["vouchers_count"]
    return wall, len(during), max(during) / statistics.median(idle), stored


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--codes", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="500 codes (CI: checks it still runs)")
    args = parser.parse_args()
    if args.quick:
        args.codes = 500
    chunked, hold = campaign_vouchers.CHUNK, campaign_vouchers.HOLD_SECONDS
    print(f"{'lock held per':>16} {'job s':>7} {'reads during job':>17} {'slowest read / idle median':>27}")
    rows = []
    runs = ((f"{hold * 1000:.0f} ms chunks", chunked, hold), ("whole job", args.codes, float("inf")))
    for label, chunk, seconds in runs:
        wall, reads, ratio, stored = run(args.codes, chunk, seconds)
        rows.append((reads, ratio, stored))
        print(f"{label:>16} {wall:>7.2f} {reads:>17} {ratio:>27.0f}x")
    campaign_vouchers.CHUNK, campaign_vouchers.HOLD_SECONDS = chunked, hold
    # What the bench measures must still happen: every code is stored in both runs.
    if any(stored != args.codes for _, _, stored in rows):
        sys.exit(f"codes missing: {[stored for _, _, stored in rows]}")


if __name__ == "__main__":
    main()
