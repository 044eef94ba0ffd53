"""A CSV with one 100 MB line: time and traced memory of splitting it (``jobs.csvfiles``).

The source is read through Django's ``File`` (what ``prepare`` opens from storage). Prints the
row outcome, wall time and tracemalloc peak for a 1 MB line and for a ``--mb`` line (default
100), side by side, so the ratio shows whether cost grows with the line.

    .venv/bin/python bench/csv_long_line.py [--mb 100] [--quick]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.core.files import File  # noqa: E402

from django_voucherify.jobs import csvfiles  # noqa: E402


def run(mb: float) -> tuple[str, float, float]:
    data = b"Code,Value\nOK-1,10\nHUGE," + b"x" * int(mb * 1024 * 1024) + b"\nOK-2,10\n"
    failed: list[dict] = []
    tracemalloc.start()
    started = time.perf_counter()
    try:
        split = csvfiles.split_csv(
            csvfiles.VOUCHERS, File(io.BytesIO(data)), 9_000_000, lambda f, i: f"part{i}", failed.append
        )
        outcome = f"{split.rows} rows, {split.failed_count} failed"
    except Exception as exc:  # the code before the fix
        outcome = f"{type(exc).__name__}: {exc}"[:60]
    wall = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return outcome, wall, peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=100.0)
    parser.add_argument("--quick", action="store_true", help="a 4 MB line (CI: checks it still runs)")
    args = parser.parse_args()
    if args.quick:
        args.mb = 4.0
    print(f"{'line MB':>8} {'wall s':>8} {'traced peak MB':>15}  outcome")
    results = [(size, *run(size)) for size in (1.0, args.mb)]
    for size, outcome, wall, peak in results:
        print(f"{size:>8.0f} {wall:>8.2f} {peak:>15.1f}  {outcome}")
    # What the bench measures must still happen: the long line fails alone, its neighbours pass.
    for _size, outcome, _wall, _peak in results:
        if outcome != "3 rows, 1 failed":
            sys.exit(f"unexpected outcome: {outcome}")
    print(
        f"line ratio {args.mb:.0f}x -> time ratio {results[1][2] / results[0][2]:.0f}x, "
        f"peak ratio {results[1][3] / results[0][3]:.1f}x"
    )


if __name__ == "__main__":
    main()
