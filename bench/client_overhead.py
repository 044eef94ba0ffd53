"""Client CPU time per call, side by side, against a loopback server (``bench/_server.py``).

Two scenarios, each run in one go with its contenders interleaved round by round (to cancel drift):

``get``  ``GET /v1/vouchers/{code}``, a ~2 KB voucher:

* ``bare``    a ``requests.Session`` with ``trust_env=False``: GET + ``.json()``, same headers;
* ``client``  this project: ``VoucherifyClient(...).vouchers.get(code)``;
* ``sdk``     the official ``voucherify`` SDK (6.1.1): ``VouchersApi(...).get_voucher(code)``.

``list``  ``GET /v1/vouchers?limit=100``, a list page of 100 such vouchers (~210 KB of JSON):

* ``urllib3`` a ``urllib3.HTTPConnectionPool``: GET + ``json.loads(response.data)`` (the floor);
* ``bare``    a ``requests.Session``: GET + ``.json()`` (10 KB chunks, then text decoding);
* ``client``  ``client.vouchers.list(limit=100)``;
* ``sdk``     ``VouchersApi(...).list_vouchers(limit=100)`` (parses into pydantic models).

The server runs in another process, so ``time.process_time()`` here is the client's CPU only.
Each round times N calls per contender; the figure is the median over rounds, per call.
Every call returns how many vouchers it parsed; each contender must report the same count and
the server must have seen every call, or the run is broken (exit 2).
Targets: get: client/bare <= 1.15 and client/sdk < 1; list: client/urllib3 <= 1.1.

Usage: ``python bench/client_overhead.py [--scenario get|list|all] [-n 2000] [--rounds 7]``;
``--quick`` (a few calls, one round, checks only: exits non-zero when broken, never on timings);
``--profile CONTENDER`` prints a cProfile of one contender's calls instead.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests
import urllib3
from _server import APP_ID, SECRET_KEY, serve

from django_voucherify.api.client import VoucherifyClient
from django_voucherify.api.transport import USER_AGENT

CODE = "BENCH-AMOUNT-10"
PAGE = 100
GET_TARGETS = {"bare": 1.15, "sdk": 1.0}  # client / contender
LIST_TARGETS = {"urllib3": 1.1}

#: One call; returns how many vouchers it parsed (1 for a get).
Call = Callable[[], int]
HEADERS = {
    "X-App-Id": APP_ID,
    "X-App-Token": SECRET_KEY,
    "User-Agent": USER_AGENT,
    "Accept": "application/json",
}


@dataclass
class Scenario:
    name: str
    what: str
    calls_per_round: int
    contenders: dict[str, Call]
    targets: dict[str, float]
    items_per_call: int


def bare_requests(url: str, path: str, count: Callable[[dict], int]) -> Call:
    session = requests.Session()
    session.trust_env = False
    full = url + path
    return lambda: count(session.get(full, headers=HEADERS, timeout=(3.05, 20.0)).json())


def bare_urllib3(url: str, path: str, count: Callable[[dict], int]) -> Call:
    host, port = url.removeprefix("http://").split(":")
    pool = urllib3.HTTPConnectionPool(host, int(port), maxsize=1, retries=False)
    timeout = urllib3.Timeout(connect=3.05, read=20.0)
    return lambda: count(json.loads(pool.request("GET", path, headers=HEADERS, timeout=timeout).data))


def official_sdk(url: str) -> object | str:
    """The SDK's ``VouchersApi``, or why it cannot be measured."""
    try:
        import voucherify
    except ImportError as exc:
        return f"not installed ({exc}); pip install -r bench/requirements.txt"
    config = voucherify.Configuration(host=url, api_key={"X-App-Id": APP_ID, "X-App-Token": SECRET_KEY})
    return voucherify.VouchersApi(voucherify.ApiClient(config))


def scenarios(url: str, wanted: str, n: int) -> list[Scenario]:
    client = VoucherifyClient(APP_ID, SECRET_KEY, api_url=url)
    sdk = official_sdk(url)
    if isinstance(sdk, str):
        print(f"official SDK skipped: {sdk}")

    def one(body: dict) -> int:
        return 1 if body["code"] == CODE else 0

    def page(body: dict) -> int:
        return len(body["vouchers"])

    found: list[Scenario] = []
    if wanted in ("get", "all"):
        get: dict[str, Call] = {
            "bare": bare_requests(url, f"/v1/vouchers/{CODE}", one),
            "client": lambda: one(client.vouchers.get(CODE)),
        }
        if not isinstance(sdk, str):
            get["sdk"] = lambda: 1 if sdk.get_voucher(CODE).code == CODE else 0  # type: ignore[attr-defined]
        found.append(Scenario("get", "get-voucher call (~2 KB)", n, get, GET_TARGETS, 1))
    if wanted in ("list", "all"):
        path = f"/v1/vouchers?limit={PAGE}"
        listing: dict[str, Call] = {
            "urllib3": bare_urllib3(url, path, page),
            "bare": bare_requests(url, path, page),
            "client": lambda: page(client.vouchers.list(limit=PAGE)),
        }
        if not isinstance(sdk, str):
            listing["sdk"] = lambda: len(sdk.list_vouchers(limit=PAGE).vouchers or [])  # type: ignore[attr-defined]
        # A list page costs ~50x a get: fewer calls per round keep the rounds comparable.
        found.append(
            Scenario("list", f"list page of {PAGE} vouchers", max(1, n // 20), listing, LIST_TARGETS, PAGE)
        )
    return found


def cpu_us_per_call(call: Call, n: int, expected: int) -> tuple[float, bool]:
    """CPU µs per call, and whether every call parsed ``expected`` vouchers."""
    gc.collect()
    ok = True
    start = time.process_time()
    for _ in range(n):
        ok &= call() == expected
    return (time.process_time() - start) / n * 1e6, ok


def profile(call: Call, n: int) -> None:
    profiler = cProfile.Profile()
    profiler.runcall(lambda: [call() for _ in range(n)])
    stats = pstats.Stats(profiler).strip_dirs().sort_stats("tottime")
    stats.print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)


def run(scenario: Scenario, rounds: int, warmup: int) -> tuple[dict[str, list[float]], list[str]]:
    problems: list[str] = []
    for name, call in scenario.contenders.items():  # warm up: connection, caches, lazy imports
        for _ in range(warmup):
            if call() != scenario.items_per_call:
                problems.append(f"{scenario.name}/{name} did not parse {scenario.items_per_call} vouchers")
                break
    samples: dict[str, list[float]] = {name: [] for name in scenario.contenders}
    names = list(scenario.contenders)
    for round_number in range(rounds):
        shift = round_number % len(names)  # rotate who goes first
        for name in names[shift:] + names[:shift]:
            figure, ok = cpu_us_per_call(
                scenario.contenders[name], scenario.calls_per_round, scenario.items_per_call
            )
            samples[name].append(figure)
            if not ok:
                problems.append(f"{scenario.name}/{name} parsed a wrong number of vouchers")
    return samples, problems


def report(scenario: Scenario, samples: dict[str, list[float]], rounds: int) -> bool:
    median = {name: statistics.median(values) for name, values in samples.items()}
    print(
        f"client CPU per {scenario.what}: {rounds} rounds x {scenario.calls_per_round} calls, "
        f"median (min-max) µs"
    )
    for name, values in samples.items():
        print(f"  {name:<8} {median[name]:9.1f} µs   ({min(values):.1f}-{max(values):.1f})")
    ok = True
    for name in median:
        if name == "client":
            continue
        ratio = median["client"] / median[name]
        target = scenario.targets.get(name)
        if target is None:
            print(f"  client/{name:<8} = {ratio:.3f}")
            continue
        met = ratio <= target if target > 1 else ratio < target
        ok &= met
        sign = "<=" if target > 1 else "<"
        print(f"  client/{name:<8} = {ratio:.3f}  (target {sign} {target})  {'OK' if met else 'MISSED'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", choices=["get", "list", "all"], default="all")
    parser.add_argument("-n", type=int, default=2000, help="get calls per contender per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="a few calls, checks only")
    parser.add_argument("--profile", choices=["urllib3", "bare", "client", "sdk"])
    args = parser.parse_args()
    n, rounds, warmup = (40, 1, 3) if args.quick else (args.n, args.rounds, 50)

    with serve() as server:
        found = scenarios(server.url, args.scenario, n)
        if args.profile:
            for scenario in found:
                if args.profile in scenario.contenders:
                    print(f"== {scenario.name}")
                    profile(scenario.contenders[args.profile], scenario.calls_per_round)
            return 0
        results = []
        problems: list[str] = []
        expected_calls = 0
        for scenario in found:
            samples, broken = run(scenario, rounds, warmup)
            results.append((scenario, samples))
            problems += broken
            expected_calls += len(scenario.contenders) * (warmup + rounds * scenario.calls_per_round)
        stats = server.stats()

    print(f"Python {sys.version.split()[0]}, requests {requests.__version__}, urllib3 {urllib3.__version__}")
    ok = True
    for scenario, samples in results:
        ok &= report(scenario, samples, rounds)
    print(f"  server saw {stats['requests']} calls on {stats['api_connections']} connections")
    if stats["requests"] != expected_calls:
        problems.append(f"the server saw {stats['requests']} calls, {expected_calls} were made")
    for problem in problems:
        print(f"BROKEN: {problem}")
    if problems:
        return 2
    return 0 if ok or args.quick else 1


if __name__ == "__main__":
    sys.exit(main())
