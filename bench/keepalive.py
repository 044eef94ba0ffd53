"""N sequential calls through ``VoucherifyClient`` must open exactly one TCP connection.

The loopback server (``_server.py``) counts accepted connections that carried API calls.
Usage: ``python bench/keepalive.py [-n 200] [--quick]``; exits 1 if more than one connection was opened.
"""

from __future__ import annotations

import argparse
import sys

from _server import APP_ID, SECRET_KEY, serve

from django_voucherify.api.client import VoucherifyClient


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=200, help="sequential calls (default 200)")
    parser.add_argument("--quick", action="store_true", help="20 calls (CI: checks it still runs)")
    args = parser.parse_args()
    n = 20 if args.quick else args.n
    with serve() as server, VoucherifyClient(APP_ID, SECRET_KEY, api_url=server.url) as client:
        before = server.stats()
        for i in range(n):
            voucher = client.vouchers.get(f"KEEPALIVE-{i}")
            assert voucher["code"] == f"KEEPALIVE-{i}"
        after = server.stats()
    calls = after["requests"] - before["requests"]
    connections = after["api_connections"] - before["api_connections"]
    print(
        f"keepalive: {calls} sequential vouchers.get calls -> {connections} TCP connection(s) "
        f"at the server (target: 1)"
    )
    return 0 if calls == n and connections == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
