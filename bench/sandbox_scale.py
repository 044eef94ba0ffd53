"""Sandbox list cost per page at 1k / 10k / 100k / 1M objects, and memory per size (issue 13).

    .venv/bin/python bench/sandbox_scale.py            # full: 1k, 10k, 100k, 1M vouchers
    .venv/bin/python bench/sandbox_scale.py --max 100000
    .venv/bin/python bench/sandbox_scale.py --quick    # 1k and 5k: the walks are exact
    .venv/bin/python bench/sandbox_scale.py --quick --encode --code /tmp/before --only "vouchers order="
                                                       # a page with its JSON encoding, old code
    git archive 34d4aab | tar -x -C /tmp/before        # the code before the indexed store:
    .venv/bin/python bench/sandbox_scale.py --code /tmp/before --max 100000 --only "vouchers order="

Every size lives in one process and the sizes are measured in interleaved rounds (round r
times every query at every size, smallest-first and largest-first alternately), so machine
noise hits them alike; the figure per cell is the median over rounds of the CPU time of this
thread (``thread_time``: not the time it waits for a core) per list call (the handler, which
for vouchers includes rendering the page's JSON objects; no HTTP), averaged over 10-11 pages
sampled across the reachable ones. Each cell is measured hot (calls back to back) and cold
(CPU caches flushed before each call, untimed); the target is judged on the hot figures.
Vouchers are seeded in bulk (``SandboxState.put_vouchers``: one sort per index). Customers,
orders and redemptions stop at 100k (seeding 1M of each takes long; their indexes are the
vouchers').

Targets: per-page cost of the largest size within 20 % of the smallest (ratio <= 1.2), for
every ordering and filter, during a walk; 1M vouchers held in under 2 GiB of RSS. A filter's
first page (one pass materialising the selection, see docs/sandbox.md) is printed too, without
a target. Quick mode walks each list through the client's paging module (with the created_at
slide and a same-millisecond burst) and exits 1 unless every object comes out exactly once;
it never judges timings.
"""

from __future__ import annotations

import argparse
import gc
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
if "--code" in sys.argv:  # measure another checkout (e.g. the code before the indexed store)
    sys.path.insert(0, sys.argv[sys.argv.index("--code") + 1])

from _scale_seed import SEEDERS, StepClock, midpoint, request

from django_voucherify.api.paging import iter_pages
from django_voucherify.sandbox.handlers.customers import list_customers
from django_voucherify.sandbox.handlers.orders import list_orders
from django_voucherify.sandbox.handlers.redemptions import list_redemptions
from django_voucherify.sandbox.handlers.vouchers import list_vouchers
from django_voucherify.sandbox.state import SandboxState

HANDLERS = {
    "vouchers": ("/v1/vouchers", list_vouchers),
    "customers": ("/v1/customers", list_customers),
    "orders": ("/v1/orders", list_orders),
    "redemptions": ("/v1/redemptions", list_redemptions),
}
# Pages of 10 sampled per cell: many, spread over the reachable pages, so one page whose
# objects happen to sit in cache (or not) does not decide a cell.
DEEP = (1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 99)  # an unfiltered list (all exist at 1k)
SHALLOW = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)  # a list filtered to a tenth
WINDOW = (1, 3, 5, 7, 9, 11, 13, 15, 17, 19)  # a list windowed at about half the store
CAMP = {"filters": {"campaign_ids": {"conditions": {"$in": ["camp_3"]}}}}
EITHER = {
    "filters": {
        "junction": "or",
        "code": {"conditions": {"$is": "none"}},
        "campaign_id": {"conditions": {"$is": "camp_3"}},
    }
}


def queries(size: int) -> list[tuple[str, str, dict[str, Any], tuple[int, ...], bool]]:
    """``(collection, label, query, pages, filtered)`` for every documented ordering/filter."""
    mid = midpoint(size)
    out: list[tuple[str, str, dict[str, Any], tuple[int, ...], bool]] = []
    for order in ("created_at", "-created_at", "updated_at", "-updated_at", "code", "-code"):
        out.append(("vouchers", f"order={order}", {"order": order}, DEEP, False))
    out += [
        (
            "vouchers",
            "created_at[after] window (slide)",
            {"order": "created_at", "created_at": {"after": mid}},
            WINDOW,
            False,
        ),
        (
            "vouchers",
            "-created_at, created_at[before]",
            {"order": "-created_at", "created_at": {"before": mid}},
            WINDOW,
            False,
        ),
        ("vouchers", "campaign_id=camp_3", {"campaign_id": "camp_3"}, SHALLOW, True),
        ("vouchers", "category=cat3, order=code", {"category": "cat3", "order": "code"}, SHALLOW, True),
        ("vouchers", "filters[campaign_ids][$in]", CAMP, SHALLOW, True),
        ("vouchers", "filters junction=or", EITHER, SHALLOW, True),
        ("vouchers", "updated_at[after] window", {"updated_at": {"after": mid}}, SHALLOW, True),
    ]
    for order in ("created_at", "-created_at", "updated_at", "-updated_at", "source_id", "-source_id"):
        out.append(("customers", f"order={order}", {"order": order}, DEEP, False))
    out += [
        (
            "customers",
            "starting_after (date cursor)",
            {"order": "created_at", "starting_after": mid},
            (1,),
            False,
        ),
        ("customers", "email=c3@example.com", {"email": "c3@example.com"}, SHALLOW, True),
    ]
    for order in ("created_at", "-created_at", "updated_at", "-updated_at"):
        out.append(("orders", f"order={order}", {"order": order}, DEEP, False))
    for order in ("-created_at", "created_at", "id", "-voucher_code", "tracking_id", "customer_id"):
        out.append(("redemptions", f"order={order}", {"order": order}, DEEP, False))
    out += [
        ("redemptions", "created_at[after] window", {"created_at": {"after": mid}}, WINDOW, False),
        ("redemptions", "result=FAILURE", {"result": "FAILURE"}, SHALLOW, True),
        (
            "redemptions",
            "filters[result][$is]=FAILURE",
            {"filters": {"result": {"conditions": {"$is": "FAILURE"}}}},
            SHALLOW,
            True,
        ),
    ]
    return out


def _sized(entry: tuple[str, str, dict[str, Any], tuple[int, ...], bool], size: int) -> dict[str, Any]:
    """The query of ``entry`` for a store of ``size`` (its date windows sit at its midpoint)."""
    return next(q[2] for q in queries(size) if q[:2] == entry[:2])


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def seed(size: int, other_max: int) -> tuple[SandboxState, float, float]:
    """A state of ``size`` vouchers (and up to ``other_max`` of the rest); RSS of the vouchers,
    and the CPU µs per redemption written one by one (its random id lands inside the ``id``
    ordering: the cost of keeping that index, which must not grow with the store either)."""
    clock = StepClock()
    state = SandboxState(clock=clock)
    gc.collect()
    before = rss_mib()
    SEEDERS["vouchers"](state, size, clock)
    gc.collect()
    voucher_mib = rss_mib() - before
    for name in ("customers", "orders"):
        SEEDERS[name](state, min(size, other_max), clock)
    count = min(size, other_max)
    start = time.thread_time()
    SEEDERS["redemptions"](state, count, clock)
    per_redemption = (time.thread_time() - start) / count * 1e6
    return state, voucher_mib, per_redemption


ENCODE = "--encode" in sys.argv  # time the JSON encoding of the answer too (as the server does)


def call(state: SandboxState, coll: str, query: dict[str, Any], page: int) -> dict[str, Any]:
    path, handler = HANDLERS[coll]
    response = handler(request(path, {**query, "limit": "10", "page": str(page)}), state)
    if ENCODE:
        response.encode()
    body: dict[str, Any] = response.body
    return body


_SWEEP_FROM = bytearray(48 * 2**20)  # 1.5x this machine's 32 MiB L3, copied to flush caches
_SWEEP_TO = bytearray(len(_SWEEP_FROM))


def flush_caches() -> None:
    _SWEEP_TO[:] = _SWEEP_FROM


def time_query(
    state: SandboxState, coll: str, query: dict[str, Any], pages: tuple[int, ...], cold: bool = False
) -> float:
    """CPU microseconds (this thread's, so time spent descheduled on a loaded machine is not
    counted) per list call, averaged over ``pages``; checks each page is full. ``cold``: the
    CPU caches are flushed (untimed) before every call, at every size alike."""
    spent_ns = 0
    bodies = []
    for page in pages:
        if cold:
            flush_caches()
        start = time.thread_time_ns()
        bodies.append(call(state, coll, query, page))
        spent_ns += time.thread_time_ns() - start
    spent = spent_ns / 1000 / len(pages)
    for page, body in zip(pages, bodies, strict=True):
        if len(body[coll]) != 10:
            raise SystemExit(f"BROKEN: {coll} {query} page {page} has {len(body[coll])} items, not 10")
    return spent


def cold_first_page(state: SandboxState, coll: str, query: dict[str, Any]) -> float:
    views = getattr(getattr(state, coll), "views", None)
    if views is not None:
        views.clear()
    start = time.thread_time_ns()
    call(state, coll, query, 1)
    return (time.thread_time_ns() - start) / 1000


def walk_exactly_once(state: SandboxState, coll: str, expected: int, order: str) -> list[str]:
    """Walk a list with the client's paging module (pages of 10, so the created_at slide runs
    past page 99 at 1k+); return the problems found."""

    def fetch(**params: Any) -> dict[str, Any]:
        query = {k: (v if isinstance(v, dict) else str(v)) for k, v in params.items()}
        path, handler = HANDLERS[coll]
        body: dict[str, Any] = handler(request(path, query), state).body
        return body

    # Orders have no created_at filter: pages of 100 stay under their 100-page cap.
    slide = None if coll == "orders" else "created_at"
    size = 100 if coll == "orders" else 10
    walk = iter_pages(fetch, coll, params={"order": order}, limit=size, date_filter=slide)
    ids = [o["id"] for o in walk]
    problems = []
    if len(ids) != len(set(ids)):
        problems.append(f"{coll} {order}: {len(ids) - len(set(ids))} repeated")
    if len(set(ids)) != expected:
        problems.append(f"{coll} {order}: {len(set(ids))} distinct of {expected}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1k and 5k; check the walks, never timings")
    parser.add_argument("--max", type=int, default=1_000_000, help="largest voucher count (full mode)")
    parser.add_argument("--other-max", type=int, default=100_000, help="largest count of the other lists")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--code", default=None, help="import django_voucherify from this checkout")
    parser.add_argument("--encode", action="store_true", help="include the JSON encoding in each call")
    parser.add_argument("--only", default="", help="regex: measure the queries whose 'list query' matches")
    args = parser.parse_args()
    sizes = (
        [1_000, 5_000] if args.quick else [s for s in (1_000, 10_000, 100_000, 1_000_000) if s <= args.max]
    )
    rounds = 3 if args.quick else args.rounds
    states: dict[int, SandboxState] = {}
    listed = ", ".join(f"{s:,}" for s in sizes)
    print(f"seeding {listed} (customers/orders/redemptions up to {args.other_max:,})")
    rss: dict[int, float] = {}
    writes: dict[int, float] = {}
    for size in sizes:
        start = time.perf_counter()
        states[size], rss[size], writes[size] = seed(size, args.other_max)
        each = rss[size] * 2**20 / size
        took = time.perf_counter() - start
        print(f"  {size:>9,} vouchers: {rss[size]:8.1f} MiB RSS ({each:,.0f} B each), seeded in {took:.0f} s")
    counts = {size: min(size, args.other_max) for size in sizes}
    print(
        "redemptions written one by one, CPU µs each (the whole write: its dict, id, indexes):\n"
        + "".join(f"  {counts[s]:>9,}: {writes[s]:6.1f}" for s in sizes)
        + f"   largest/smallest x{writes[sizes[-1]] / writes[sizes[0]]:.2f} (no target: context)"
    )

    problems: list[str] = []
    if args.quick:
        for size in sizes:
            state = states[size]
            for coll, order in (
                ("vouchers", "created_at"),
                ("vouchers", "-created_at"),
                ("redemptions", "created_at"),
                ("customers", "created_at"),
                ("orders", "-created_at"),
            ):
                problems += walk_exactly_once(state, coll, len(getattr(state, coll)), order)
    wanted = re.compile(args.only)
    table = [q for q in queries(sizes[0]) if wanted.search(f"{q[0]} {q[1]}")]
    if not table:
        raise SystemExit(f"no query matches --only {args.only!r}")
    cells: dict[tuple[int, int, bool], list[float]] = {}
    for r in range(rounds):
        for qi, (coll, _label, _q, pages, _f) in enumerate(table):
            # Sizes alternately smallest-first and largest-first, so none always runs right
            # after a neighbour has warmed (or flushed) the caches.
            for size in sizes if r % 2 == 0 else sizes[::-1]:
                query = _sized(table[qi], size)
                for cold in (False, True):
                    spent = time_query(states[size], coll, query, pages, cold)
                    cells.setdefault((qi, size, cold), []).append(spent)
    first = {
        (qi, size): cold_first_page(states[size], coll, _sized(table[qi], size))
        for qi, (coll, *_r) in enumerate(table)
        if table[qi][4]
        for size in sizes
    }

    head = "".join(f"{s:>11,}" for s in sizes)
    missed = []
    for cold, title in (
        (False, "hot: calls back to back, a small store stays in the CPU caches (the target)"),
        (
            True,
            "cold: caches flushed before every call at every size (context, no target: the\n"
            "interpreter's own misses then dominate and hide the store's)",
        ),
    ):
        print(f"\nper-page cost, {title}")
        print(f"CPU µs per list call (median of {rounds} interleaved rounds), pages of 10")
        print(f"{'list':<12}{'query':<36}{head}   largest/smallest")
        for qi, (coll, label, _q, _p, _f) in enumerate(table):
            medians = [statistics.median(cells[(qi, s, cold)]) for s in sizes]
            ratio = medians[-1] / medians[0]
            # Judged hot only (quick mode: never).
            verdict = "" if args.quick or cold else ("OK" if ratio <= 1.2 else "MISS")
            if verdict == "MISS":
                missed.append(f"{coll} {label}")
            print(
                f"{coll:<12}{label:<36}"
                + "".join(f"{m:>11.1f}" for m in medians)
                + f"   x{ratio:.2f} {verdict}"
            )
    if first:
        print("\nfirst page of a filter after a write (one pass building the selection), µs; no target")
        for qi, (coll, label, *_r) in enumerate(table):
            if table[qi][4]:
                values = [first[(qi, s)] for s in sizes]
                print(
                    f"{coll:<12}{label:<36}"
                    + "".join(f"{v:>11.0f}" for v in values)
                    + f"   x{values[-1] / values[0]:.0f}"
                )
    after = rss_mib()
    print(f"\nprocess RSS after the measurements (all sizes, buckets, cached selections): {after:.0f} MiB")
    print("RSS per voucher count (after seeding): " + ", ".join(f"{s:,}: {rss[s]:.0f} MiB" for s in sizes))
    if not args.quick:
        if 1_000_000 in rss:
            held = rss[1_000_000] / 1024
            print(f"1M vouchers held in {held:.2f} GiB (target < 2 GiB)  {'OK' if held < 2 else 'MISS'}")
            if held >= 2:
                missed.append("1M vouchers in under 2 GiB")
        print(f"targets missed: {len(missed)}" + (f" ({'; '.join(missed)})" if missed else ""))
    if problems:
        print("BROKEN:\n  " + "\n  ".join(problems))
        return 1
    if args.quick:
        print("quick: every walk yielded each object exactly once")
        return 0
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
