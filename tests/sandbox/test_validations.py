"""Validations and LOCK sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.sandbox import Api, redeem, validate


def test_valid_and_invalid() -> None:
    api = Api()
    api.voucher("A", discount={"type": "AMOUNT", "amount_off": 700, "effect": "APPLY_TO_ITEMS"})
    api.voucher("OFF", active=False)
    ok = validate(api, "A", order={"items": [{"price": 500, "quantity": 2}, {"amount": 300}]})
    assert ok["valid"] is True and ok["id"].startswith("valid_")
    assert ok["redeemables"][0]["status"] == "APPLICABLE"
    assert ok["order"]["items_discount_amount"] == 1000  # 700 on line 1 (1000), 300 on line 2
    assert ok["order"]["total_amount"] == 300
    assert ok["stacking_rules"]["redeemables_limit"] == 30
    bad = validate(api, "A", "OFF", "NOPE", order={"amount": 100})
    assert bad["valid"] is False
    statuses = [r["status"] for r in bad["redeemables"]]
    assert statuses == ["SKIPPED", "INAPPLICABLE", "INAPPLICABLE"]
    keys = [r["result"]["error"]["key"] for r in bad["inapplicable_redeemables"]]
    assert keys == ["voucher_disabled", "not_found"]
    assert api.state.redemptions == {}  # validation stores nothing


def test_lock_session_holds_quantity_until_redeemed_released_or_expired() -> None:
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]
    api = Api()
    api.state.clock = lambda: clock[0]
    api.voucher("ONE", redemption={"quantity": 1, "redeemed_quantity": 0})
    v = validate(api, "ONE", session={"type": "LOCK", "ttl": 10, "ttl_unit": "MINUTES"})
    key = v["session"]["key"]
    assert key.startswith("ssn_") and v["session"]["ttl_unit"] == "MINUTES"
    # held for everybody else
    assert validate(api, "ONE")["valid"] is False
    assert redeem(api, "ONE").json()["key"] == "quantity_exceeded"
    # the holder redeems with the key
    r = redeem(api, "ONE", session={"key": key})
    assert r.status_code == 200 and r.json()["redemptions"][0]["session"] == {"key": key}
    # release / expiry on another voucher
    api.voucher("TWO", redemption={"quantity": 1, "redeemed_quantity": 0})
    key2 = validate(api, "TWO", session={"type": "LOCK"})["session"]["key"]
    assert api.call("DELETE", f"/v1/vouchers/TWO/sessions/{key2}").status_code == 204
    assert api.call("DELETE", f"/v1/vouchers/TWO/sessions/{key2}").status_code == 404
    validate(api, "TWO", session={"type": "LOCK", "ttl": 1, "ttl_unit": "HOURS"})
    assert validate(api, "TWO")["valid"] is False
    clock[0] += timedelta(hours=1)
    assert validate(api, "TWO")["valid"] is True


def test_lock_session_holds_gift_credits() -> None:
    api = Api()
    api.gift("G", 1000)
    v = validate(
        api,
        {"object": "voucher", "id": "G", "gift": {"credits": 800}},
        order={"amount": 5000},
        session={"type": "LOCK"},
    )
    assert v["redeemables"][0]["result"]["gift"]["credits"] == 800
    r = redeem(api, {"object": "voucher", "id": "G", "gift": {"credits": 300}}, order={"amount": 5000})
    assert r.json()["key"] == "gift_amount_exceeded"
    key = v["session"]["key"]
    r = redeem(
        api,
        {"object": "voucher", "id": "G", "gift": {"credits": 800}},
        order={"amount": 5000},
        session={"key": key},
    )
    assert r.status_code == 200 and api.state.vouchers["G"]["gift"]["balance"] == 200
