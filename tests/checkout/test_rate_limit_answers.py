"""A 429 with an odd ``Retry-After`` at checkout's doors (hostile review of checkout; the
client's reading of it, ``transport.MAX_RETRY_AFTER``, was fixed on main meanwhile): one the
client cannot read is still a 429 (the redeem was refused before processing: FAILED, a JSON
503), and a huge one (``1e400``, ``1e12`` s, a date in the year 9999) is capped, so the
rollback's retry is scheduled instead of crashing.

Before that fix: ``Retry-After: soon, please`` raised ``ValueError`` out of the client, so the redeem
row became UNKNOWN (reconciled and rolled back for nothing) and the REST answer a 500; a huge
one made ``request_rollback`` raise ``OverflowError`` while scheduling the retry (a 500 from the
REST rollback, the payment's error replaced in ``redeem_then_pay``, a crashed Celery task).
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from rest_framework.test import APIClient

from django_voucherify import checkout
from django_voucherify.api.transport import MAX_RETRY_AFTER
from django_voucherify.checkout import schedule
from django_voucherify.models import CheckoutRedemption, LedgerState
from tests.support import adversary
from tests.support.checkout import REDEEM
from tests.support.vouchers import make_voucher

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("tests.checkout.urls")]


class RateLimitPosts(adversary.Interceptor):
    """While ``retry_after`` is set, every POST is answered 429 with that ``Retry-After``."""

    retry_after: str | None = None

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if self.retry_after is None or request.method != "POST":
            return self.inner.send(request, **kwargs)
        body = {"code": 429, "key": "too_many_requests", "message": "Too many requests"}
        answer = adversary.json_answer(request, body, status=429)
        answer.headers["Retry-After"] = self.retry_after
        return answer


def _rate_limit(sandbox: Any, retry_after: str | None) -> RateLimitPosts:
    interceptor = adversary.intercept(sandbox)
    interceptor.__class__ = RateLimitPosts
    assert isinstance(interceptor, RateLimitPosts)
    interceptor.retry_after = retry_after
    return interceptor


@pytest.mark.parametrize("retry_after", ["soon, please", "Mon, 99 Foo 2020 99:99:99 GMT"])
def test_a_redeem_rate_limited_with_an_unreadable_retry_after_is_a_503_and_failed(
    sandbox, shopper, retry_after
):
    user, order = shopper
    make_voucher("FIVE")
    _rate_limit(sandbox, retry_after)
    client = APIClient()
    client.force_authenticate(user)
    response = client.post(REDEEM, {"codes": ["FIVE"], "order_source_id": order.source_id}, format="json")
    assert response.status_code == 503 and response.json()["key"] == "unavailable"
    row = CheckoutRedemption.objects.get()
    assert row.state == LedgerState.FAILED and row.rollback_requested_at is None  # the order is free


@pytest.mark.parametrize(
    ("retry_after", "capped"),
    [("1e400", True), ("1e12", True), ("Fri, 31 Dec 9999 23:59:59 GMT", True), ("nan", False)],
)
def test_a_rollback_rate_limited_for_ever_is_retried_within_a_day(sandbox, monkeypatch, retry_after, capped):
    sent: list[tuple[Any, ...]] = []
    monkeypatch.setattr(schedule, "send", lambda *args, **kwargs: sent.append(args[:3]) or True)
    make_voucher("FIVE")
    outcome = checkout.redeem(["FIVE"], {"source_id": "ORD-429", "amount": 1000})
    _rate_limit(sandbox, retry_after)
    row = checkout.request_rollback(outcome.ledger, "payment failed")
    assert row.rollback_pending and "429" in CheckoutRedemption.objects.get().rollback_error
    # Capped at a day; NaN is no Retry-After at all: the rollback's own backoff.
    delay = MAX_RETRY_AFTER if capped else schedule.rollback_delay(row.rollback_attempts)
    assert sent == [(schedule.ROLLBACK_TASK, row.pk, delay)]
