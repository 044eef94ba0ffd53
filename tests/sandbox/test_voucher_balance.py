"""Gift/loyalty balances, transactions (cursor paging) and the transactions export."""

from __future__ import annotations

import csv
import io

import requests


def test_balance_add_remove_and_transactions(api, sandbox):
    api.post("/v1/vouchers/GIFT", json={"type": "GIFT_VOUCHER", "gift": {"amount": 1000}})
    r = api.post("/v1/vouchers/GIFT/balance", json={"amount": 500, "reason": "top-up"})
    assert r.status_code == 200, r.text
    b = r.json()
    assert b == {
        "amount": 500,
        "total": 1500,
        "balance": 1500,
        "type": "gift_voucher",
        "operation_type": "MANUAL",
        "object": "balance",
        "related_object": {"type": "voucher", "id": b["related_object"]["id"]},
    }
    assert api.post("/v1/vouchers/GIFT/balance", json={"amount": -1600}).json()["key"] == "not_enough_balance"
    removed = api.post("/v1/vouchers/GIFT/balance", json={"amount": -200}).json()
    assert (removed["amount"], removed["total"], removed["balance"]) == (-200, 1500, 1300)
    assert api.get("/v1/vouchers/GIFT").json()["gift"] == {
        "amount": 1500,  # income over the card's life: a removal does not lower it
        "subtracted_amount": 200,
        "balance": 1300,
        "effect": "APPLY_TO_ORDER",
    }
    for _ in range(3):
        api.post("/v1/vouchers/GIFT/balance", json={"amount": 1})
    page = api.get("/v1/vouchers/GIFT/transactions", params={"limit": 2}).json()
    assert page["object"] == "list" and page["data_ref"] == "data" and page["has_more"] is True
    assert [t["type"] for t in page["data"]] == ["CREDITS_ADDITION", "CREDITS_ADDITION"]
    seen = [t["id"] for t in page["data"]]
    while page["has_more"]:
        page = api.get(
            "/v1/vouchers/GIFT/transactions",
            params={"limit": 2, "starting_after_id": page["more_starting_after"]},
        ).json()
        seen += [t["id"] for t in page["data"]]
    assert len(seen) == len(set(seen)) == 5
    asc = api.get("/v1/vouchers/GIFT/transactions", params={"order": "id", "limit": 100}).json()["data"]
    assert [t["type"] for t in asc[:2]] == ["CREDITS_ADDITION", "CREDITS_REMOVAL"]
    assert asc[1]["details"]["balance"]["amount"] == -200


def test_loyalty_points_and_discount_has_no_balance(api):
    holder = api.post("/v1/customers", json={"source_id": "lc-holder"}).json()["id"]
    card = {
        "type": "LOYALTY_CARD",
        "campaign": "Loyalty",
        "holder_id": holder,
        "loyalty_card": {"points": 10},
    }
    api.post("/v1/vouchers/LC", json=card)
    b = api.post("/v1/vouchers/LC/balance", json={"amount": 5}).json()
    assert b["type"] == "loyalty_card" and b["balance"] == 15
    tx = api.get("/v1/vouchers/LC/transactions").json()["data"][0]
    assert tx["type"] == "POINTS_ADDITION"
    b = api.post("/v1/vouchers/LC/balance", json={"amount": -4}).json()
    assert (b["total"], b["balance"]) == (15, 11)
    card = api.get("/v1/vouchers/LC").json()["loyalty_card"]
    assert (card["points"], card["subtracted_points"], card["balance"]) == (15, 4, 11)
    api.post(
        "/v1/vouchers/D", json={"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1}}
    )
    assert api.post("/v1/vouchers/D/balance", json={"amount": 5}).status_code == 400
    assert api.post("/v1/vouchers/NOPE/balance", json={"amount": 5}).status_code == 404


def test_transactions_export_scheduled_then_done_with_csv(api, sandbox):
    api.post("/v1/vouchers/G2", json={"type": "GIFT_VOUCHER", "gift": {"amount": 100}})
    api.post("/v1/vouchers/G2/balance", json={"amount": 50, "reason": 'why, "quoted"'})
    exp = api.post(
        "/v1/vouchers/G2/transactions/export",
        json={"parameters": {"fields": ["id", "type", "amount", "balance", "reason"]}},
    ).json()
    assert exp["status"] == "SCHEDULED" and exp["id"].startswith("exp_") and exp["result"] is None
    sandbox.wait_for_jobs()
    done = api.get(f"/v1/exports/{exp['id']}").json()
    assert done["status"] == "DONE"
    url = done["result"]["url"]
    assert url.startswith("https://download.voucherify.io/v1/exports/")
    # downloadable without API keys (token-authorised), through the same adapter
    s = requests.Session()
    sandbox.mount(s)
    r = s.get(url)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["id", "type", "amount", "balance", "reason"]
    assert rows[1][1:] == ["CREDITS_ADDITION", "50", "150", 'why, "quoted"']
    bad = s.get(url.split("?")[0] + "?token=wrong")
    assert bad.status_code == 404
    assert api.get("/v1/exports/exp_nope").status_code == 404


def test_export_files_stay_in_memory_and_bounded(api, sandbox, monkeypatch):
    from django_voucherify.sandbox.handlers import exports
    from django_voucherify.sandbox.state import SandboxState

    monkeypatch.setattr(exports, "MAX_EXPORT_FILES", 2)
    api.post("/v1/vouchers/G3", json={"type": "GIFT_VOUCHER", "gift": {"amount": 100}})
    ids = []
    for _ in range(3):
        ids.append(api.post("/v1/vouchers/G3/transactions/export", json={}).json()["id"])
        sandbox.wait_for_jobs()
    urls = [api.get(f"/v1/exports/{i}").json()["result"]["url"] for i in ids]
    assert [api.session.get(u).status_code for u in urls] == [404, 200, 200]  # oldest evicted
    dumped = sandbox.state.to_json()
    assert "CREDITS_ADDITION" not in dumped and "export_files" not in dumped  # no CSV in --data
    reloaded = SandboxState.from_json(dumped)
    assert set(reloaded.exports) == set(ids) and reloaded.transient == {}


def test_concurrent_removals_never_go_negative(api, sandbox):
    from concurrent.futures import ThreadPoolExecutor

    api.post("/v1/vouchers/RACE", json={"type": "GIFT_VOUCHER", "gift": {"amount": 1000}})

    def remove(_):
        s = requests.Session()
        sandbox.mount(s)
        r = s.post(
            "https://api.voucherify.io/v1/vouchers/RACE/balance",
            json={"amount": -100},
            headers={"X-App-Id": sandbox.app_id, "X-App-Token": sandbox.app_token},
        )
        return r.status_code

    with ThreadPoolExecutor(32) as pool:
        codes = list(pool.map(remove, range(32)))
    assert codes.count(200) == 10 and codes.count(400) == 22
    assert api.get("/v1/vouchers/RACE").json()["gift"]["balance"] == 0
