"""Client CPU time per ``get voucher`` call, side by side, against a loopback server.

Compares, in one run and interleaved round by round (to cancel drift):

* ``bare``   a ``requests.Session`` with ``trust_env=False``: GET + ``.json()``, same headers;
* ``client`` this project: ``VoucherifyClient(...).vouchers.get(code)``;
* ``sdk``    the official ``voucherify`` SDK (6.1.1): ``VouchersApi(...).get_voucher(code)``.

The server runs in another process, so ``time.process_time()`` here is the client's CPU only.
Each round times N calls per contender; the figure is the median over rounds, in µs per call.
Targets: client/bare <= 1.15 and client/sdk < 1.

Usage: ``python bench/client_overhead.py [-n 2000] [--rounds 7]``
(``--profile client`` prints a cProfile of the client's calls instead).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import requests
from _server import APP_ID, SECRET_KEY, serve

from django_voucherify.api.client import VoucherifyClient
from django_voucherify.api.transport import USER_AGENT

CODE = "BENCH-AMOUNT-10"
CLIENT_TARGET = 1.15

Call = Callable[[], Any]


def bare_requests(url: str) -> Call:
    session = requests.Session()
    session.trust_env = False
    headers = {
        "X-App-Id": APP_ID,
        "X-App-Token": SECRET_KEY,
        "User-Agent": USER_AGENT,
        "Accept": "application/json",
    }
    voucher_url = f"{url}/v1/vouchers/{CODE}"

    def call() -> Any:
        return session.get(voucher_url, headers=headers, timeout=(3.05, 20.0)).json()

    return call


def this_client(url: str) -> Call:
    client = VoucherifyClient(APP_ID, SECRET_KEY, api_url=url)
    return lambda: client.vouchers.get(CODE)


def official_sdk(url: str) -> Call | str:
    """The SDK's call, or why it cannot be measured."""
    try:
        import voucherify
    except ImportError as exc:
        return f"not installed ({exc}); pip install -r bench/requirements.txt"
    config = voucherify.Configuration(host=url, api_key={"X-App-Id": APP_ID, "X-App-Token": SECRET_KEY})
    api = voucherify.VouchersApi(voucherify.ApiClient(config))
    return lambda: api.get_voucher(CODE)


def cpu_us_per_call(call: Call, n: int) -> float:
    gc.collect()
    start = time.process_time()
    for _ in range(n):
        call()
    return (time.process_time() - start) / n * 1e6


def profile(call: Call, n: int) -> None:
    profiler = cProfile.Profile()
    profiler.runcall(lambda: [call() for _ in range(n)])
    stats = pstats.Stats(profiler).strip_dirs().sort_stats("tottime")
    stats.print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=2000, help="calls per contender per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--profile", choices=["bare", "client", "sdk"])
    args = parser.parse_args()

    with serve() as server:
        contenders: dict[str, Call] = {"bare": bare_requests(server.url), "client": this_client(server.url)}
        sdk = official_sdk(server.url)
        if isinstance(sdk, str):
            print(f"official SDK skipped: {sdk}")
        else:
            contenders["sdk"] = sdk
        for call in contenders.values():  # warm up: connection, caches, lazy imports
            for _ in range(200):
                call()
        if args.profile:
            profile(contenders[args.profile], args.n)
            return 0

        samples: dict[str, list[float]] = {name: [] for name in contenders}
        names = list(contenders)
        for round_number in range(args.rounds):
            shift = round_number % len(names)  # rotate who goes first
            for name in names[shift:] + names[:shift]:
                samples[name].append(cpu_us_per_call(contenders[name], args.n))
        stats = server.stats()

    median = {name: statistics.median(values) for name, values in samples.items()}
    print(
        f"client CPU per get-voucher call: {args.rounds} rounds x {args.n} calls, median "
        f"(min-max) µs; server in another process; Python {sys.version.split()[0]}, "
        f"requests {requests.__version__}"
    )
    for name, values in samples.items():
        print(f"  {name:<7} {median[name]:8.1f} µs   ({min(values):.1f}-{max(values):.1f})")
    ok = True
    ratio = median["client"] / median["bare"]
    ok &= ratio <= CLIENT_TARGET
    print(
        f"  client/bare = {ratio:.3f}  (target <= {CLIENT_TARGET})  "
        f"{'OK' if ratio <= CLIENT_TARGET else 'MISSED'}"
    )
    if "sdk" in median:
        ratio = median["client"] / median["sdk"]
        ok &= ratio < 1
        print(f"  client/sdk  = {ratio:.3f}  (target < 1)  {'OK' if ratio < 1 else 'MISSED'}")
    print(f"  server saw {stats['requests']} calls on {stats['api_connections']} connections")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
