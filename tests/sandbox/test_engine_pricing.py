"""Unit tests for the pure pricing engine (order totals, caps, rounding)."""

from __future__ import annotations

import pytest

from django_voucherify.sandbox.engine import pricing


def test_to_minor_and_rounding() -> None:
    assert pricing.to_minor(1000) == 1000
    assert pricing.to_minor(1000.0) == 1000
    assert pricing.to_minor("12.5") == 13  # half-up
    with pytest.raises(ValueError):
        pricing.to_minor("abc")
    with pytest.raises(ValueError):
        pricing.to_minor(True)
    assert pricing.percent_of(1001, 12.5) == 125  # 125.125 -> 125
    assert pricing.percent_of(1003, 50) == 502  # 501.5 -> 502 (half-up)
    assert pricing.percent_of(999, "33.3333") == 333


def test_order_amount_derived_from_items() -> None:
    order = {"items": [{"price": 500, "quantity": 3}, {"amount": 250}, {"quantity": 2}]}
    assert pricing.order_amount(order) == 1750
    assert pricing.order_amount({"amount": 99, "items": [{"amount": 1}]}) == 99
    assert pricing.order_amount({}) is None
    assert pricing.order_amount(None) is None
    assert pricing.item_amount({"price": 200}) == 200


def test_amount_discount_order_level_totals() -> None:
    calc = pricing.start({"amount": 10000})
    applied = pricing.apply_discount(calc, {"type": "AMOUNT", "amount_off": 1500})
    assert applied == 1500
    out = pricing.render(calc)
    assert out["amount"] == 10000
    assert out["discount_amount"] == 1500
    assert out["items_discount_amount"] == 0
    assert out["total_discount_amount"] == 1500
    assert out["total_amount"] == 8500
    assert out["applied_discount_amount"] == 1500
    assert out["items_applied_discount_amount"] == 0
    assert out["total_applied_discount_amount"] == 1500


def test_discount_never_exceeds_what_is_left() -> None:
    calc = pricing.start({"amount": 1000})
    assert pricing.apply_discount(calc, {"type": "AMOUNT", "amount_off": 700}) == 700
    assert pricing.apply_discount(calc, {"type": "AMOUNT", "amount_off": 700}) == 300
    assert pricing.apply_discount(calc, {"type": "AMOUNT", "amount_off": 700}) == 0
    assert pricing.render(calc)["total_amount"] == 0


def test_percent_with_amount_limit_and_sequential_stacking() -> None:
    calc = pricing.start({"amount": 10000})
    assert pricing.apply_discount(calc, {"type": "PERCENT", "percent_off": 50, "amount_limit": 2000}) == 2000
    # the next percent applies to what is left (8000)
    assert pricing.apply_discount(calc, {"type": "PERCENT", "percent_off": 10}) == 800
    out = pricing.render(calc)
    assert out["discount_amount"] == 2800
    assert out["total_amount"] == 7200


def test_fixed_order_level() -> None:
    calc = pricing.start({"amount": 5000})
    assert pricing.apply_discount(calc, {"type": "FIXED", "fixed_amount": 3000}) == 2000
    assert pricing.render(calc)["total_amount"] == 3000
    calc = pricing.start({"amount": 2000})
    assert pricing.apply_discount(calc, {"type": "FIXED", "fixed_amount": 3000}) == 0


def test_previous_discount_accumulates() -> None:
    calc = pricing.start({"amount": 10000}, previous_discount=1000)
    pricing.apply_discount(calc, {"type": "AMOUNT", "amount_off": 500})
    out = pricing.render(calc)
    assert out["discount_amount"] == 1500
    assert out["applied_discount_amount"] == 500
    assert out["total_amount"] == 8500


def _items_order() -> dict[str, object]:
    return {
        "items": [
            {"product_id": "prod_a", "price": 1000, "quantity": 2},
            {"product_id": "prod_b", "amount": 500, "quantity": 1},
        ]
    }


def test_apply_to_items_amount_per_line_and_by_quantity() -> None:
    calc = pricing.start(_items_order())
    applied = pricing.apply_discount(calc, {"type": "AMOUNT", "amount_off": 300, "effect": "APPLY_TO_ITEMS"})
    assert applied == 600
    out = pricing.render(calc)
    assert out["amount"] == 2500
    assert out["discount_amount"] == 0
    assert out["items_discount_amount"] == 600
    assert out["items_applied_discount_amount"] == 600
    assert out["total_discount_amount"] == 600
    assert out["total_amount"] == 1900
    assert out["items"][0]["discount_amount"] == 300
    assert out["items"][0]["subtotal_amount"] == 1700
    assert out["items"][1]["applied_discount_amount"] == 300

    calc = pricing.start(_items_order())
    applied = pricing.apply_discount(
        calc, {"type": "AMOUNT", "amount_off": 300, "effect": "APPLY_TO_ITEMS_BY_QUANTITY"}
    )
    assert applied == 900  # 300*2 + 300*1


def test_apply_to_items_capped_by_item_amount() -> None:
    calc = pricing.start(_items_order())
    applied = pricing.apply_discount(calc, {"type": "AMOUNT", "amount_off": 800, "effect": "APPLY_TO_ITEMS"})
    assert applied == 800 + 500


def test_apply_to_items_percent_limit_and_fixed() -> None:
    calc = pricing.start(_items_order())
    applied = pricing.apply_discount(
        calc, {"type": "PERCENT", "percent_off": 50, "effect": "APPLY_TO_ITEMS", "amount_limit": 1100}
    )
    assert applied == 1100  # 1000 on item a, then only 100 left of the limit
    calc = pricing.start(_items_order())
    applied = pricing.apply_discount(calc, {"type": "FIXED", "fixed_amount": 400, "effect": "APPLY_TO_ITEMS"})
    assert applied == (2000 - 800) + (500 - 400)


def test_apply_to_items_filtered_by_applicable_to() -> None:
    calc = pricing.start(_items_order())
    applied = pricing.apply_discount(
        calc,
        {"type": "AMOUNT", "amount_off": 100, "effect": "APPLY_TO_ITEMS"},
        [{"object": "product", "id": "prod_b"}],
    )
    assert applied == 100
    assert "discount_amount" not in pricing.render(calc)["items"][0]


def test_proportional_split_sums_exactly() -> None:
    order = {"items": [{"amount": 100}, {"amount": 100}, {"amount": 100}]}
    calc = pricing.start(order)
    applied = pricing.apply_discount(
        calc, {"type": "AMOUNT", "amount_off": 100, "effect": "APPLY_TO_ITEMS_PROPORTIONALLY"}
    )
    assert applied == 100
    shares = sorted(i.applied for i in calc.items)
    assert shares == [33, 33, 34]


def test_gift_credits_capped_by_remaining() -> None:
    calc = pricing.start({"amount": 1000})
    pricing.apply_discount(calc, {"type": "AMOUNT", "amount_off": 400})
    assert pricing.apply_gift(calc, 5000) == 600
    out = pricing.render(calc)
    assert out["total_amount"] == 0
    assert out["applied_discount_amount"] == 1000


def test_unknown_amount_gives_nothing() -> None:
    calc = pricing.start(None)
    assert pricing.apply_discount(calc, {"type": "AMOUNT", "amount_off": 100}) == 0
    assert pricing.render(calc)["total_amount"] is None


def test_only_ints_in_rendered_order() -> None:
    calc = pricing.start({"items": [{"price": 333.0, "quantity": 3}]})
    pricing.apply_discount(calc, {"type": "PERCENT", "percent_off": 33.3})
    out = pricing.render(calc)
    for key, value in out.items():
        if key.endswith("amount"):
            assert isinstance(value, int), key
