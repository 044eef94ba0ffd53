"""Issue 10, checkout: a late answer is never thrown away, a refused rollback is never dropped,
a stalled redeem is never sent after its deadline (also over a real socket, stalled in DNS), a
bad setting writes nothing."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

import django_voucherify
from django_voucherify import checkout
from django_voucherify.models import CheckoutRedemption, LedgerState
from tests.support import adversary
from tests.support.checkout import checkout_checks, checkout_conf, live_redemptions, marker_of, over_http
from tests.support.vouchers import make_voucher

pytestmark = pytest.mark.django_db(transaction=True)

ORDER = {"source_id": "ORD-L", "amount": 10_000}


def _row_of(redemption: dict[str, Any]) -> CheckoutRedemption:
    return CheckoutRedemption.objects.get(reference=marker_of(redemption))


def test_redeem_stalled_before_sending_past_its_deadline_is_never_sent(sandbox, sweep_after):
    """A sender stalled (DNS) between claiming the row and sending while the sweep concluded
    "not redeemed": the request must not leave (old code sent it, and the answer was ignored:
    a live redemption with a FAILED row, the order free to be redeemed again)."""
    make_voucher("FIVE")
    interceptor = adversary.intercept(sandbox)
    interceptor.arm(adversary.STALL_BEFORE_SEND, lambda: sweep_after(600))
    with pytest.raises(checkout.CheckoutUnavailable) as refused:
        checkout.redeem(["FIVE"], ORDER)
    assert refused.value.outcome_unknown is False
    assert live_redemptions(sandbox) == []
    row = CheckoutRedemption.objects.get()
    assert row.state == LedgerState.FAILED
    assert checkout.redeem(["FIVE"], ORDER).applied  # the order is free: one redemption in all
    assert len(live_redemptions(sandbox)) == 1


# The send deadline over a real socket to the sandbox server (found by the review of issue 10).
# A DNS-like stall (``getaddrinfo`` sleeping past the deadline, which the connect timeout does
# not bound) before the redeem's connection opens: the request must not be redeemed. The body's
# deadline check runs after DNS and the connect, as urllib3 reads the body; the server gets the
# headers and no body, and the connection is closed.

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


def test_answer_arriving_after_the_row_was_given_up_is_recorded_and_rolled_back(sandbox, sweep_after):
    """Voucherify held the request past the grace period; the sweep concluded "not redeemed"
    (FAILED); then the success answer arrives. It is recorded (ORPHANED), rolled back and the
    row flagged (old code ignored it: the redemption stayed consumed)."""
    make_voucher("FIVE")
    interceptor = adversary.intercept(sandbox)
    interceptor.arm(adversary.HELD_BY_SERVER, lambda: sweep_after(600))
    with pytest.raises(checkout.CheckoutUnavailable) as unknown:
        checkout.redeem(["FIVE"], ORDER)
    assert unknown.value.outcome_unknown is True
    row = CheckoutRedemption.objects.get()
    assert row.state == LedgerState.ROLLED_BACK and row.redemption_ids and row.rollback_ids
    assert row.needs_attention and "marked failed" in row.attention_reason
    assert live_redemptions(sandbox) == []


def test_late_answer_is_kept_even_when_its_rollback_cannot_be_sent_yet(sandbox, sweep_after):
    make_voucher("FIVE")
    interceptor = adversary.intercept(sandbox)
    interceptor.arm(adversary.HELD_BY_SERVER, lambda: sweep_after(600))
    refusal = sandbox.faults.add(path="/v1/redemptions/*/rollback", method="POST", status=503)
    with pytest.raises(checkout.CheckoutUnavailable):
        checkout.redeem(["FIVE"], ORDER)
    row = CheckoutRedemption.objects.get()
    assert row.state == LedgerState.ORPHANED and row.rollback_pending
    [live] = live_redemptions(sandbox)
    assert live["id"] in row.redemption_ids and _row_of(live) == row
    with pytest.raises(checkout.AlreadyRedeemed):  # not a second live redemption meanwhile
        checkout.redeem(["FIVE"], ORDER)
    refusal.times = 0  # Voucherify is back
    sweep_after(3600)
    row.refresh_from_db()
    assert row.state == LedgerState.ROLLED_BACK and live_redemptions(sandbox) == []
    assert checkout.redeem(["FIVE"], ORDER).applied  # the order is free again
    assert [_row_of(r).state for r in live_redemptions(sandbox)] == [LedgerState.SUCCEEDED]


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_refused_rollback_is_flagged_and_retried_until_confirmed(sandbox, sweep_after, status):
    """A 4xx on a rollback (wrong keys, wrong project...) is not proof of anything: the
    rollback stays asked for, the row is flagged, and once the keys are fixed the sweep sends
    it (old code cleared the request: never retried, never flagged)."""
    make_voucher("FIVE")
    outcome = checkout.redeem(["FIVE"], ORDER)
    refusal = sandbox.faults.add(path="/v1/redemptions/*/rollback", method="POST", status=status)
    row = checkout.request_rollback(outcome.ledger, "payment failed")
    row.refresh_from_db()
    assert row.state == LedgerState.SUCCEEDED and row.rollback_pending
    assert row.needs_attention and str(status) in row.rollback_error
    refusal.times = 0  # the keys are fixed
    sweep_after(3600)
    row.refresh_from_db()
    assert row.state == LedgerState.ROLLED_BACK and live_redemptions(sandbox) == []


@pytest.mark.parametrize(
    "bad",
    [
        {"CHECKOUT_TIMEOUT": "5"},
        {"CHECKOUT_OUTAGE_POLICY": "ignore"},
        {"CHECKOUT_RECONCILE_GRACE": None},
        {"CONNECT_TIMEOUT": "3"},
    ],
)
def test_bad_setting_refuses_the_redeem_before_writing_anything(sandbox, bad):
    """Old code committed the PENDING row and then raised ImproperlyConfigured (a 500), and the
    order answered 409 on every retry."""
    make_voucher("FIVE")
    with override_settings(VOUCHERIFY=checkout_conf(**bad)):
        import django_voucherify

        django_voucherify.reset_client()
        with pytest.raises(ImproperlyConfigured):
            checkout.redeem(["FIVE"], ORDER)
    assert not CheckoutRedemption.objects.exists() and not live_redemptions(sandbox)
    django_voucherify.reset_client()
    sandbox.mount(django_voucherify.get_client().transport.session)
    assert checkout.redeem(["FIVE"], ORDER).applied


def test_unexpected_error_before_sending_frees_the_order(sandbox):
    make_voucher("FIVE")
    adversary.intercept(sandbox).arm(adversary.RAISE_BEFORE)
    with pytest.raises(RuntimeError, match="before sending"):
        checkout.redeem(["FIVE"], ORDER)
    assert CheckoutRedemption.objects.get().state == LedgerState.FAILED
    assert checkout.redeem(["FIVE"], ORDER).applied  # old code: PENDING, AlreadyRedeemed


def test_unexpected_error_after_sending_is_reconciled_and_rolled_back(sandbox):
    make_voucher("FIVE")
    adversary.intercept(sandbox).arm(adversary.RAISE_AFTER)
    with pytest.raises(RuntimeError, match="after sending"):
        checkout.redeem(["FIVE"], ORDER)
    row = CheckoutRedemption.objects.get()
    assert row.state == LedgerState.ROLLED_BACK and live_redemptions(sandbox) == []


def test_grace_must_exceed_the_longest_request(settings):
    from django_voucherify import conf as voucherify_conf

    def longest_request_seconds(values):
        with override_settings(VOUCHERIFY=values):
            return voucherify_conf.settings().longest_checkout_request()

    conf = {
        **settings.VOUCHERIFY,
        "CONNECT_TIMEOUT": 3.0,
        "CHECKOUT_TIMEOUT": 5.0,
        "MAX_RETRIES": 3,
        "RETRY_BUDGET": 20.0,
        "BACKOFF_BASE": 0.25,
        "BACKOFF_MAX": 8.0,
    }
    # redeem: 3 + 2 * 5; retried calls: min(4 * 8 + 1.75, budget 5 + 8)
    assert longest_request_seconds({**conf, "CHECKOUT_RECONCILE_GRACE": 60}) == 13.0
    for grace, ids in ((13.0, ["voucherify.E024"]), (12, ["voucherify.E024"]), (13.5, []), (60, [])):
        with override_settings(VOUCHERIFY={**conf, "CHECKOUT_RECONCILE_GRACE": grace}):
            assert [m.id for m in checkout_checks()] == ids
    # Retried calls are bounded by checkout's retry budget (at most CHECKOUT_TIMEOUT), so the
    # redeem's send window plus its read timeout stays the longest.
    # (The sync lease must outlast such a budget too: E012 refuses the settings otherwise.)
    long_budget = {**conf, "MAX_RETRIES": 10, "RETRY_BUDGET": 1000, "SYNC_LEASE_SECONDS": 6000}
    assert longest_request_seconds(long_budget) == 13.0


def test_an_unexpected_error_quoting_the_api_key_is_kept_and_logged_masked(sandbox, monkeypatch, caplog):
    """A proxy library's error may quote the request's headers: the ledger row's text and the
    log line mask the key (it used to store ``repr(exc)`` as it was, and log its traceback)."""
    make_voucher("FIVE")
    key = django_voucherify.conf.settings().secret_key.reveal()

    def leaky_send(self: Any, request: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"proxy refused headers X-App-Token: {key}")

    monkeypatch.setattr(adversary.Interceptor, "send", leaky_send)
    adversary.intercept(sandbox)
    with pytest.raises(RuntimeError):
        checkout.redeem(["FIVE"], ORDER)
    row = CheckoutRedemption.objects.get()
    assert row.last_error_key == "unexpected_error"
    assert key not in row.last_error and "RuntimeError: proxy refused headers" in row.last_error
    assert all(key not in r.getMessage() and r.exc_info is None for r in caplog.records)


def test_an_unexpected_error_whose_text_no_column_can_store_still_settles_the_row(sandbox, monkeypatch):
    """A NUL in the error's text made the record itself fail on PostgreSQL: the row stayed
    PENDING and the caller got the database's error instead of the one that happened."""
    make_voucher("FIVE")

    def odd_send(self: Any, request: Any, **kwargs: Any) -> Any:
        raise RuntimeError("proxy said \x00")

    monkeypatch.setattr(adversary.Interceptor, "send", odd_send)
    adversary.intercept(sandbox)
    with pytest.raises(RuntimeError, match="proxy said"):
        checkout.redeem(["FIVE"], ORDER)
    row = CheckoutRedemption.objects.get()
    assert row.state != LedgerState.PENDING and row.last_error_key == "unexpected_error"
    assert row.last_error.startswith("RuntimeError: proxy said \ufffd")
