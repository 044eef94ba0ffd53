"""Import a 1,000,000-row voucher CSV through the app and report its peak memory.

    .venv/bin/python bench/import_1m_csv.py [--rows 1000000] [--no-tracemalloc] [--quick]

The path is the production one: ``jobs.import_vouchers_csv`` stores the file through Django's
storage, the prepare step streams it row by row into parts under 10 MB, each part is uploaded
(streamed multipart) to the sandbox over HTTP and its async action polled until DONE. Celery
runs eagerly and :func:`django_voucherify.jobs.drive` plays the worker in this process.

The sandbox runs in its own process (``python -m django_voucherify.sandbox``), so its memory
(it keeps every voucher) is reported separately from the app's. A small run first shows that
the app's peak does not grow with the file: the ratio column compares both runs.
Needs PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/bench_jobs).
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from urllib.request import urlopen

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import ROOT, django_db

TARGET_MB = 200.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_csv(path: Path, rows: int, prefix: str) -> int:
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("Code,Voucher Type,Value,Discount Type,Expiration Date,Batch\n")
        for i in range(rows):
            f.write(f"{prefix}{i:07d},DISCOUNT_VOUCHER,{5 + i % 50},PERCENT,2030-12-31,bench\n")
    return path.stat().st_size


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class CountRequests(logging.Handler):
    """The client logs one record per response on ``django_voucherify`` (DEBUG for success)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "method", None):
            self.count += 1


def run(rows: int, tmp: Path, prefix: str, trace: bool) -> dict[str, float]:
    from django_voucherify import jobs

    source = tmp / f"{prefix}vouchers.csv"
    size = write_csv(source, rows, prefix)
    counter = CountRequests()
    logging.getLogger("django_voucherify").addHandler(counter)
    logging.getLogger("django_voucherify").setLevel(logging.DEBUG)
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    job = jobs.import_vouchers_csv(str(source))
    job = jobs.drive(job, timeout=3600)
    wall = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace else float("nan")
    if trace:
        tracemalloc.stop()
    logging.getLogger("django_voucherify").removeHandler(counter)
    assert job.state == "done", (job.state, job.error)
    assert job.done_count == rows, (job.done_count, job.failed_count, job.failed_rows[:3])
    return {
        "rows": rows,
        "mb": size / 2**20,
        "parts": job.parts.count(),
        "wall": wall,
        "requests": counter.count,
        "traced_peak": peak,
        "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=20_000, help="rows of the first, small run")
    parser.add_argument("--no-tracemalloc", action="store_true")
    parser.add_argument("--quick", action="store_true", help="300 then 3,000 rows (CI: still runs)")
    args = parser.parse_args()
    if args.quick:
        args.small, args.rows = 300, 3_000
    port = free_port()
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "django_voucherify.sandbox", "--port", str(port), "--job-delay", "0.05"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urlopen(f"{url}/v1/async-actions", timeout=1)
            except OSError as exc:
                if getattr(exc, "code", None) == 401:
                    break
                time.sleep(0.1)
        db_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_jobs")
        with django_db(db_url), tempfile.TemporaryDirectory() as tmp:
            from celery import Celery
            from django.conf import settings
            from django.test import override_settings

            import django_voucherify

            # override_settings (not assignment): it sends setting_changed, which drops the
            # app's cached settings object.
            override_settings(
                MEDIA_ROOT=str(Path(tmp) / "media"),
                VOUCHERIFY={
                    **settings.VOUCHERIFY,
                    "APP_ID": "sandbox-app-id",
                    "SECRET_KEY": "sandbox-secret-key",
                    "API_URL": url,
                    "JOB_POLL_INTERVAL": 0.2,
                    "JOB_POLL_INTERVAL_MAX": 1.0,
                    "READ_TIMEOUT": 120.0,
                    "SYNC_LEASE_SECONDS": 1500,  # above 5 sends of 120 s reads (check E012)
                },
            ).enable()
            django_voucherify.reset_client()
            app = Celery("bench", set_as_current=True)
            app.conf.task_always_eager = True
            app.autodiscover_tasks()  # the app's tasks run inline, never sent to a broker
            trace = not args.no_tracemalloc
            small = run(args.small, Path(tmp), "S", trace)
            big = run(args.rows, Path(tmp), "B", trace)
        sandbox_mb = vm_hwm_mb(sandbox.pid)
    finally:
        sandbox.kill()  # its multi-GB state needs no orderly shutdown
        sandbox.wait()
    print(
        f"{'rows':>10} {'CSV MB':>7} {'parts':>5} {'requests':>8} {'wall s':>7} "
        f"{'rows/s':>8} {'traced peak MB':>14} {'app maxrss MB':>13}"
    )
    for r in (small, big):
        print(
            f"{r['rows']:>10,} {r['mb']:>7.1f} {r['parts']:>5} {r['requests']:>8} {r['wall']:>7.1f} "
            f"{r['rows'] / r['wall']:>8,.0f} {r['traced_peak']:>14.1f} {r['maxrss']:>13.1f}"
        )
    print(
        f"rows ratio {big['rows'] / small['rows']:.0f}x -> traced peak ratio "
        f"{big['traced_peak'] / small['traced_peak']:.2f}x, app maxrss ratio "
        f"{big['maxrss'] / small['maxrss']:.2f}x"
    )
    print(
        f"app peak (maxrss) {big['maxrss']:.0f} MB = {big['maxrss'] / TARGET_MB:.2f} x the "
        f"{TARGET_MB:.0f} MB target; sandbox process peak {sandbox_mb:.0f} MB (holds every voucher)"
    )


if __name__ == "__main__":
    main()
