"""Orders in the sandbox: upsert, derived amounts, statuses, customer summary, list, import
(async, 2000 limit) and export."""

from __future__ import annotations

import csv
import io
from urllib.parse import quote

ODD = "A/B?C#D%E ü"


def test_create_derives_amounts_and_upserts(api):
    r = api.post(
        "/v1/orders",
        json={
            "source_id": ODD,
            "items": [
                {"source_id": "p1", "price": 500, "quantity": 3},
                {"product_id": "prod_1", "amount": 250},
            ],
            "customer": {"source_id": "buyer", "email": "b@x.io"},
            "metadata": {"channel": "web"},
        },
    )
    assert r.status_code == 200, r.text
    o = r.json()
    assert o["id"].startswith("ord_") and o["object"] == "order" and o["status"] == "CREATED"
    assert o["amount"] == 1750 and o["total_amount"] == 1750
    assert o["items"][0]["amount"] == 1500 and o["items"][0]["object"] == "order_item"
    assert o["items"][1]["related_object"] == "product"
    cust = api.get("/v1/customers/buyer").json()
    assert o["customer_id"] == cust["id"] and o["customer"] == {"id": cust["id"], "object": "customer"}
    assert cust["summary"]["orders"]["total_count"] == 1 and cust["summary"]["orders"]["total_amount"] == 1750
    again = api.post("/v1/orders", json={"source_id": ODD, "status": "PAID", "amount": 2000}).json()
    assert again["id"] == o["id"] and again["status"] == "PAID" and again["amount"] == 2000
    assert again["updated_at"] and again["items"] == o["items"]
    assert api.get("/v1/customers/buyer").json()["summary"]["orders"]["total_amount"] == 2000
    got = api.get(f"/v1/orders/{quote(ODD, safe='')}").json()
    assert got["id"] == o["id"]
    upd = api.put(f"/v1/orders/{o['id']}", json={"status": "FULFILLED"}).json()
    assert upd["status"] == "FULFILLED"
    assert api.put("/v1/orders/nope", json={}).status_code == 404
    assert api.post("/v1/orders", json={"status": "SHIPPED"}).status_code == 400
    assert api.post("/v1/orders", json={"id": "ord_nope"}).status_code == 404


def test_list_orders(api):
    for i in range(3):
        api.post("/v1/orders", json={"source_id": f"o{i}", "amount": 100 * i})
    r = api.get("/v1/orders", params={"limit": 2}).json()
    assert r["object"] == "list" and r["data_ref"] == "orders" and r["total"] == 3
    assert [o["source_id"] for o in r["orders"]] == ["o2", "o1"]
    r = api.get("/v1/orders", params={"limit": 2, "page": 2, "order": "-created_at"}).json()
    assert [o["source_id"] for o in r["orders"]] == ["o0"]


def test_import_orders_async(api, sandbox):
    # The second row passes the request schema but fails on its own (its id names no order).
    r = api.post(
        "/v1/orders/import", json=[{"source_id": "i1", "amount": 5}, {"source_id": "i2", "id": "ord_x"}]
    )
    assert r.status_code == 200
    aa = r.json()["async_action_id"]
    assert aa.startswith("aa_")
    first = api.get(f"/v1/async-actions/{aa}").json()
    assert first["status"] in ("ENQUEUED", "IN_PROGRESS", "DONE") and first["type"] == "ORDERS.IMPORT"
    sandbox.wait_for_jobs()
    done = api.get(f"/v1/async-actions/{aa}").json()
    assert done["status"] == "DONE" and done["progress"] == 100
    assert done["result"]["done_count"] == 1 and done["result"]["failed_count"] == 1
    assert done["result"]["failed"] == [{"source_id": "i2", "reason": done["result"]["failed"][0]["reason"]}]
    assert done["result"]["failed"][0]["reason"]
    assert api.get("/v1/orders/i1").status_code == 200
    lst = api.get("/v1/async-actions", params={"limit": 1}).json()
    assert lst["data_ref"] == "async_actions" and lst["async_actions"][0]["id"] == aa
    assert "result" not in lst["async_actions"][0]
    too_many = api.post("/v1/orders/import", json=[{"amount": 1}] * 2001)
    assert too_many.status_code == 400 and too_many.json()["key"] == "invalid_payload"
    assert api.post("/v1/orders/import", json={"no": "list"}).status_code == 400
    # A row the request schema refuses (a status outside the enum) refuses the whole import.
    bad = api.post("/v1/orders/import", json=[{"source_id": "i3"}, {"source_id": "i4", "status": "BAD"}])
    assert bad.status_code == 400 and bad.json()["key"] == "invalid_payload"
    assert "[1].status" in bad.json()["details"]
    assert api.get("/v1/orders/i3").status_code == 404


def test_order_export_csv(api, sandbox):
    api.post("/v1/orders", json={"source_id": "e1", "amount": 10, "metadata": {"payment_mean": "card"}})
    exp = api.post("/v1/orders/export", json={}).json()
    assert exp["parameters"]["fields"] == ["id", "source_id", "status"]
    exp2 = api.post(
        "/v1/orders/export", json={"parameters": {"fields": ["source_id", "amount", "metadata.payment_mean"]}}
    ).json()
    sandbox.wait_for_jobs()
    url = api.get(f"/v1/exports/{exp2['id']}").json()["result"]["url"]
    text = api.session.get(url).text
    assert list(csv.reader(io.StringIO(text))) == [
        ["source_id", "amount", "metadata.payment_mean"],
        ["e1", "10", "card"],
    ]
