"""A refused request changes nothing and is answered with Voucherify's error body, never a 500.

Each test pins a breach found by review or by the state fuzzer (tests/sandbox/test_fuzz_state.py):
the request, and that the state (every collection, as ``to_json`` dumps it) is the same after
the refusal as before.
"""

from __future__ import annotations

import json

import pytest

from tests.support.sandbox import Api

ERROR_KEYS = {"code", "key", "message", "request_id"}
JSON_HEADERS = {"Content-Type": "application/json"}


def _refused(api: Api, method: str, path: str, raw: bytes, key: str = "invalid_payload") -> dict:
    """Send ``raw`` and check the answer is a 400 ``key`` error that left the state as it was."""
    before = api.state.to_json()
    response = api.call(method, path, data=raw, headers=JSON_HEADERS)
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) >= ERROR_KEYS and body["key"] == key and body["code"] == 400, body
    assert api.state.to_json() == before
    return body


# ---- lone surrogates: valid JSON syntax, not Unicode text --------------------------------------
REDEEM = {"redeemables": [{"object": "voucher", "id": "C1"}], "order": {"amount": 1000}}


@pytest.mark.parametrize(
    "raw",
    [
        # The review's case: escaped in the JSON text, in a metadata value.
        json.dumps({**REDEEM, "metadata": {"k": "\ud800"}}).encode(),
        # In a key, a low surrogate, deep in the order.
        json.dumps({**REDEEM, "order": {"amount": 1000, "metadata": {"\udfff": 1}}}).encode(),
        # The UTF-8 bytes of a surrogate (bodies are decoded as json.loads does: surrogatepass).
        json.dumps({**REDEEM, "metadata": {"k": "\ud800"}}, ensure_ascii=False).encode(
            "utf-8", "surrogatepass"
        ),
        # The same in a UTF-16 body, which json.loads also reads.
        json.dumps({**REDEEM, "metadata": {"k": "\udc00"}})
        .replace("\\udc00", "\udc00")
        .encode("utf-16-le", "surrogatepass"),
    ],
    ids=["escaped-value", "escaped-key", "utf8-bytes", "utf16-bytes"],
)
def test_a_redeem_holding_a_lone_surrogate_is_a_400_that_redeems_nothing(raw: bytes) -> None:
    api = Api()
    api.voucher("C1")
    body = _refused(api, "POST", "/v1/redemptions", raw)
    assert "lone surrogate" in body["details"]
    assert not api.state.redemptions
    assert api.state.vouchers["C1"]["redemption"]["redeemed_quantity"] == 0


def test_a_customer_holding_a_lone_surrogate_is_refused_and_a_surrogate_pair_is_kept() -> None:
    api = Api()
    _refused(api, "POST", "/v1/customers", b'{"source_id": "s", "name": "\\ud83d"}')
    # A pair escaped as two \u escapes is one character (U+1F600): text, accepted and echoed.
    ok = api.post("/v1/customers", data=b'{"source_id": "s", "name": "\\ud83d\\ude00"}', headers=JSON_HEADERS)
    assert ok.status_code == 200, ok.text
    assert ok.json()["name"] == "\U0001f600"


# ---- orders: every check before the first change -----------------------------------------------
@pytest.mark.parametrize(
    "order",
    [
        # Found by the fuzzer: the customer (an anonymous one) was created, then the referrer 404.
        {"customer": {"id": ""}, "referrer_id": "0"},
        {"customer": {"source_id": "new-buyer"}, "referrer": {"id": "cust_unknown"}},
        {"customer": {"source_id": "new-buyer", "name": "N"}, "referrer_id": "nobody"},
    ],
    ids=["anonymous-then-referrer-id", "new-then-referrer-object", "named-then-referrer-id"],
)
def test_an_order_refused_for_its_referrer_creates_no_customer(order: dict) -> None:
    api = Api()
    _refused_any(api, "POST", "/v1/orders", json.dumps(order).encode(), 404, "not_found")
    api.post("/v1/orders", json={"source_id": "o1", "amount": 100})
    _refused_any(api, "PUT", "/v1/orders/o1", json.dumps(order).encode(), 404, "not_found")
    assert not api.state.customers


def _refused_any(api: Api, method: str, path: str, raw: bytes, status: int, key: str) -> dict:
    """Like :func:`_refused` for any 4xx ``status``."""
    before = api.state.to_json()
    response = api.call(method, path, data=raw, headers=JSON_HEADERS)
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= ERROR_KEYS and body["key"] == key and body["code"] == status, body
    assert api.state.to_json() == before
    return body


def test_a_redeem_of_an_unknown_order_id_creates_no_customer() -> None:
    """Found by the fuzzer: the request's customer was upserted, then the order id was a 404."""
    api = Api()
    api.voucher("C1")
    body = {**REDEEM, "order": {"id": "ord_unknown", "amount": 100}, "customer": {"source_id": "new"}}
    _refused_any(api, "POST", "/v1/redemptions", json.dumps(body).encode(), 404, "not_found")
    assert not api.state.customers and not api.state.redemptions


@pytest.mark.parametrize(
    "discount",
    [
        {"type": "AMOUNT", "amount_off": 100, "effect": "ord_x"},
        {"type": "PERCENT", "percent_off": 10, "effect": "APPLY_TO_ITEMS_BY_QUANTITY"},  # AMOUNT's only
        {"type": "UNIT", "unit_off": 1, "effect": "APPLY_TO_ORDER"},
    ],
    ids=["unknown", "another-types", "unit-with-an-order-effect"],
)
def test_a_voucher_update_with_an_effect_its_type_does_not_have_is_refused(discount: dict) -> None:
    """Found by the fuzzer: update-voucher stored any ``discount.effect``, and every answer
    showing the voucher (the update's own, the list's) then broke the response schema."""
    api = Api()
    api.voucher("C1")
    body = _refused(api, "PUT", "/v1/vouchers/C1", json.dumps({"discount": discount}).encode())
    assert "discount.effect" in body["details"]


@pytest.mark.parametrize(
    "referral_program",
    [{"custom_event": -1}, {"conversion_event_type": "never"}, {"referee_reward": "x"}],
    ids=["custom-event-a-number", "unknown-conversion", "reward-a-string"],
)
def test_a_campaign_update_with_a_referral_program_off_its_schema_is_refused(referral_program: dict) -> None:
    """Found by the fuzzer: update-campaign stored any ``referral_program`` object, and every
    answer showing the campaign (the update's own, list-campaigns) broke the response schema."""
    api = Api()
    created = api.post(
        "/v1/campaigns",
        json={
            "name": "Coupons",
            "campaign_type": "DISCOUNT_COUPONS",
            "type": "STATIC",
            "voucher": {"discount": {"type": "AMOUNT", "amount_off": 100}, "code_config": {"length": 8}},
        },
    )
    assert created.status_code == 200, created.text
    raw = json.dumps({"referral_program": referral_program}).encode()
    body = _refused(api, "PUT", f"/v1/campaigns/{created.json()['id']}", raw)
    assert body["details"].startswith("referral_program")
