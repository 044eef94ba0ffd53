"""Redeem (single and stacked), failures, get/list and voucher redemption summaries,
through the WSGI app in-process (no sockets)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.sandbox import Api, redeem


def test_single_redeem_shape_and_totals(api: Api) -> None:
    api.voucher("TEN", discount={"type": "PERCENT", "percent_off": 10, "amount_limit": 500})
    r = redeem(
        api,
        "TEN",
        order={"source_id": "o-1", "items": [{"price": 2000, "quantity": 3}]},
        customer={"source_id": "alice"},
        metadata={"k": "v"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert "parent_redemption" not in body
    (red,) = body["redemptions"]
    assert red["id"].startswith("r_") and red["object"] == "redemption"
    assert (red["result"], red["status"], red["redemption"]) == ("SUCCESS", "SUCCEEDED", None)
    assert red["related_object_type"] == "voucher" and red["related_object_id"] == "v_ten"
    assert red["metadata"] == {"k": "v"}
    order = body["order"]
    assert order["id"].startswith("ord_")
    assert order["amount"] == 6000
    assert order["discount_amount"] == 500  # 10% = 600, capped by amount_limit
    assert order["total_amount"] == 5500
    assert order["redemptions"][red["id"]]["related_object_id"] == "v_ten"
    assert api.state.vouchers["TEN"]["redemption"]["redeemed_quantity"] == 1
    cust = api.state.find_customer("alice")
    assert cust["summary"]["redemptions"]["total_succeeded"] == 1
    assert api.state.find_order("o-1")["status"] == "PAID"


def test_stacked_redeem_parent_and_gift(api: Api) -> None:
    api.voucher("AMT")
    api.gift("GIFT", 5000)
    r = redeem(
        api, "AMT", {"object": "voucher", "id": "GIFT", "gift": {"credits": 3000}}, order={"amount": 2500}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    parent = body["parent_redemption"]
    assert parent["id"].startswith("r_") and parent["related_object_type"] == "redemption"
    assert [c["redemption"] for c in body["redemptions"]] == [parent["id"]] * 2
    gift_child = body["redemptions"][1]
    assert gift_child["gift"] == {"amount": 1500} and gift_child["amount"] == 1500
    assert body["order"]["total_amount"] == 0
    assert body["order"]["redemptions"][parent["id"]]["stacked"] == [c["id"] for c in body["redemptions"]]
    assert api.state.vouchers["GIFT"]["gift"]["balance"] == 3500
    txs = api.state.voucher_transactions["v_gift"]
    assert txs[-1]["type"] == "CREDITS_REDEMPTION"
    assert txs[-1]["details"]["balance"]["balance"] == 3500


def test_gift_errors(api: Api) -> None:
    api.gift("G", 1000)
    r = redeem(api, "G")
    assert (r.status_code, r.json()["key"]) == (400, "missing_amount")
    r = redeem(api, {"object": "voucher", "id": "G", "gift": {"credits": 1001}}, order={"amount": 5000})
    assert r.json()["key"] == "gift_amount_exceeded"
    assert api.state.vouchers["G"]["gift"]["balance"] == 1000


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ({"active": False}, "voucher_disabled"),
        ({"start_date": "2999-01-01T00:00:00Z"}, "voucher_not_active"),
        ({"expiration_date": "2000-01-01T00:00:00Z"}, "voucher_expired"),
        ({"redemption": {"quantity": 1, "redeemed_quantity": 1}}, "quantity_exceeded"),
    ],
)
def test_failed_redemption_stored(api: Api, fields: dict[str, Any], key: str) -> None:
    api.voucher("BAD", **fields)
    r = redeem(api, "BAD", customer={"source_id": "bob"})
    assert r.status_code == 400
    err = r.json()
    assert err["key"] == key and err["resource_id"].startswith("rf_")
    assert "BAD" in err["details"]
    failed = api.call("GET", f"/v1/redemptions/{err['resource_id']}").json()
    assert (failed["result"], failed["status"], failed["failure_code"]) == ("FAILURE", "FAILED", key)
    assert api.state.find_customer("bob")["summary"]["redemptions"]["total_failed"] == 1


def test_stacked_failure_rejects_everything(api: Api) -> None:
    api.voucher("OK")
    r = redeem(api, "OK", "MISSING", order={"amount": 5000})
    assert r.status_code == 404 and r.json()["key"] == "not_found"
    assert api.state.vouchers["OK"]["redemption"]["redeemed_quantity"] == 0
    listed = api.call("GET", "/v1/redemptions", params={"result": "FAILURE"}).json()
    assert listed["total"] == 1 and listed["redemptions"][0]["failure_code"] == "not_found"


def test_payload_validation(api: Api) -> None:
    api.voucher("A")
    assert redeem(api).json()["key"] == "invalid_payload"
    many = [f"C{i}" for i in range(31)]
    assert redeem(api, *many).json()["key"] == "invalid_payload"
    assert redeem(api, "A", "A").json()["key"] == "invalid_payload"


def test_list_filters_paging_and_voucher_summary(api: Api) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    clock = [t0]
    api.state.clock = lambda: clock[0]
    api.voucher("Q", redemption={"quantity": 5, "redeemed_quantity": 0})
    for i in range(3):
        clock[0] = t0 + timedelta(minutes=i)
        assert redeem(api, "Q", customer={"source_id": f"c{i % 2}"}).status_code == 200
    page = api.call("GET", "/v1/redemptions", params={"limit": 2}).json()
    assert page["object"] == "list" and page["data_ref"] == "redemptions" and page["total"] == 3
    assert len(page["redemptions"]) == 2
    assert page["redemptions"][0]["date"] > page["redemptions"][1]["date"]
    assert api.call("GET", "/v1/redemptions", params={"customer": "c0"}).json()["total"] == 2
    after = {"created_at[after]": (t0 + timedelta(seconds=30)).isoformat()}
    assert api.call("GET", "/v1/redemptions", params=after).json()["total"] == 2
    assert api.call("GET", "/v1/redemptions", params={"page": 100}).status_code == 400
    summary = api.call("GET", "/v1/vouchers/Q/redemption").json()
    assert (summary["quantity"], summary["redeemed_quantity"], summary["total"]) == (5, 3, 3)
    assert summary["data_ref"] == "redemption_entries" and len(summary["redemption_entries"]) == 3
    assert api.call("GET", "/v1/redemptions/r_nope").status_code == 404
