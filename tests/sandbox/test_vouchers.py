"""Vouchers in the sandbox: create/generate, get, update rules, enable/disable, bin, list."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

ODD = "A/B?C#D%E ü"


def q(code: str) -> str:
    return quote(code, safe="")


def disc(amount: int = 1000, **extra):
    return {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": amount}, **extra}


def test_create_with_odd_code_round_trips(api):
    r = api.post(f"/v1/vouchers/{q(ODD)}", json=disc())
    assert r.status_code == 200, r.text
    v = r.json()
    assert v["code"] == ODD and v["id"].startswith("v_") and v["object"] == "voucher"
    assert v["discount"] == {"type": "AMOUNT", "amount_off": 1000, "effect": "APPLY_TO_ORDER"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", v["created_at"])
    assert api.get(f"/v1/vouchers/{q(ODD)}").json()["id"] == v["id"]
    assert api.get(f"/v1/vouchers/{v['id']}").json()["code"] == ODD
    dup = api.post(f"/v1/vouchers/{q(ODD)}", json=disc())
    assert dup.status_code == 409
    body = dup.json()
    assert body["key"] == "duplicate_found" and body["code"] == 409
    assert body["request_id"] == dup.headers["X-Request-Id"]


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 20, "amount_limit": 500}},
        {"type": "DISCOUNT_VOUCHER", "discount": {"type": "FIXED", "fixed_amount": 900}},
        {"type": "GIFT_VOUCHER", "gift": {"amount": 5000}},
        {"type": "LOYALTY_CARD", "campaign": "Loyalty Program", "loyalty_card": {"points": 300}},
    ],
)
def test_voucher_types(api, payload):
    v = api.post("/v1/vouchers", json=payload).json()
    assert v["type"] == payload["type"]
    if v["type"] == "GIFT_VOUCHER":
        assert v["gift"]["balance"] == 5000 and v["gift"]["amount"] == 5000
    if v["type"] == "LOYALTY_CARD":
        assert v["loyalty_card"]["balance"] == 300


def test_generated_codes_follow_code_config(api):
    v = api.post("/v1/vouchers", json=disc(code_config={"pattern": "PRE-####", "charset": "XY"})).json()
    assert re.fullmatch(r"PRE-[XY]{4}", v["code"])
    v = api.post(
        "/v1/vouchers",
        json=disc(code_config={"length": 5, "charset": "0123456789", "prefix": "A", "postfix": "Z"}),
    ).json()
    assert re.fullmatch(r"A\d{5}Z", v["code"])
    v = api.post("/v1/vouchers", json=disc()).json()
    assert len(v["code"]) == 8
    v = api.post("/v1/vouchers", json=disc(code="GIVEN")).json()
    assert v["code"] == "GIVEN"


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"type": "NOPE"},
        {"type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 120}},
        {"type": "GIFT_VOUCHER", "gift": {"amount": -1}},
        disc(start_date="yesterday"),
    ],
)
def test_invalid_payloads(api, payload):
    r = api.post("/v1/vouchers/BAD", json=payload)
    assert r.status_code == 400 and r.json()["key"] == "invalid_payload"


def test_invalid_json(api):
    r = api.post("/v1/vouchers/BAD", data=b"{nope", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["key"] == "invalid_payload"


def test_update_rules(api):
    api.post("/v1/vouchers/UPD", json=disc(metadata={"a": 1}))
    r = api.put("/v1/vouchers/UPD", json={"metadata": {"b": 2}, "category": "vip", "code": "IGNORED"})
    v = r.json()
    assert r.status_code == 200 and v["metadata"] == {"b": 2} and v["code"] == "UPD"
    assert v["category"] == "vip" and v["category_id"].startswith("cat_") and v["updated_at"]
    # update-voucher: fields it does not list are "silently skipped"; the type never changes.
    r = api.put("/v1/vouchers/UPD", json={"type": "GIFT_VOUCHER"})
    assert r.status_code == 200 and r.json()["type"] == "DISCOUNT_VOUCHER"
    assert api.put("/v1/vouchers/MISSING", json={}).status_code == 404


def test_enable_disable(api):
    api.post("/v1/vouchers/TOGGLE", json=disc())
    assert api.post("/v1/vouchers/TOGGLE/disable").json()["active"] is False
    assert api.get("/v1/vouchers/TOGGLE").json()["active"] is False
    assert api.post("/v1/vouchers/TOGGLE/enable").json()["active"] is True


def test_delete_to_bin_and_force(api):
    api.post(f"/v1/vouchers/{q(ODD)}", json=disc())
    r = api.delete(f"/v1/vouchers/{q(ODD)}")
    assert r.status_code == 204 and r.content == b""
    assert api.get(f"/v1/vouchers/{q(ODD)}").status_code == 404
    # binned: the code stays taken
    assert api.post(f"/v1/vouchers/{q(ODD)}", json=disc()).status_code == 409
    assert api.delete(f"/v1/vouchers/{q(ODD)}", params={"force": "true"}).status_code == 204
    assert api.post(f"/v1/vouchers/{q(ODD)}", json=disc()).status_code == 200
    assert api.delete(f"/v1/vouchers/{q(ODD)}", params={"force": "true"}).status_code == 204
    assert api.post(f"/v1/vouchers/{q(ODD)}", json=disc()).status_code == 200
    assert api.delete("/v1/vouchers/NOPE").status_code == 404


def test_list_filters_order_paging(api, sandbox):
    times = iter([f"2024-01-0{d}T10:00:00+00:00" for d in range(1, 10)])
    from datetime import datetime

    sandbox.state.clock = lambda: datetime.fromisoformat(next(times))
    for i, code in enumerate(["C1", "C2", "C3", "C4"]):
        api.post(f"/v1/vouchers/{code}", json=disc(category="odd" if i % 2 else "even"))
    r = api.get("/v1/vouchers", params={"limit": 2, "page": 1}).json()
    assert r["object"] == "list" and r["data_ref"] == "vouchers" and r["total"] == 4
    assert [v["code"] for v in r["vouchers"]] == ["C4", "C3"]
    r = api.get("/v1/vouchers", params={"limit": 2, "page": 2, "order": "code"}).json()
    assert [v["code"] for v in r["vouchers"]] == ["C3", "C4"]
    r = api.get("/v1/vouchers", params={"category": "odd"}).json()
    assert {v["code"] for v in r["vouchers"]} == {"C2", "C4"}
    r = api.get("/v1/vouchers", params={"created_at[after]": "2024-01-02T12:00:00Z"}).json()
    assert {v["code"] for v in r["vouchers"]} == {"C3", "C4"}
    r = api.get(
        "/v1/vouchers?filters[code][conditions][$in][0]=C1&filters[code][conditions][$in][1]=C3"
    ).json()
    assert {v["code"] for v in r["vouchers"]} == {"C1", "C3"}
    ids = [api.get("/v1/vouchers/C1").json()["id"], api.get("/v1/vouchers/C2").json()["id"]]
    r = api.get("/v1/vouchers", params={"ids": ids}).json()
    assert {v["code"] for v in r["vouchers"]} == {"C1", "C2"}
    assert api.get("/v1/vouchers", params={"page": 100}).status_code == 400
    assert api.get("/v1/vouchers", params={"limit": 101}).status_code == 400
    assert api.get("/v1/vouchers", params={"order": "nope"}).status_code == 400


def test_auth_and_unknown_route(api):
    r = api.session.get(api.base + "/v1/vouchers", headers={"X-App-Token": "wrong"})
    assert r.status_code == 401 and r.json()["key"] == "unauthorized"
    assert api.get("/v1/nothing-here").status_code == 404


@pytest.mark.parametrize(
    "config",
    [{"length": "abc"}, {"charset": ["A", "B"], "length": 3}, {"length": 3.7}, {"pattern": 5}, {"prefix": 7}],
    ids=["length-text", "charset-list", "length-float", "pattern-number", "prefix-number"],
)
def test_create_voucher_checks_a_code_config_as_campaigns_do(api, config):
    """create-voucher had a generator of its own: ``length: "abc"`` was a 500, a list charset
    made codes of ``str(list)``'s characters, a float length was truncated."""
    body = {
        "type": "DISCOUNT_VOUCHER",
        "discount": {"type": "PERCENT", "percent_off": 5},
        "code_config": config,
    }
    r = api.post("/v1/vouchers", json=body)
    assert r.status_code == 400 and r.json()["key"] == "invalid_payload", r.text


def test_create_voucher_draws_its_code_from_the_config():
    from tests.support.sandbox import Api

    api = Api()
    body = {
        "type": "DISCOUNT_VOUCHER",
        "discount": {"type": "PERCENT", "percent_off": 5},
        "code_config": {"pattern": "AB-##", "charset": "XY", "prefix": "P-"},
    }
    codes = {api.post("/v1/vouchers", json=body).json()["code"] for _ in range(4)}
    assert codes == {"P-AB-XX", "P-AB-XY", "P-AB-YX", "P-AB-YY"}
    assert api.post("/v1/vouchers", json=body).json()["key"] == "invalid_payload"  # the space is used up
