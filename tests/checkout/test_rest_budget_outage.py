"""The unknown-codes budget during an outage: a Voucherify error that says nothing about the
codes (a ``VoucherifyError`` reaching the view, answered 503) hands the reservation back, like
``CheckoutUnavailable`` does, so a customer retrying through an outage is not locked out (429)."""

from __future__ import annotations

import pytest

from django_voucherify.api.errors import ServerError, TransportError
from django_voucherify.checkout.budget import UNKNOWN_CODE_KEYS, UnknownCodesBudget
from django_voucherify.checkout.errors import CodesRefused


class Counter:
    def __init__(self) -> None:
        self.given_back = 0

    def take(self, amount: int = 1) -> bool:
        return True

    def give_back(self, amount: int) -> None:
        self.given_back += amount


def budget() -> tuple[UnknownCodesBudget, Counter]:
    spent = UnknownCodesBudget.__new__(UnknownCodesBudget)
    counter = Counter()
    spent.counters, spent.reserved = [counter], 0  # type: ignore[list-item]
    return spent, counter


@pytest.mark.parametrize(
    "error",
    [
        TransportError("connection refused"),
        ServerError(503, {"code": 503, "key": "unavailable", "message": "down"}),
    ],
)
def test_a_voucherify_error_gives_the_reservation_back(error: Exception) -> None:
    spent, counter = budget()
    assert spent.reserve(3)
    with pytest.raises(type(error)), spent:
        raise error
    assert counter.given_back == 3


def test_unknown_codes_stay_counted() -> None:
    spent, counter = budget()
    assert spent.reserve(2)
    with pytest.raises(CodesRefused), spent:
        raise _unknown_codes()
    assert counter.given_back == 0


def _unknown_codes() -> CodesRefused:
    refusal = CodesRefused.__new__(CodesRefused)  # only its key matters to the budget
    refusal.key = next(iter(UNKNOWN_CODE_KEYS))
    return refusal
