"""Single and stacked rollbacks: effects, refusals and shapes."""

from __future__ import annotations

from tests.support.sandbox import Api, redeem


def test_single_rollback_restores_quantity_and_gift() -> None:
    api = Api()
    api.gift("G", 5000, redemption={"quantity": 1, "redeemed_quantity": 0})
    r = redeem(
        api,
        {"object": "voucher", "id": "G", "gift": {"credits": 2000}},
        order={"amount": 3000},
        customer={"source_id": "cu"},
    )
    rid = r.json()["redemptions"][0]["id"]
    rb = api.call(
        "POST", f"/v1/redemptions/{rid}/rollback", params={"reason": "oops"}, json={"metadata": {"x": 1}}
    )
    assert rb.status_code == 200, rb.text
    body = rb.json()
    assert body["id"].startswith("rr_") and body["object"] == "redemption_rollback"
    assert (body["redemption"], body["reason"], body["amount"]) == (rid, "oops", -2000)
    assert body["order"]["status"] == "CANCELED" and body["order"]["total_amount"] == 3000
    v = api.state.vouchers["G"]
    assert v["gift"]["balance"] == 5000 and v["redemption"]["redeemed_quantity"] == 0
    assert api.state.voucher_transactions["v_g"][-1]["type"] == "CREDITS_REFUND"
    red = api.call("GET", f"/v1/redemptions/{rid}").json()
    assert red["status"] == "ROLLED_BACK"
    assert api.call("GET", f"/v1/redemptions/{body['id']}").json()["object"] == "redemption_rollback"
    again = api.call("POST", f"/v1/redemptions/{rid}/rollback")
    assert (again.status_code, again.json()["key"]) == (400, "already_rolled_back")
    summary = api.state.find_customer("cu")["summary"]["redemptions"]
    assert summary["total_rolled_back"] == 1 and summary["gift"]["redeemed_amount"] == 0
    # quantity came back: the voucher can be redeemed again
    assert redeem(api, "G", order={"amount": 100}).status_code == 200
    entries = api.call("GET", "/v1/vouchers/G/redemption").json()["redemption_entries"]
    assert [e["object"] for e in entries] == ["redemption", "redemption_rollback", "redemption"]


def test_stacked_rollback_only_through_parent() -> None:
    api = Api()
    api.voucher("A")
    api.voucher("B")
    body = redeem(api, "A", "B", order={"amount": 5000}).json()
    parent = body["parent_redemption"]["id"]
    child = body["redemptions"][0]["id"]
    for path in (
        f"/v1/redemptions/{child}/rollback",
        f"/v1/redemptions/{child}/rollbacks",
        f"/v1/redemptions/{parent}/rollback",
    ):
        r = api.call("POST", path)
        assert (r.status_code, r.json()["key"]) == (400, "invalid_redemption_parent"), path
    r = api.call("POST", f"/v1/redemptions/{parent}/rollbacks", params={"reason": "r"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert len(out["rollbacks"]) == 2 and out["parent_rollback"]["redemption"] == parent
    assert out["order"]["status"] == "CANCELED" and out["order"]["total_discount_amount"] == 0
    for code in ("A", "B"):
        assert api.state.vouchers[code]["redemption"]["redeemed_quantity"] == 0
    again = api.call("POST", f"/v1/redemptions/{parent}/rollbacks")
    assert again.json()["key"] == "already_rolled_back"


def test_rollbacks_endpoint_accepts_single_and_refuses_failed() -> None:
    api = Api()
    api.voucher("S")
    rid = redeem(api, "S").json()["redemptions"][0]["id"]
    out = api.call("POST", f"/v1/redemptions/{rid}/rollbacks").json()
    assert len(out["rollbacks"]) == 1
    api.voucher("OFF", active=False)
    failed = redeem(api, "OFF").json()["resource_id"]
    assert api.call("POST", f"/v1/redemptions/{failed}/rollback").status_code == 400
    assert api.call("POST", "/v1/redemptions/r_missing/rollback").status_code == 404
