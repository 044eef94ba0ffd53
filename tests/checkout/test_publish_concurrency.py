"""PostgreSQL, threads with their own connections, the sandbox served over HTTP: concurrent
publish() calls for one customer (by the campaign's name and by its id) send one publication
and all get its code."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections

import django_voucherify
from django_voucherify import checkout
from django_voucherify.models import CustomerPublication
from tests.support.checkout import over_http, published_codes, static_campaign

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8


@pytest.fixture
def http_sandbox(voucherify_sandbox_server, eager_celery):
    with over_http(voucherify_sandbox_server, POOL_SIZE=THREADS, CHECKOUT_TIMEOUT=10.0) as sandbox:
        yield sandbox


def _race(fn, n: int) -> list:
    start = threading.Barrier(n)

    def run(i):
        try:
            start.wait()
            return fn(i)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def test_concurrent_calls_for_one_customer_send_one_publication(http_sandbox):
    assert connection.vendor == "postgresql"
    campaign = static_campaign(http_sandbox)
    posts: list[str] = []
    http_sandbox.response_listeners.append(
        lambda ex: (
            posts.append(ex.request.path)
            if ex.request.method == "POST" and ex.request.path == "/v1/publications"
            else None
        )
    )
    # Half the callers name the campaign by its id: still one row (the ledger's key is the id).
    forms = (campaign, django_voucherify.client.campaigns.get(campaign)["id"])
    results = _race(lambda i: checkout.publish(forms[i % 2], "ann", wait=10.0), THREADS)
    codes = {r.code for r in results}
    assert len(codes) == 1
    assert sum(r.new for r in results) == 1  # one call recorded it; the others read it
    assert len(posts) == 1
    assert published_codes(campaign, "ann") == list(codes)
    assert CustomerPublication.objects.count() == 1


def test_concurrent_calls_for_different_customers_get_different_codes(http_sandbox):
    campaign = static_campaign(http_sandbox, codes=THREADS)
    results = _race(lambda i: checkout.publish(campaign, f"cust-{i}", wait=10.0), THREADS)
    assert len({r.code for r in results}) == THREADS
