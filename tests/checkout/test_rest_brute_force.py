"""Brute-force protection of the REST endpoints: every unknown code counts, through validate and
redeem alike, counted atomically (threads racing on LocMem, Redis and the database cache), no
ledger row for a guess refused by the throttle, few codes per anonymous request, and no
"skipped" versus "not found" oracle for anonymous clients."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connections
from django.test import override_settings
from rest_framework.test import APIClient

from django_voucherify.checkout import budget
from django_voucherify.models import CheckoutRedemption, LedgerState
from django_voucherify.rest import throttling
from tests.support.checkout import REDEEM, VALIDATE, checkout_checks
from tests.support.vouchers import make_voucher

pytestmark = [pytest.mark.urls("tests.checkout.urls")]


def rates(**scopes: str | None) -> dict[str, dict[str, str | None]]:
    return {
        "DEFAULT_THROTTLE_RATES": {
            "voucherify_validate": "1000/min",
            "voucherify_redeem": "1000/min",
            "voucherify_validate_failures": "1000/hour",
            **scopes,
        }
    }


def validate(client: APIClient, codes: list[str], **extra):
    return client.post(VALIDATE, {"codes": codes, "order": {"amount": 1000}}, format="json", **extra)


@pytest.mark.django_db
def test_every_unknown_code_in_a_batch_counts(sandbox):
    client = APIClient()
    with override_settings(REST_FRAMEWORK=rates(voucherify_validate_failures="10/hour")):
        answers = [validate(client, [f"G{i}-{j}" for j in range(5)]).status_code for i in range(4)]
    # Ten guesses an hour: two requests of five, not ten requests of five (today: one per request).
    assert answers == [200, 200, 429, 429]
    assert sandbox.calls.count("POST", "/v1/validations") == 2


@pytest.mark.django_db
def test_a_code_skipped_next_to_a_guess_counts_and_reveals_nothing_to_anonymous(sandbox, shopper):
    make_voucher("REAL")
    with override_settings(REST_FRAMEWORK=rates(voucherify_validate_failures="3/hour")):
        anonymous = validate(APIClient(), ["REAL", "GUESS"]).json()
        signed_in = APIClient(REMOTE_ADDR="10.0.0.2")  # another address: its own budget
        signed_in.force_authenticate(shopper[0])
        detailed = validate(signed_in, ["REAL", "GUESS"]).json()
        # Two codes charged to the anonymous client: one more guess, then refused.
        after = [validate(APIClient(), [f"MORE{i}"]).status_code for i in range(2)]
    real, guess = anonymous["codes"]
    assert {**real, "code": "?"} == {**guess, "code": "?"}  # a real code looks like a guess
    assert real["reason_key"] == "unknown_code_in_batch" and not anonymous["valid"]
    assert anonymous["discount_amount"] == 0 and anonymous["total_amount"] == 1000
    # A signed-in user sees which code failed (each still costs one unit of their own budget).
    assert [c["reason_key"] for c in detailed["codes"]] == ["skipped", "not_found"]
    assert after == [200, 429]


@pytest.mark.django_db
def test_a_signed_in_guess_spends_both_the_users_and_the_addresses_budget(sandbox, shopper):
    """New accounts from one address get no fresh budget, nor one account from new addresses."""
    first, second = APIClient(REMOTE_ADDR="10.0.0.7"), APIClient(REMOTE_ADDR="10.0.0.7")
    first.force_authenticate(shopper[0])
    second.force_authenticate(get_user_model().objects.create_user("second", password="x"))
    elsewhere = APIClient(REMOTE_ADDR="10.0.0.8")
    elsewhere.force_authenticate(shopper[0])
    with override_settings(REST_FRAMEWORK=rates(voucherify_validate_failures="2/hour")):
        spent = [validate(first, [f"G{i}"]).status_code for i in range(2)]
        same_address = validate(second, ["G2"]).status_code
        same_user = validate(elsewhere, ["G3"]).status_code
        fresh = validate(APIClient(REMOTE_ADDR="10.0.0.9"), ["G4"]).status_code
    assert spent == [200, 200]
    assert (same_address, same_user, fresh) == (429, 429, 200)
    assert sandbox.calls.count("POST", "/v1/validations") == 3


@pytest.mark.django_db
def test_codes_that_exist_are_not_counted(sandbox):
    make_voucher("REAL")
    make_voucher("ALSO")
    client = APIClient()
    with override_settings(REST_FRAMEWORK=rates(voucherify_validate_failures="2/hour")):
        known = [validate(client, ["REAL", "ALSO"]).status_code for _ in range(5)]
        guesses = [validate(client, [f"G{i}"]).status_code for i in range(3)]
    assert known == [200] * 5
    assert guesses == [200, 200, 429]


@pytest.mark.django_db
def test_anonymous_clients_send_few_codes_at_once(sandbox, shopper):
    codes = [f"C{i}" for i in range(6)]
    response = validate(APIClient(), codes)
    assert response.status_code == 400
    body = response.json()
    assert body["key"] == "too_many_codes" and "at most 5" in body["detail"] and body["codes"]
    assert not sandbox.calls.count("POST", "/v1/validations")
    assert validate(APIClient(), codes[:5]).status_code == 200
    signed_in = APIClient(REMOTE_ADDR="10.0.0.2")  # not the address that spent 5 codes above
    signed_in.force_authenticate(shopper[0])
    assert validate(signed_in, codes).status_code == 200  # up to 30, from their own budget
    with override_settings(VOUCHERIFY={**settings.VOUCHERIFY, "CHECKOUT_ANONYMOUS_MAX_CODES": 1}):
        assert validate(APIClient(), codes[:2]).json()["key"] == "too_many_codes"


@pytest.mark.parametrize("value", [0, 31, "5", True, 2.5])
def test_anonymous_code_limit_setting_is_checked(value):
    with override_settings(VOUCHERIFY={**settings.VOUCHERIFY, "CHECKOUT_ANONYMOUS_MAX_CODES": value}):
        with pytest.raises(ImproperlyConfigured, match="CHECKOUT_ANONYMOUS_MAX_CODES"):
            throttling.anonymous_max_codes()
        assert [m.id for m in checkout_checks()] == ["voucherify.E025"]


@pytest.mark.django_db
def test_redeem_guesses_count_and_a_refused_guess_writes_no_ledger_row(sandbox, shopper):
    client = APIClient()
    client.force_authenticate(shopper[0])
    with override_settings(REST_FRAMEWORK=rates(voucherify_validate_failures="3/hour")):
        answers = [
            client.post(REDEEM, {"codes": [f"G{i}"], "order_source_id": "ORD-API"}, format="json")
            for i in range(5)
        ]
        # Validate and redeem draw from one budget.
        validated = validate(client, ["ANOTHER"]).status_code
    assert [a.status_code for a in answers] == [400, 400, 400, 429, 429]
    assert answers[0].json()["key"] in throttling.UNKNOWN_CODE_KEYS
    assert answers[3].json()["key"] == "throttled"
    assert CheckoutRedemption.objects.count() == 3
    assert set(CheckoutRedemption.objects.values_list("state", flat=True)) == {LedgerState.FAILED}
    assert sandbox.calls.count("POST", "/v1/redemptions") == 3
    assert validated == 429


@pytest.mark.django_db
def test_a_successful_redeem_gives_its_codes_back(sandbox, shopper):
    make_voucher("FIVE")
    client = APIClient()
    client.force_authenticate(shopper[0])
    with override_settings(REST_FRAMEWORK=rates(voucherify_validate_failures="1/hour")):
        redeemed = client.post(REDEEM, {"codes": ["FIVE"], "order_source_id": "ORD-API"}, format="json")
        again = client.post(REDEEM, {"codes": ["FIVE"], "order_source_id": "ORD-API"}, format="json")
        guess = validate(client, ["GUESS"]).status_code
    assert redeemed.status_code == 201 and again.status_code == 409
    assert guess == 200  # the budget of one is still whole


def test_sliding_window_weighs_the_previous_window(monkeypatch, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"sliding-{uuid.uuid4()}",
        }
    }
    counter = throttling.WindowCounter("scope", "ident", limit=4, duration=100)
    clock = [1000.0 * 100 + 99]  # the last second of a window
    monkeypatch.setattr(budget.time, "time", lambda: clock[0])
    assert [counter.take() for _ in range(5)] == [True] * 4 + [False]
    clock[0] += 2  # the next window has begun: the previous one still weighs 98%
    assert not counter.take()
    clock[0] += 50  # about half of it: two more
    assert [counter.take() for _ in range(3)] == [True, True, False]
    counter.give_back(2)
    assert counter.take(2) and not counter.take()


# -- Atomicity: threads race on one client's budget, on each kind of cache -------------------------

CACHES = {
    "locmem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "redis": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": settings.CELERY_BROKER_URL.rsplit("/", 1)[0] + "/14",
    },
    "database": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "voucherify_test_throttle_cache",
    },
}

THREADS, LIMIT = 8, 3


@pytest.fixture(params=sorted(CACHES))
def shared_cache(request, transactional_db):
    conf = {**CACHES[request.param], "KEY_PREFIX": f"bf-{uuid.uuid4().hex}"}
    if request.param == "locmem":
        conf["LOCATION"] = conf["KEY_PREFIX"]
    with override_settings(CACHES={"default": conf}):
        if request.param == "database":
            call_command("createcachetable", verbosity=0)
        yield request.param


def _race(send, count: int) -> list[int]:
    """``send(i)`` in ``count`` threads released together; each thread closes its connections."""
    barrier = threading.Barrier(count)

    def one(i: int) -> int:
        try:
            barrier.wait(timeout=10)
            return send(i)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


@pytest.mark.parametrize("scope", ["voucherify_validate_failures", "voucherify_validate"])
def test_concurrent_requests_cannot_overdraw_a_budget(sandbox, shared_cache, scope):
    # Each answer takes a while, so every request is in flight before any is counted: a
    # check-then-record throttle lets all of them through.
    sandbox.faults.add(path="/v1/validations", method="POST", latency=0.3)
    with override_settings(REST_FRAMEWORK=rates(**{scope: f"{LIMIT}/min"})):
        answers = _race(lambda i: validate(APIClient(), [f"RACE{i}"]).status_code, THREADS)
    assert sorted(answers) == [200] * LIMIT + [429] * (THREADS - LIMIT)
    assert sandbox.calls.count("POST", "/v1/validations") == LIMIT
