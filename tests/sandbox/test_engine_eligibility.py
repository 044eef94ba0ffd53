"""Unit tests for voucher state checks and gift checks, in the documented order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from django_voucherify.sandbox.engine import eligibility
from django_voucherify.sandbox.engine.eligibility import check_gift, check_voucher

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # a Wednesday


def v(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "code": "C",
        "active": True,
        "redemption": {"quantity": None, "redeemed_quantity": 0},
    }
    base.update(kw)
    return base


def key(voucher: dict[str, object], **kw: object) -> str | None:
    f = check_voucher(voucher, NOW, **kw)  # type: ignore[arg-type]
    return f.key if f else None


def test_ok() -> None:
    assert key(v()) is None


def test_order_of_checks() -> None:
    everything_wrong = v(
        active=False,
        start_date="2027-01-01T00:00:00Z",
        expiration_date="2020-01-01T00:00:00Z",
        redemption={"quantity": 1, "redeemed_quantity": 1},
    )
    assert key(everything_wrong) == "voucher_disabled"
    everything_wrong["active"] = True
    assert key(everything_wrong) == "voucher_not_active"
    everything_wrong["start_date"] = None
    assert key(everything_wrong) == "voucher_expired"
    everything_wrong["expiration_date"] = None
    assert key(everything_wrong) == "quantity_exceeded"


def test_day_of_week_and_timeframe() -> None:
    assert key(v(validity_day_of_week=[3])) is None  # Wednesday
    assert key(v(validity_day_of_week=[0, 6])) == "voucher_not_active"
    start = (NOW - timedelta(days=2, minutes=30)).isoformat()
    # every 2 days for 1 hour: now is 30 minutes into a window
    assert key(v(start_date=start, validity_timeframe={"interval": "P2D", "duration": "PT1H"})) is None
    start = (NOW - timedelta(days=1)).isoformat()
    assert (
        key(v(start_date=start, validity_timeframe={"interval": "P2D", "duration": "PT1H"}))
        == "voucher_not_active"
    )


def test_validity_hours() -> None:
    daily = [{"start_time": "11:00", "expiration_time": "13:00", "days_of_week": [3]}]
    assert key(v(validity_hours={"daily": daily})) is None
    daily = [{"start_time": "13:00", "expiration_time": "14:00", "days_of_week": [3]}]
    assert key(v(validity_hours={"daily": daily})) == "voucher_not_active"


def test_quantity_with_holds() -> None:
    voucher = v(redemption={"quantity": 2, "redeemed_quantity": 1})
    assert key(voucher) is None
    assert key(voucher, held_quantity=1) == "quantity_exceeded"


def test_parse_duration() -> None:
    assert eligibility.parse_duration("PT1H30M") == timedelta(hours=1, minutes=30)
    assert eligibility.parse_duration("P1W") == timedelta(days=7)
    with pytest.raises(ValueError):
        eligibility.parse_duration("1H")


def test_gift_checks() -> None:
    card = {"code": "G", "gift": {"amount": 1000, "balance": 1000}}
    assert check_gift(card, None, None).key == "missing_amount"  # type: ignore[union-attr]
    assert check_gift(card, 1001, 5000).key == "gift_amount_exceeded"  # type: ignore[union-attr]
    assert check_gift(card, 1000, 5000) is None
    assert check_gift(card, 600, 5000, held_credits=500).key == "gift_amount_exceeded"  # type: ignore[union-attr]
    assert check_gift({"code": "E", "gift": {"balance": 0}}, None, 100).key == "gift_amount_exceeded"  # type: ignore[union-attr]


def test_failure_error_shape() -> None:
    err = eligibility.Failure("voucher_expired", "C has expired").error("v-1", "rf_1")
    assert err == {
        "code": 400,
        "key": "voucher_expired",
        "message": "voucher expired",
        "details": "C has expired",
        "request_id": "v-1",
        "resource_id": "rf_1",
        "resource_type": "voucher",
    }
