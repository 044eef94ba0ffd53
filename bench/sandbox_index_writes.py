"""Sandbox index writes: CPU cost of one out-of-order index insert at 1k / 10k / 100k / 1M rows.

    .venv/bin/python bench/sandbox_index_writes.py [--rounds 3] [--max 1000000]
    .venv/bin/python bench/sandbox_index_writes.py --quick
    .venv/bin/python bench/sandbox_index_writes.py --code /tmp/before   # another checkout

A redeem stores a redemption whose random id lands inside the ``id`` ordering of the
redemptions (and its voucher code, tracking id and customer id inside theirs). Two contenders
side by side in one process, rounds interleaved (sizes and contenders alternate order):

* **OrderIndex** -- ``sandbox.store.OrderIndex.put`` of the checkout measured;
* **insort** -- what the sandbox did before issue 13's fix: ``bisect.insort`` of the row into a
  sorted list (shifting, on average, half of it).

Each cell is the median over rounds of the thread CPU time per insert of 2,000 random ids into
an index already holding n rows (merged, as after a listing), with no read in between (a
redeem-only load), and again with a read of the ordering every 100 inserts. The garbage
collector is off while timing (its full collections cost in proportion to the whole heap,
whatever the index does). Target (issue 13,
"per-item cost flat from a thousand to a million"): OrderIndex without reads at the largest size
within 1.2x of the smallest; exits 1 otherwise. The column with reads has no target (a read
after k writes merges them: for k below 256 that is k bisections, the old cost).

``--quick``: 1k and 5k rows, 200 inserts; checks that every read lists exactly the sorted ids,
never timings.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from bisect import insort
from pathlib import Path
from typing import Any

if "--code" in sys.argv:  # measure another checkout (e.g. the code before the pending rows)
    sys.path.insert(0, sys.argv[sys.argv.index("--code") + 1])

from django_voucherify.sandbox.store import OrderIndex, text_of

EXTRACT = text_of("id")


class Insort:
    """The old write path: one bisect insertion per row."""

    def __init__(self) -> None:
        self.rows: list[Any] = []

    def put(self, key: str, obj: dict[str, Any], seq: int) -> None:
        insort(self.rows, (EXTRACT(obj), seq, key, obj))

    def load(self, keys: list[str]) -> None:
        self.rows = sorted((EXTRACT({"id": key}), seq, key, {"id": key}) for seq, key in enumerate(keys))


class Index(OrderIndex):
    __slots__ = ()

    def load(self, keys: list[str]) -> None:
        """A bulk load, as ``IndexedDict.put_many`` does (inserting 1M random ids one by one
        with the old code would take hours)."""
        for seq, key in enumerate(keys):
            self.append_unsorted(key, {"id": key}, seq)
        self.rows.sort()
        self.compact()


CONTENDERS: dict[str, Any] = {"OrderIndex": lambda: Index(EXTRACT), "insort": Insort}


def ids(rng: random.Random, n: int) -> list[str]:
    return [f"r_{rng.getrandbits(64):016x}" for _ in range(n)]


def cell(make: Any, base: list[str], extra: list[str], read_every: int | None) -> tuple[float, bool]:
    """CPU µs per insert of ``extra`` into an index of ``base``; and whether every read (and
    the final one) listed exactly the sorted ids."""
    index = make()
    index.load(base)
    exact = True
    # The cyclic collector off while timing: a full collection walks every object (1M rows:
    # ~10 ms), and whichever contender's window it falls in would pay for the whole heap.
    gc.collect()
    gc.disable()
    start = time.thread_time()
    for n, key in enumerate(extra):
        index.put(key, {"id": key}, len(base) + n)
        if read_every is not None and n % read_every == read_every - 1:
            rows = index.rows
            exact = exact and len(rows) == len(base) + n + 1
    spent = time.thread_time() - start
    gc.enable()
    got = [row[2] for row in index.rows]
    exact = exact and got == sorted(base + extra)
    return spent / len(extra) * 1e6, exact


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1k and 5k; check listings, never timings")
    parser.add_argument("--max", type=int, default=1_000_000, help="largest index size")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--code", default=None, help="import django_voucherify from this checkout")
    args = parser.parse_args()
    sizes = (
        [1_000, 5_000] if args.quick else [s for s in (1_000, 10_000, 100_000, 1_000_000) if s <= args.max]
    )
    inserts = 200 if args.quick else 2_000
    rounds = 1 if args.quick else args.rounds
    rng = random.Random(13)
    cells: dict[tuple[str, int, int | None], list[float]] = {}
    wrong: list[str] = []
    for r in range(rounds):
        for size in sizes if r % 2 == 0 else sizes[::-1]:
            every_id = ids(rng, size + inserts)
            base, extra = every_id[:size], every_id[size:]
            names = list(CONTENDERS) if r % 2 == 0 else list(CONTENDERS)[::-1]
            for name in names:
                for read_every in (None, 100):
                    spent, exact = cell(CONTENDERS[name], base, extra, read_every)
                    cells.setdefault((name, size, read_every), []).append(spent)
                    if not exact:
                        wrong.append(f"{name} at {size:,} (reads every {read_every})")
    print(f"Checkout: {Path(sys.modules[OrderIndex.__module__].__file__ or '').parents[2]}")
    print(f"CPU µs per out-of-order insert ({inserts:,} random ids; median of {rounds} rounds)")
    head = "".join(f"{s:>11,}" for s in sizes)
    print(f"{'contender':<12}{'reads':<16}{head}   largest/smallest")
    flat = True
    for name in CONTENDERS:
        for read_every in (None, 100):
            row = [statistics.median(cells[(name, s, read_every)]) for s in sizes]
            ratio = row[-1] / row[0]
            judged = name == "OrderIndex" and read_every is None
            verdict = ("OK" if ratio <= 1.2 else "MISS") if judged and not args.quick else ""
            flat = flat and (verdict != "MISS")
            reads = "none" if read_every is None else f"every {read_every}"
            cols = "".join(f"{v:>11.2f}" for v in row)
            print(f"{name:<12}{reads:<16}{cols}   x{ratio:.2f} {verdict}")
    if wrong:
        print("listings not exactly the sorted ids: " + "; ".join(wrong))
        return 1
    if args.quick:
        print("quick: every read listed exactly the sorted ids")
        return 0
    return 0 if flat else 1


if __name__ == "__main__":
    sys.exit(main())
