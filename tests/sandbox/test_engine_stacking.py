"""Unit tests for stacking evaluation and LOCK sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from django_voucherify.sandbox.engine import sessions, stacking

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)


def discount(code: str, **d: object) -> dict[str, object]:
    return {
        "code": code,
        "type": "DISCOUNT_VOUCHER",
        "active": True,
        "discount": d,
        "redemption": {"quantity": None, "redeemed_quantity": 0},
    }


def gift(code: str, balance: int) -> dict[str, object]:
    return {
        "code": code,
        "type": "GIFT_VOUCHER",
        "active": True,
        "gift": {"amount": balance, "balance": balance},
        "redemption": {"quantity": None, "redeemed_quantity": 0},
    }


def test_requested_order_discounts_then_gift() -> None:
    vouchers = [
        discount("P10", type="PERCENT", percent_off=10),
        discount("A5", type="AMOUNT", amount_off=500),
        gift("G", 100000),
    ]
    reqs = [
        {"object": "voucher", "id": "P10"},
        {"object": "voucher", "id": "A5"},
        {"object": "voucher", "id": "G", "gift": {"credits": 2000}},
    ]
    ev = stacking.evaluate(reqs, vouchers, {"amount": 10000}, NOW)
    assert ev.valid
    assert [o.discount for o in ev.outcomes] == [1000, 500, 2000]
    assert ev.outcomes[2].credits == 2000
    assert ev.outcomes[2].result() == {"gift": {"balance": 100000, "credits": 2000}}
    assert ev.outcomes[1].order_after["discount_amount"] == 1500
    assert ev.outcomes[1].order_after["applied_discount_amount"] == 500


def test_gift_default_credits_capped_by_left_to_pay() -> None:
    ev = stacking.evaluate([{"object": "voucher", "id": "G"}], [gift("G", 5000)], {"amount": 3000}, NOW)
    assert ev.outcomes[0].credits == 3000


def test_gift_with_held_credits() -> None:
    ev = stacking.evaluate(
        [{"object": "voucher", "id": "G"}],
        [gift("G", 5000)],
        {"amount": 9000},
        NOW,
        held_credits=lambda v: 4000,
    )
    assert ev.outcomes[0].credits == 1000


def test_failures_are_reported_per_redeemable() -> None:
    disabled = discount("D", type="AMOUNT", amount_off=1)
    disabled["active"] = False
    reqs = [
        {"object": "voucher", "id": "X"},
        {"object": "voucher", "id": "D"},
        {"object": "promotion_tier", "id": "promo_1"},
        {"object": "voucher", "id": "G", "gift": {"credits": 10}},
        {"object": "voucher", "id": "L"},
    ]
    loyalty = {"code": "L", "type": "LOYALTY_CARD", "active": True, "redemption": {}}
    ev = stacking.evaluate(reqs, [None, disabled, None, gift("G", 5), loyalty], {"amount": 100}, NOW)
    assert not ev.valid
    keys = [o.failure.key if o.failure else None for o in ev.outcomes]
    assert keys == ["not_found", "voucher_disabled", "not_found", "gift_amount_exceeded", "missing_reward"]
    assert ev.outcomes[0].failure.code == 404  # type: ignore[union-attr]
    view = stacking.redeemable_view(ev.outcomes[1], "INAPPLICABLE")
    assert view["result"]["error"]["key"] == "voucher_disabled"


def test_session_registry_holds_and_expiry() -> None:
    store: dict[str, dict[str, object]] = {}
    reg = sessions.SessionRegistry(store)  # type: ignore[arg-type]
    s = reg.lock(None, 10, "MINUTES", NOW, {"C": sessions.Hold(1, 0), "G": sessions.Hold(1, 300)})
    assert s["key"].startswith("ssn_")
    assert reg.held("G", NOW).credits == 300
    assert reg.held("G", NOW, exclude=s["key"]).credits == 0
    # a rebuilt registry over the same store sees the same holds (persistence)
    again = sessions.SessionRegistry(store)  # type: ignore[arg-type]
    assert again.held("C", NOW).quantity == 1
    reg.consume(s["key"], "C")
    assert reg.held("C", NOW).quantity == 0
    assert reg.release("G", s["key"], NOW)
    assert not reg.release("G", s["key"], NOW)
    assert store == {}
    s2 = reg.lock("mine", 1, "SECONDS", NOW, {"C": sessions.Hold(1, 0)})
    assert reg.held("C", NOW + timedelta(milliseconds=999)).quantity == 1
    assert reg.held("C", NOW + timedelta(seconds=1)).quantity == 0
    assert reg.get(s2["key"], NOW + timedelta(seconds=1)) is None


def test_session_overwrite_and_bad_ttl() -> None:
    reg = sessions.SessionRegistry({})
    reg.lock("k", 1, "HOURS", NOW, {"C": sessions.Hold(1, 0)})
    reg.lock("k", 1, "HOURS", NOW, {"D": sessions.Hold(1, 0)})
    assert reg.held("C", NOW).quantity == 0
    assert reg.held("D", NOW).quantity == 1
    with pytest.raises(ValueError):
        reg.lock(None, -1, "HOURS", NOW, {})
    with pytest.raises(ValueError):
        reg.lock(None, 1, "WEEKS", NOW, {})
    s = reg.lock(None, None, None, NOW, {})
    assert (s["ttl"], s["ttl_unit"]) == (7, "DAYS")


def test_held_credits_are_asked_for_gift_cards_only() -> None:
    """The sessions' credit holds are looked up for a gift card, not for every voucher (a
    discount voucher uses no credits: one lookup less per redeem)."""
    asked: list[object] = []

    def held_credits(voucher: dict[str, object]) -> int:
        asked.append(voucher["code"])
        return 0

    reqs = [{"object": "voucher", "id": "A5"}, {"object": "voucher", "id": "G"}]
    vouchers = [discount("A5", type="AMOUNT", amount_off=500), gift("G", 1000)]
    ev = stacking.evaluate(reqs, vouchers, {"amount": 10000}, NOW, held_credits=held_credits)
    assert ev.valid and [o.discount for o in ev.outcomes] == [500, 1000]
    assert asked == ["G"]
