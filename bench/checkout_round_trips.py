"""Checkout's redeem cost, side by side in one run against one sandbox (a subprocess, over HTTP):

* ``sdk``       the official ``voucherify`` SDK 6.1.1, ``RedemptionsApi.redeem_stacked_discounts``
                (bare: no ledger, no database);
* ``client``    this package's client, ``client.redemptions.redeem`` (bare, same body);
* ``checkout``  ``checkout.redeem(codes, order, order.customer)`` with the ``Order`` mirror a shop
                passes (loaded with its customer; the items are read by the redeem);
* ``drf``       ``POST /api/vouchers/redeem/`` through Django's test client, a shopper signed in
                with a **session** (Django's ``SessionAuthentication``: the session row, then the
                user) redeeming their own order (order, throttles, ledger, response);
* ``drf_token`` the same, the shopper signed in with a **token** (DRF's ``TokenAuthentication``:
                the token row joined to its user, one query), as an API client or a mobile app is.

Each contender sends the same order (source id, amount, two items) and customer. Rounds are
interleaved (the contenders' order rotates every round) and each contender's p50 is the median
of all its calls. Prints p50, ratios to ``sdk``, database queries per call and, per contender,
where a call's time goes (medians): wall, CPU of this process (``time.process_time``: the
sandbox runs in its own), time inside database calls. The database is a throw-away PostgreSQL
one (tests.settings plus ``rest_framework.authtoken``; BENCH_DATABASE_URL).

    .venv/bin/python bench/checkout_round_trips.py            # full: exits 1 on a missed target
    .venv/bin/python bench/checkout_round_trips.py --quick    # checks it runs and counts right

Targets (issue 13): drf p50 <= 2x sdk p50; at most 6 queries per DRF redeem (this code: 5 with a
session, 4 with a token). Full mode exits 1 when ``drf`` (the session) misses 2x; the token's
ratio is printed beside it. ``--quick`` checks that every call of every contender was a
redemption the sandbox counted, and the query counts; never timings.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from _django import ROOT, django_db

APP_ID, APP_TOKEN = "bench-app-id", "bench-app-token"  # a fake, for the local sandbox
MAX_DRF_QUERIES = 6  # the budget
#: What this code makes: session, user, order with customer and items, insert, update; with a
#: token, the token joined to its user instead of session and user. The floor: the same as a token.
DRF_QUERIES = {"drf": 5, "drf_token": 4, "drf_wsgi": 5, "drf_token_wsgi": 4, "floor": 4}
MAX_CHECKOUT_QUERIES = 3  # items, insert, update
TARGET_DRF_OVER_SDK = 2.0
#: The contender the target is judged on: the session, through the WSGI handler (see the README).
JUDGED = "drf_wsgi"
CONTENDERS = ("sdk", "client", "checkout", "floor", "drf_wsgi", "drf_token_wsgi", "drf", "drf_token")


@contextmanager
def sandbox_process() -> Iterator[str]:
    """``python -m django_voucherify.sandbox`` on a free port; yields its URL."""
    command = [sys.executable, "-m", "django_voucherify.sandbox", "--port", "0"]
    process = subprocess.Popen(
        [*command, "--app-id", APP_ID, "--app-token", APP_TOKEN],
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()  # "Voucherify sandbox on http://127.0.0.1:PORT (...)"
        if " on http" not in line:
            raise RuntimeError(f"sandbox failed to start: {line!r}")
        yield line.split(" on ", 1)[1].split()[0]
    finally:
        process.terminate()
        process.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes; checks counts, not timings")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--per-round", type=int, default=10)
    parser.add_argument(
        "--profile", choices=CONTENDERS, help="cProfile one contender's calls instead (rounds x per-round)"
    )
    args = parser.parse_args()
    rounds, per_round = (2, 3) if args.quick else (args.rounds, args.per_round)
    os.environ["DJANGO_SETTINGS_MODULE"] = "_checkout_settings"
    with (
        sandbox_process() as url,
        django_db(
            os.environ.get("BENCH_CHECKOUT_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_checkout")
        ),
    ):
        return run(url, rounds, per_round, quick=args.quick, profile=args.profile)


def run(url: str, rounds: int, per_round: int, *, quick: bool, profile: str | None = None) -> int:
    from django.test import override_settings

    import django_voucherify

    settings = {
        "VOUCHERIFY": {"APP_ID": APP_ID, "SECRET_KEY": APP_TOKEN, "API_URL": url, "SYNC_ENABLED": False},
        "REST_FRAMEWORK": {
            # A session or a token, tried in this order (DRF's default has Basic after Session).
            "DEFAULT_AUTHENTICATION_CLASSES": [
                "rest_framework.authentication.SessionAuthentication",
                "rest_framework.authentication.TokenAuthentication",
            ],
            # The shop's throttles stay on (counted in the cache), with rates the bench cannot hit.
            "DEFAULT_THROTTLE_RATES": {
                "voucherify_redeem": "1000000/min",
                "voucherify_validate_failures": "1000000/min",
            },
        },
    }
    with override_settings(**settings):
        django_voucherify.reset_client()
        try:
            if profile:
                return profile_one(url, profile, rounds * per_round)
            return measure(url, rounds, per_round, quick=quick)
        finally:
            django_voucherify.reset_client()


def profile_one(url: str, name: str, calls: int) -> int:
    """cProfile ``calls`` calls of one contender (after 20 unprofiled ones): where its CPU goes
    (process time, so the time spent waiting for PostgreSQL or the sandbox is left out)."""
    import cProfile
    import pstats

    warm_up = 20
    call = make_contenders(url, calls + warm_up)[name]
    for _ in range(warm_up):
        call()
    profiler = cProfile.Profile(time.process_time)  # CPU: waits (database, sandbox) are not counted
    profiler.enable()
    for _ in range(calls):
        call()
    profiler.disable()
    stats = pstats.Stats(profiler).strip_dirs()
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(30)
    if callees := os.environ.get("BENCH_PROFILE_CALLEES"):  # e.g. "dispatch|post|redeem"
        stats.sort_stats("cumulative").print_callees(callees)
    return 0


def measure(url: str, rounds: int, per_round: int, *, quick: bool) -> int:
    from django.db import connection

    calls = rounds * per_round
    contenders = make_contenders(url, calls)
    samples: dict[str, list[Sample]] = {name: [] for name in contenders}
    for round_no in range(rounds):
        names = list(contenders)
        names = names[round_no % len(names) :] + names[: round_no % len(names)]
        for name in names:
            for _ in range(per_round):
                database = DatabaseTime()
                with connection.execute_wrapper(database):
                    started, cpu = time.perf_counter(), time.process_time()
                    contenders[name]()
                    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
                samples[name].append(Sample(wall, cpu, database.seconds, database.queries))
    queries = {name: [s.queries for s in values] for name, values in samples.items()}
    problems = check_counts(calls, queries)
    report(samples, calls)
    if quick:
        for problem in problems:
            print(f"BROKEN: {problem}")
        return 1 if problems else 0
    p50 = {name: statistics.median(s.wall for s in values) for name, values in samples.items()}
    ratio = p50[JUDGED] / p50["sdk"]
    verdict = "OK" if ratio <= TARGET_DRF_OVER_SDK else "MISSED"
    print(
        f"\n{JUDGED}/sdk = {ratio:.2f}x (target <= {TARGET_DRF_OVER_SDK}x): {verdict}; "
        f"with a token {p50['drf_token_wsgi'] / p50['sdk']:.2f}x; through the test client "
        f"{p50['drf'] / p50['sdk']:.2f}x (session), {p50['drf_token'] / p50['sdk']:.2f}x (token); "
        f"floor {p50['floor'] / p50['sdk']:.2f}x"
    )
    drf_queries = max(queries[JUDGED])
    print(f"drf queries = {drf_queries} (target <= {MAX_DRF_QUERIES}): {'OK' if not problems else 'MISSED'}")
    return 1 if problems or ratio > TARGET_DRF_OVER_SDK else 0


class Sample(NamedTuple):
    wall: float
    cpu: float
    database: float  # inside database calls (a round trip and the server's work)
    queries: int


class DatabaseTime:
    """A database execute wrapper: time spent inside the database calls, and their count."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.queries = 0

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.queries += 1


def make_contenders(url: str, calls: int) -> dict[str, Callable[[], None]]:
    """One voucher per contender (so the sandbox counts each one's redemptions), the orders,
    the signed-in shopper."""
    from _checkout_floor import create_table
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.wsgi import get_wsgi_application
    from django.http import HttpRequest
    from django.middleware.csrf import get_token
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from django_voucherify import checkout
    from django_voucherify.checkout.cart import checkout_client
    from django_voucherify.models import Customer, Order, OrderItem

    api = checkout_client()
    create_table()
    for name in CONTENDERS:
        voucher = {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 100}}
        api.vouchers.create(code_of(name), voucher)
    user = get_user_model().objects.create_user("shopper", "shopper@example.com", "pw")
    customer = Customer.objects.create(source_id="bench-shopper", email="shopper@example.com", user=user)
    orders: dict[str, list[Any]] = {}
    for name in CONTENDERS:
        created = []
        for i in range(calls):
            order = Order.objects.create(source_id=f"{name}-{i}", amount=5000, customer=customer)
            OrderItem.objects.create(order=order, product_source_id="p-1", quantity=2, price=1500)
            OrderItem.objects.create(order=order, product_source_id="p-2", quantity=1, price=2000)
            created.append(order)
        orders[name] = created
    mirrors = iter(Order.objects.select_related("customer").filter(source_id__startswith="checkout-"))

    def bodies(name: str) -> Iterator[dict[str, Any]]:
        """The bare contenders' request bodies, built before timing (reading items is a query)."""
        return iter(
            [
                {
                    "redeemables": [{"object": "voucher", "id": code_of(name)}],
                    "order": clean(order.to_voucherify()),
                    "customer": {"source_id": customer.source_id},
                }
                for order in orders[name]
            ]
        )

    def sdk_call() -> Callable[[], None]:
        import voucherify

        config = voucherify.Configuration(host=url, api_key={"X-App-Id": APP_ID, "X-App-Token": APP_TOKEN})
        redemptions = voucherify.RedemptionsApi(voucherify.ApiClient(config))
        sdk_bodies = bodies("sdk")
        return lambda: redemptions.redeem_stacked_discounts(
            voucherify.RedemptionsRedeemRequestBody.from_dict(next(sdk_bodies))
        )

    client_bodies = bodies("client")

    def client_call() -> None:
        api.redemptions.redeem(next(client_bodies))

    def checkout_call() -> None:
        order = next(mirrors)
        assert checkout.redeem([code_of("checkout")], order, order.customer).applied

    browser = APIClient()
    browser.force_login(user)
    token = Token.objects.create(user=user).key
    app = APIClient()  # no session: the token in every request's Authorization header
    app.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    def drf_call(name: str, api_client: APIClient) -> Callable[[], None]:
        source_ids = iter(f"{name}-{i}" for i in range(calls))

        def call() -> None:
            answer = api_client.post(
                "/api/vouchers/redeem/",
                {"codes": [code_of(name)], "order_source_id": next(source_ids)},
                format="json",
            )
            assert answer.status_code == 201, answer.content

        return call

    # A browser's session: its session cookie, and the CSRF cookie echoed in the header as
    # Django's CSRF middleware and DRF's SessionAuthentication require (the test client skips
    # that check; a WSGI server does not).
    csrf = get_token(HttpRequest())
    session_headers = {
        "HTTP_COOKIE": f"{settings.SESSION_COOKIE_NAME}={browser.session.session_key}; "
        f"{settings.CSRF_COOKIE_NAME}={csrf}",
        "HTTP_X_CSRFTOKEN": csrf,
    }
    handler = get_wsgi_application()
    return {
        "sdk": sdk_call(),
        "client": client_call,
        "checkout": checkout_call,
        "floor": wsgi_call(
            handler, "floor", "/bench/floor/", calls, {"HTTP_AUTHORIZATION": f"Token {token}"}
        ),
        "drf_wsgi": wsgi_call(handler, "drf_wsgi", "/api/vouchers/redeem/", calls, session_headers),
        "drf_token_wsgi": wsgi_call(
            handler,
            "drf_token_wsgi",
            "/api/vouchers/redeem/",
            calls,
            {"HTTP_AUTHORIZATION": f"Token {token}"},
        ),
        "drf": drf_call("drf", browser),
        "drf_token": drf_call("drf_token", app),
    }


def wsgi_call(
    handler: Callable[..., Any], name: str, path: str, calls: int, headers: dict[str, str]
) -> Callable[[], None]:
    """POST to ``path`` through Django's WSGI application as a WSGI server calls it: an environ
    (the server's CGI variables and the request's headers), ``start_response``, the answer's
    body iterated and closed (which sends ``request_finished``)."""
    base = {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "CONTENT_TYPE": "application/json",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "50000",
        "HTTP_HOST": "testserver",
        "HTTP_ACCEPT": "application/json",
        "HTTP_CONNECTION": "keep-alive",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        **headers,
    }
    source_ids = iter(f"{name}-{i}" for i in range(calls))
    statuses: list[str] = []

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        statuses.append(status)
        return None

    def call() -> None:
        body = json.dumps({"codes": [code_of(name)], "order_source_id": next(source_ids)}).encode()
        environ = {**base, "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)}
        answer = handler(environ, start_response)
        try:
            content = b"".join(answer)
        finally:
            answer.close()
        status = statuses.pop()
        assert status.startswith("201"), (status, content)

    return call


def clean(order: dict[str, Any]) -> dict[str, Any]:
    """The order as checkout sends it: without the shop's status and the customer link."""
    return {k: v for k, v in order.items() if v is not None and k not in ("status", "customer")}


def code_of(name: str) -> str:
    return f"BENCH-{name.upper()}"


def check_counts(calls: int, queries: dict[str, list[int]]) -> list[str]:
    """Every call of every contender redeemed (the sandbox's count per voucher); the queries."""
    from django_voucherify.checkout.cart import checkout_client

    api = checkout_client()
    problems = []
    for name in CONTENDERS:
        redeemed = api.vouchers.get(code_of(name))["redemption"]["redeemed_quantity"]
        if redeemed != calls:
            problems.append(f"{name}: the sandbox counted {redeemed} redemptions, expected {calls}")
    for name in ("sdk", "client"):
        if any(queries[name]):
            problems.append(f"{name}: a bare redeem made database queries")
    if not all(0 < q <= MAX_CHECKOUT_QUERIES for q in queries["checkout"]):
        problems.append(f"checkout.redeem(): {sorted(set(queries['checkout']))} queries, expected 1..3")
    for name, expected in DRF_QUERIES.items():
        if set(queries[name]) != {expected}:
            seen = sorted(set(queries[name]))
            problems.append(f"{name}: {seen} queries per redeem, expected {expected}")
    return problems


def report(samples: dict[str, list[Sample]], calls: int) -> None:
    def p50(name: str, part: str) -> float:
        return statistics.median(getattr(s, part) for s in samples[name]) * 1000

    print(f"{calls} redeems per contender, sandbox subprocess over HTTP, PostgreSQL, interleaved rounds")
    head = f"{'contender':<14} {'p50 ms':>8} {'/sdk':>6} {'/client':>8} {'queries/call':>13}"
    print(f"{head} {'CPU ms':>7} {'/sdk':>6} {'in db ms':>9}")
    for name in samples:
        wall, cpu, database = p50(name, "wall"), p50(name, "cpu"), p50(name, "database")
        queries = statistics.mean(s.queries for s in samples[name])
        print(
            f"{name:<14} {wall:>8.2f} {wall / p50('sdk', 'wall'):>6.2f} {wall / p50('client', 'wall'):>8.2f} "
            f"{queries:>13.2f} {cpu:>7.2f} {cpu / p50('sdk', 'cpu'):>6.2f} {database:>9.2f}"
        )


if __name__ == "__main__":
    sys.exit(main())
