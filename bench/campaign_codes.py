"""Campaign code generation in the sandbox: does a big job keep other requests waiting?

Generates ``--codes`` codes (default 10,000) in one ``POST /v1/campaigns/{id}/vouchers`` while a
reader thread keeps calling ``GET /v1/campaigns/{id}``, twice: with the sandbox's chunks
(at most ``campaign_vouchers.CHUNK`` codes and ``HOLD_SECONDS`` per hold of the state lock)
and with the whole job in one hold (what a plain job would do). Prints, side by side, the job's wall
time, the reader's requests answered during the job, and its slowest answer as a multiple of
its median answer when idle (a ratio: the machine is shared).

Then publications from an exhausted AUTO_UPDATE campaign (every code published: each
publication makes one): CPU per publication of a burst at two campaign sizes, side by side
with the old behaviour (the free-code queue rebuilt from every voucher of the campaign on each
publication, emulated by forgetting the queue before each). Target: flat (large / small within
1.5x) where the old way grows with the campaign.

    .venv/bin/python bench/campaign_codes.py [--codes 10000] [--sizes 1000 20000] [--quick]
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

from django_voucherify.sandbox import campaign_store  # noqa: E402
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


def publish_burst(size: int, burst: int, rebuild: bool) -> tuple[float, int]:
    """(CPU seconds per publication of ``burst`` publications from an AUTO_UPDATE campaign
    whose ``size`` codes are all published, codes of the campaign afterwards)."""
    api = Api()
    body = {
        "name": "Exhausted",
        "campaign_type": "DISCOUNT_COUPONS",
        "type": "AUTO_UPDATE",
        "vouchers_count": size,
        "voucher": {"discount": {"type": "AMOUNT", "amount_off": 1}, "code_config": {"length": 12}},
    }
    cid = api.post("/v1/campaigns", json=body).json()["id"]
    api.sandbox.wait_for_jobs(timeout=600)
    state = api.sandbox.state
    with state.lock:  # publish every code (directly: the setup is not measured)
        for code in campaign_store.voucher_codes(state, cid):
            voucher = state.vouchers[code]
            voucher["holder_id"] = "cust_bench"
            voucher["publish"] = {**voucher["publish"], "count": 1}
            state.vouchers.touch(code)
    watch = campaign_store._watch(state)
    spent = 0.0
    for i in range(burst):
        if rebuild:
            watch.forget(cid)  # the old way: the dry queue was rebuilt from every voucher
        started = time.process_time()
        r = api.post("/v1/publications", json={"campaign": cid, "customer": {"source_id": f"c{i}"}})
        spent += time.process_time() - started
        if r.status_code != 200:
            sys.exit(f"publication {i} failed: {r.text}")
    return spent / burst, len(campaign_store.voucher_codes(state, cid))


def generation_cpu(sizes: list[int]) -> None:
    """CPU per 1,000 codes of one generation job at two sizes: flat when each chunk's store
    costs O(chunk), not O(store) (put_many used to sort and compact every row per chunk)."""
    print("\ngeneration CPU per 1,000 codes (one add-vouchers job)")
    per = []
    for size in sizes:
        api = Api()
        body = {
            "name": "Gen",
            "campaign_type": "DISCOUNT_COUPONS",
            "voucher": {"discount": {"type": "AMOUNT", "amount_off": 1}, "code_config": {"length": 12}},
        }
        cid = api.post("/v1/campaigns", json=body).json()["id"]
        started = time.process_time()
        api.post(f"/v1/campaigns/{cid}/vouchers", params={"vouchers_count": size}, json={})
        api.sandbox.wait_for_jobs(timeout=600)
        per.append((time.process_time() - started) / size * 1000)
        if api.get(f"/v1/campaigns/{cid}").json()["vouchers_count"] != size:
            sys.exit("generation: codes missing")
        print(f"{size:>15} codes {per[-1]:>8.3f} s")
    print(
        f"{'large / small':>15} {per[-1] / per[0]:>11.2f}x   (sizes x{sizes[-1] / sizes[0]:.0f}; flat is ~1x)"
    )


def publications(sizes: list[int], burst: int) -> None:
    print(f"\npublications of an exhausted AUTO_UPDATE campaign, CPU ms each ({burst} in a burst)")
    print(f"{'campaign codes':>15} {'queue kept':>11} {'rebuilt each (old)':>19}")
    kept, old = [], []
    for size in sizes:
        now, stored = publish_burst(size, burst, rebuild=False)
        then, stored_old = publish_burst(size, burst, rebuild=True)
        if stored != size + burst or stored_old != size + burst:
            sys.exit(f"codes missing: {stored}, {stored_old} (wanted {size + burst})")
        kept.append(now)
        old.append(then)
        print(f"{size:>15} {now * 1000:>11.3f} {then * 1000:>19.3f}")
    print(
        f"{'large / small':>15} {kept[-1] / kept[0]:>10.2f}x {old[-1] / old[0]:>18.2f}x"
        f"   (sizes x{sizes[-1] / sizes[0]:.0f}; target: queue kept within 1.5x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--codes", type=int, default=10_000)
    parser.add_argument("--sizes", type=int, nargs=2, default=[1_000, 20_000])
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="500 codes (CI: checks it still runs)")
    args = parser.parse_args()
    if args.quick:
        args.codes, args.sizes, args.burst = 500, [200, 2_000], 30
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
    generation_cpu([2_000, 8_000] if not args.quick else [500, 2_000])
    publications(args.sizes, args.burst)


if __name__ == "__main__":
    main()
