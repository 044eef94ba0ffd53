"""Review of issue 10: the send deadline holds over a real socket to the sandbox server.

A DNS-like stall (``getaddrinfo`` sleeping past the deadline, which the connect timeout does
not bound) before the redeem's connection opens: the request must not be redeemed. The body's
deadline check runs after DNS and the connect, as urllib3 reads the body; the server gets the
headers and no body, and the connection is closed.
"""

from __future__ import annotations

import socket
import time

import pytest

import django_voucherify
from django_voucherify import checkout
from django_voucherify.models import CheckoutRedemption, LedgerState
from tests.support.checkout import over_http

pytestmark = pytest.mark.django_db(transaction=True)

CONNECT, READ = 0.2, 0.3  # deadline: 0.5 s after the ledger row is written


@pytest.fixture
def http_sandbox(voucherify_sandbox_server, eager_celery):
    with over_http(voucherify_sandbox_server, CONNECT_TIMEOUT=CONNECT, CHECKOUT_TIMEOUT=READ) as sandbox:
        django_voucherify.client.vouchers.create(
            "TEN", {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 500}}
        )
        django_voucherify.client.transport.session.close()  # the redeem opens a new connection
        yield sandbox


def _redeemed(sandbox) -> list[dict]:
    return [r for r in sandbox.state.redemptions.values() if r.get("result") == "SUCCESS"]


def test_a_redeem_stalled_in_dns_past_its_deadline_is_never_redeemed(http_sandbox, monkeypatch):
    real = socket.getaddrinfo

    def stalled(*args, **kwargs):
        time.sleep(CONNECT + READ + 0.3)
        return real(*args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", stalled)
    with pytest.raises(checkout.CheckoutUnavailable) as unavailable:
        checkout.redeem(["TEN"], {"source_id": "ORD-DNS", "amount": 1_000})
    assert unavailable.value.outcome_unknown is False
    row = CheckoutRedemption.objects.get()
    assert row.state == LedgerState.FAILED and row.last_error_key == "not_sent"
    assert _redeemed(http_sandbox) == []
    monkeypatch.setattr(socket, "getaddrinfo", real)
    assert checkout.redeem(["TEN"], {"source_id": "ORD-DNS", "amount": 1_000}).applied  # free


def test_a_short_stall_within_the_deadline_is_sent(http_sandbox, monkeypatch):
    real = socket.getaddrinfo

    def slow(*args, **kwargs):
        time.sleep(0.05)
        return real(*args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    assert checkout.redeem(["TEN"], {"source_id": "ORD-OK", "amount": 1_000}).applied
    assert len(_redeemed(http_sandbox)) == 1
