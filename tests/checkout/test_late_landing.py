"""A redeem Voucherify processes after reconciliation concluded "not redeemed", and whose answer
never reaches anyone, is found by the late check, recorded (ORPHANED) and rolled back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from django.test import override_settings
from requests.adapters import BaseAdapter

from django_voucherify import checkout
from django_voucherify.models import CheckoutRedemption, LedgerState
from django_voucherify.sandbox.adapter import _read_body
from tests.support import adversary
from tests.support.checkout import checkout_checks, checkout_conf, live_redemptions, marker_of
from tests.support.vouchers import make_voucher

pytestmark = pytest.mark.django_db(transaction=True)

ORDER = {"source_id": "ORD-LATE", "amount": 10_000}

#: The default CHECKOUT_LATE_CHECK_AFTER.
LATE_CHECK_AFTER = 3600


class HeldRedeem(BaseAdapter):
    """Voucherify (a load balancer in front of it) keeps the first redeem request: the caller
    times out, nothing is processed until :meth:`land` hands the request over, and its answer
    then goes nowhere."""

    def __init__(self, inner: Any) -> None:
        super().__init__()
        self.inner = inner
        self.held: list[tuple[requests.PreparedRequest, dict[str, Any]]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        path = str(request.url).split("?", 1)[0]
        if request.method == "POST" and path.endswith("/v1/redemptions") and not self.held:
            request.body = _read_body(request.body)  # every byte left in time
            self.held.append((request, kwargs))
            raise requests.exceptions.ReadTimeout("held by the load balancer", request=request)
        return self.inner.send(request, **kwargs)

    def land(self) -> None:
        [(request, kwargs)] = self.held
        self.inner.send(request, **kwargs)  # Voucherify processes it; nobody reads the answer

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def held(sandbox: Any) -> HeldRedeem:
    interceptor = adversary.intercept(sandbox)
    holder = HeldRedeem(interceptor.inner)
    interceptor.inner = holder
    return holder


def _given_up(held: HeldRedeem, sweep_after: Callable[[float], None]) -> CheckoutRedemption:
    """The redeem times out; past the grace period the sweep concludes "not redeemed"."""
    make_voucher("FIVE")
    with pytest.raises(checkout.CheckoutUnavailable) as unknown:
        checkout.redeem(["FIVE"], ORDER)
    assert unknown.value.outcome_unknown is True
    sweep_after(600)
    row = CheckoutRedemption.objects.get()
    assert row.state == LedgerState.FAILED and row.last_error_key == "not_redeemed"
    assert row.late_check_at is not None
    return row


@pytest.mark.parametrize("reordered", [False, True], ids=["alone", "after-a-new-attempt"])
def test_redeem_processed_after_the_grace_period_is_found_and_rolled_back(
    sandbox: Any, held: HeldRedeem, sweep_after: Callable[[float], None], reordered: bool
) -> None:
    """Old code: the FAILED row was never looked at again; the redemption stayed live in
    Voucherify with no ledger record (and, with a new attempt, the order held two)."""
    row = _given_up(held, sweep_after)
    newer = checkout.redeem(["FIVE"], ORDER).ledger if reordered else None  # the order is free
    held.land()
    [late] = [r for r in live_redemptions(sandbox) if marker_of(r) == str(row.reference)]
    sweep_after(LATE_CHECK_AFTER / 2)  # not due yet: nothing read, nothing changed
    row.refresh_from_db()
    assert row.state == LedgerState.FAILED and row.late_check_at is not None
    sweep_after(LATE_CHECK_AFTER)
    row.refresh_from_db()
    assert row.state == LedgerState.ROLLED_BACK and row.redemption_ids == [late["id"]]
    assert row.rollback_ids and row.late_check_at is None
    assert row.needs_attention and "late check" in row.attention_reason
    assert "not_redeemed" in row.attention_reason
    assert row.rollback_reason  # the first reason asked for is kept (unknown outcome)
    live = live_redemptions(sandbox)
    if newer is None:
        assert live == []
    else:  # the newer attempt is left alone: one redemption for the order, its own
        assert [marker_of(r) for r in live] == [str(newer.reference)]
        newer.refresh_from_db()
        assert newer.state == LedgerState.SUCCEEDED and not newer.rollback_pending


def test_late_check_that_finds_nothing_is_done_for_good(
    sandbox: Any, held: HeldRedeem, sweep_after: Callable[[float], None]
) -> None:
    row = _given_up(held, sweep_after)
    before = sandbox.calls.count("GET", "/v1/redemptions")
    sweep_after(LATE_CHECK_AFTER + 1)
    row.refresh_from_db()
    assert row.state == LedgerState.FAILED and row.last_error_key == "not_redeemed"
    assert row.late_check_at is None and not row.needs_attention and not row.rollback_pending
    assert sandbox.calls.count("GET", "/v1/redemptions") == before + 1  # one late look
    sweep_after(LATE_CHECK_AFTER * 10)
    assert sandbox.calls.count("GET", "/v1/redemptions") == before + 1  # and never again
    assert live_redemptions(sandbox) == []


def test_late_check_survives_voucherify_being_down(
    sandbox: Any, held: HeldRedeem, sweep_after: Callable[[float], None]
) -> None:
    row = _given_up(held, sweep_after)
    held.land()
    outage = sandbox.faults.add(path="/v1/redemptions", method="GET", status=503)
    sweep_after(LATE_CHECK_AFTER + 1)
    row.refresh_from_db()
    assert row.state == LedgerState.FAILED and row.late_check_at is not None  # still due
    outage.times = 0
    sweep_after(3600)
    row.refresh_from_db()
    assert row.state == LedgerState.ROLLED_BACK and live_redemptions(sandbox) == []


@pytest.mark.parametrize(
    ("late", "refused"),
    [(60, True), (30, True), (61, False), (3600, False), (None, False)],
)
def test_late_check_must_come_after_the_grace_period(late: float | None, refused: bool) -> None:
    conf = checkout_conf(CHECKOUT_RECONCILE_GRACE=60, CHECKOUT_LATE_CHECK_AFTER=late)
    with override_settings(VOUCHERIFY=conf):
        problems = [p for p in checkout_checks() if p.id == "voucherify.E026"]
    assert bool(problems) is refused
    if refused:
        assert "CHECKOUT_LATE_CHECK_AFTER" in problems[0].msg and problems[0].hint


@pytest.mark.parametrize(("grace", "expected"), [(60, 3600.0), (7200, 14400.0)])
def test_unset_late_check_follows_a_long_grace(grace: float, expected: float) -> None:
    """Unset, the delay is 3600 s or twice the grace: a long grace set before the option existed
    stays valid (no E026)."""
    from django_voucherify import conf

    with override_settings(VOUCHERIFY=checkout_conf(CHECKOUT_RECONCILE_GRACE=grace)):
        assert not [p for p in checkout_checks() if p.id == "voucherify.E026"]
        assert conf.settings().checkout_late_check_after == expected
