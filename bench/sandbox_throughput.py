"""Sandbox throughput: HTTP redeems/s of the sandbox against a plain HTTP server, side by side.

    .venv/bin/python bench/sandbox_throughput.py [--seconds 1] [--rounds 5]
    .venv/bin/python bench/sandbox_throughput.py --quick

Contenders, each in its own process, driven by the same load generator (``_http_load.py``: raw
keep-alive sockets, one request in flight per connection) with 1, 4 and 16 connections:

* **sandbox** -- ``python -m django_voucherify.sandbox``, ``POST /v1/redemptions`` redeeming one
  voucher (authenticated, routed, priced, recorded: the full path);
* **plain** -- ``_canned_server.py``, the standard library's threaded ``http.server`` with
  keep-alive, answering the same request with a canned body: a real redeem response of the
  sandbox, byte for byte the same size.

Rounds are interleaved (sandbox and plain alternate, order swapped each round) and the median
rate of each is compared. Target (issue 13): the sandbox at least 0.5x the plain server at every
client count; exits 1 otherwise. The in-process WSGI rate (issue 3's target: over 2,000/s) is
printed too, for information: an absolute rate depends on the machine's load, so it is not judged.

Printed too, not judged: each server's request handling without syscalls (``_no_syscalls.py``:
its handler class fed pipelined requests from memory; the steady figure on a loaded machine).

``--quick`` runs a few hundred requests per contender and checks the harness, never timings:
every redeem answered 200 and counted by the sandbox (the voucher's ``redeemed_quantity``), every
request answered by the plain server (its own counter); exits 1 when not.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from _http_load import LoadResult, http_request, run_load
from _no_syscalls import costs as no_syscall_costs

from django_voucherify.sandbox import Sandbox

APP_ID, TOKEN = "bench", "bench-token"  # a loopback sandbox's keys, not secrets
REDEEM = {"redeemables": [{"object": "voucher", "id": "BENCH"}], "order": {"amount": 5000}}
VOUCHER = {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 100}}
CLIENTS = (1, 4, 16)
TARGET_RATIO = 0.5
HERE = Path(__file__).resolve().parent


def _headers(port: int) -> dict[str, str]:
    """What the project's client (requests) sends with a redeem."""
    return {
        "Host": f"127.0.0.1:{port}",
        "User-Agent": "django-voucherify/bench python-requests/2.32",
        "Accept-Encoding": "gzip, deflate",
        "Accept": "application/json",
        "Connection": "keep-alive",
        "Content-Type": "application/json",
        "X-App-Id": APP_ID,
        "X-App-Token": TOKEN,
    }


def _call(port: int, method: str, path: str, body: object = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, payload, _headers(port))
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process has used so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def sandbox_process() -> Iterator[tuple[int, int]]:
    """``python -m django_voucherify.sandbox`` on a free port, with the BENCH voucher."""
    port = _free_port()
    argv = ["-m", "django_voucherify.sandbox", "--port", str(port), "--app-id", APP_ID, "--app-token", TOKEN]
    proc = subprocess.Popen([sys.executable, *argv])
    try:
        for _ in range(200):
            try:
                status, body = _call(port, "POST", "/v1/vouchers/BENCH", VOUCHER)
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("the sandbox did not start")
        if status != 200:
            raise RuntimeError(f"creating the voucher answered {status}: {body[:200]!r}")
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def canned_process(body: bytes) -> Iterator[tuple[int, int]]:
    """``_canned_server.py`` answering ``body``; stops when its stdin closes."""
    with tempfile.NamedTemporaryFile(suffix=".json") as file:
        file.write(body)
        file.flush()
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "_canned_server.py"), file.name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            port = proc.stdout.readline().strip()
            if not port.isdigit():
                raise RuntimeError("the canned server did not start")
            yield int(port), proc.pid
        finally:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(10)


def redeemed_quantity(port: int) -> int:
    status, body = _call(port, "GET", "/v1/vouchers/BENCH")
    assert status == 200, status
    quantity: int = json.loads(body)["redemption"]["redeemed_quantity"]
    return quantity


def wsgi_rate(seconds: float) -> float:
    """In-process: ``Sandbox.handle_environ`` called directly (no HTTP), one thread."""
    sandbox = Sandbox(app_id=APP_ID, app_token=TOKEN)
    payload = json.dumps(REDEEM).encode()
    base = {
        "REQUEST_METHOD": "POST",
        "CONTENT_TYPE": "application/json",
        "HTTP_X_APP_ID": APP_ID,
        "HTTP_X_APP_TOKEN": TOKEN,
    }

    def call(path: str, body: bytes) -> int:
        environ = {**base, "RAW_URI": path, "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)}
        return sandbox.handle_environ(environ).status

    assert call("/v1/vouchers/BENCH", json.dumps(VOUCHER).encode()) == 200
    done, deadline = 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        assert call("/v1/redemptions", payload) == 200
        done += 1
    return done / seconds


Rates = dict[tuple[str, int], list[float]]


def measure(rounds: int, seconds: float, requests: int) -> tuple[Rates, Rates, list[str]]:
    """Rates per (contender, clients), and what went wrong (responses not 200, counts off)."""
    problems: list[str] = []
    rates: Rates = {}
    cpu_per_request: Rates = {}  # server CPU seconds per answered request
    payload = json.dumps(REDEEM).encode()
    with sandbox_process() as (sandbox_port, sandbox_pid):
        status, canned_body = _call(sandbox_port, "POST", "/v1/redemptions", REDEEM)
        if status != 200:
            raise RuntimeError(f"a redeem answered {status}: {canned_body[:300]!r}")
        before = redeemed_quantity(sandbox_port)
        with canned_process(canned_body) as (canned_port, canned_pid):
            ports = {"sandbox": sandbox_port, "plain": canned_port}
            pids = {"sandbox": sandbox_pid, "plain": canned_pid}
            requests_bytes = {
                name: http_request("POST", "/v1/redemptions", _headers(port), payload)
                for name, port in ports.items()
            }
            totals = {"sandbox": 0, "plain": 0}
            for name in ports:  # warm-up (imports, caches, threads); counted, not timed
                warm = run_load(ports[name], requests_bytes[name], 4, requests=200)
                totals[name] += warm.statuses[200]
                if set(warm.statuses) != {200}:
                    problems.append(f"{name}, warm-up: statuses {dict(warm.statuses)}")
            for clients in CLIENTS:
                for round_no in range(rounds):
                    order = ("sandbox", "plain") if round_no % 2 == 0 else ("plain", "sandbox")
                    for name in order:
                        cpu_before = cpu_seconds(pids[name])
                        result: LoadResult = run_load(
                            ports[name], requests_bytes[name], clients, seconds=seconds, requests=requests
                        )
                        cpu = cpu_seconds(pids[name]) - cpu_before
                        cpu_per_request.setdefault((name, clients), []).append(cpu / max(result.answered, 1))
                        if set(result.statuses) != {200}:
                            problems.append(f"{name}, {clients} clients: statuses {dict(result.statuses)}")
                        totals[name] += result.statuses[200]
                        rates.setdefault((name, clients), []).append(result.rate)
            _, served = _call(canned_port, "GET", "/__count")
            if int(served) != totals["plain"]:
                problems.append(f"plain server counted {int(served)} POSTs, the load got {totals['plain']}")
        redeemed = redeemed_quantity(sandbox_port) - before
        if redeemed != totals["sandbox"]:
            got = totals["sandbox"]
            problems.append(f"the sandbox counted {redeemed} redemptions, the load got {got} 200s")
    return rates, cpu_per_request, problems


def report(rates: Rates, cpu: Rates) -> list[int]:
    """Print both tables; the client counts whose paired ratio misses the target."""
    print("HTTP redeem, keep-alive clients: medians over rounds; ratio = median of the rounds'")
    print("sandbox/plain ratios (each pair measured back to back)")
    head = f"{'clients':>7} {'sandbox/s':>10} {'plain/s':>10} {'ratio':>7}  target  "
    print(head + " | server CPU us/req: sandbox plain  ratio")
    missed = []
    for clients in CLIENTS:
        sandbox, plain = rates[("sandbox", clients)], rates[("plain", clients)]
        ratio = statistics.median(a / b for a, b in zip(sandbox, plain, strict=True))
        cpu_sandbox = statistics.median(cpu[("sandbox", clients)]) * 1e6
        cpu_plain = statistics.median(cpu[("plain", clients)]) * 1e6
        cpu_ratio = cpu_plain / cpu_sandbox if cpu_sandbox else float("nan")
        if ratio < TARGET_RATIO:
            missed.append(clients)
        print(
            f"{clients:>7} {statistics.median(sandbox):10,.0f} {statistics.median(plain):10,.0f} "
            f"{ratio:6.2f}x  >= {TARGET_RATIO}x  | {cpu_sandbox:24.0f} {cpu_plain:5.0f} {cpu_ratio:5.2f}x"
        )
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=1.0, help="length of each measured run")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per client count")
    parser.add_argument("--quick", action="store_true", help="a few hundred requests; check, don't judge")
    args = parser.parse_args()
    if args.quick:
        rates, cpu, problems = measure(rounds=1, seconds=0.0, requests=100)
    else:
        rates, cpu, problems = measure(rounds=args.rounds, seconds=args.seconds, requests=0)
    missed = report(rates, cpu)
    if not args.quick:
        rate = wsgi_rate(args.seconds)
        print(f"in-process WSGI call, 1 thread: {rate:,.0f} redeems/s (issue 3: > 2,000/s; not judged)")
    n, repeat = (100, 1) if args.quick else (2000, 7)
    sandbox_us, plain_us, more = no_syscall_costs(
        _headers(8100), json.dumps(REDEEM).encode(), json.dumps(VOUCHER).encode(), APP_ID, TOKEN, n, repeat
    )
    problems += more
    print(
        f"no syscalls (each server's handler fed {n:,} pipelined requests from memory), CPU per redeem, "
        f"min of {repeat}: sandbox {sandbox_us:.0f} us, plain {plain_us:.0f} us, plain/sandbox "
        f"{plain_us / sandbox_us:.2f}x (not judged)"
    )
    for problem in problems:
        print("BROKEN:", problem, file=sys.stderr)
    if problems:
        return 1
    if args.quick:
        print("quick: every request answered and counted (timings not judged)")
        return 0
    if missed:
        print("target missed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
