"""Customers in the sandbox: upsert, id/source_id addressing, deletion, lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

ODD = "A/B?C#D%E ü"


def test_upsert_by_source_id_and_odd_ids(api):
    r = api.post("/v1/customers", json={"source_id": ODD, "email": "a@x.io", "metadata": {"k": 1}})
    assert r.status_code == 200
    c = r.json()
    assert c["id"].startswith("cust_") and c["object"] == "customer" and c["updated_at"] is None
    assert c["summary"]["orders"]["total_count"] == 0
    again = api.post("/v1/customers", json={"source_id": ODD, "name": "Ann"}).json()
    assert again["id"] == c["id"] and again["name"] == "Ann" and again["email"] == "a@x.io"
    assert again["updated_at"]
    by_source = api.get(f"/v1/customers/{quote(ODD, safe='')}").json()
    assert by_source["id"] == c["id"]
    upd = api.put(f"/v1/customers/{c['id']}", json={"address": {"city": "Oslo"}}).json()
    assert upd["address"]["city"] == "Oslo" and upd["source_id"] == ODD
    assert api.get("/v1/customers/cust_missing").status_code == 404
    assert api.post("/v1/customers", json={"email": 5}).status_code == 400
    acts = api.get(f"/v1/customers/{c['id']}/activity").json()
    assert [a["type"] for a in acts["data"]] == ["customer.updated", "customer.updated", "customer.created"]
    assert acts["has_more"] is False


def test_delete_and_permanent_deletion(api):
    c = api.post("/v1/customers", json={"source_id": "del-me"}).json()
    assert api.delete("/v1/customers/del-me").status_code == 204
    assert api.get(f"/v1/customers/{c['id']}").status_code == 404
    c = api.post("/v1/customers", json={"source_id": "forget-me"}).json()
    r = api.post("/v1/customers/forget-me/permanent-deletion").json()
    assert r["related_object_id"] == c["id"] and r["status"] == "DONE"
    assert r["object"] == "pernament_deletion" and r["data_json"]["customer"] == 1
    assert api.get("/v1/customers/forget-me").status_code == 404


def test_a_deleted_id_is_not_found_while_its_source_id_names_the_customer_made_since(api):
    """What the outbox's customer deletion relies on after Voucherify's dashboard deleted a
    customer and made another with the same source id: the old id answers 404 ``not_found`` to
    DELETE and to the permanent deletion, and ``GET`` by source id finds the new customer."""
    old = api.post("/v1/customers", json={"source_id": "made-again"}).json()
    assert api.delete(f"/v1/customers/{old['id']}").status_code == 204
    new = api.post("/v1/customers", json={"source_id": "made-again", "name": "New"}).json()
    assert new["id"] != old["id"]
    for method, path in (("DELETE", "/v1/customers/{}"), ("POST", "/v1/customers/{}/permanent-deletion")):
        r = api.call(method, path.format(old["id"]))
        assert r.status_code == 404 and (r.json()["code"], r.json()["key"]) == (404, "not_found")
    found = api.get("/v1/customers/made-again").json()
    assert (found["id"], found["source_id"], found["name"]) == (new["id"], "made-again", "New")


def test_list_filters_paging_and_cursor(api, sandbox):
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    clock = iter(t0 + timedelta(hours=i) for i in range(100))
    sandbox.state.clock = lambda: next(clock)
    for i in range(5):
        api.post(
            "/v1/customers",
            json={
                "source_id": f"s{i}",
                "email": f"{i % 2}@x.io",
                "address": {"city": "Oslo" if i < 2 else "Rome"},
            },
        )
    r = api.get("/v1/customers", params={"limit": 2}).json()
    assert r["data_ref"] == "customers" and r["total"] == 5 and r["has_more"] is True
    assert [c["source_id"] for c in r["customers"]] == ["s4", "s3"]
    r = api.get(
        "/v1/customers", params={"limit": 2, "starting_after": r["customers"][-1]["created_at"]}
    ).json()
    assert [c["source_id"] for c in r["customers"]] == ["s2", "s1"]
    s2 = api.get("/v1/customers/s2").json()["created_at"]
    r = api.get("/v1/customers", params={"order": "created_at", "starting_after": s2}).json()
    assert [c["source_id"] for c in r["customers"]] == ["s3", "s4"]
    assert api.get("/v1/customers", params={"city": "Oslo"}).json()["total"] == 2
    assert api.get("/v1/customers", params={"email": "1@x.io"}).json()["total"] == 2
    assert api.get("/v1/customers", params={"created_at[before]": s2}).json()["total"] == 2
    assert api.get("/v1/customers", params={"page": 100}).status_code == 400


def test_updated_at_cursor_keeps_customers_never_updated(api, sandbox):
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    clock = iter(t0 + timedelta(hours=i) for i in range(100))
    sandbox.state.clock = lambda: next(clock)
    for i in range(3):
        api.post("/v1/customers", json={"source_id": f"u{i}"})
    api.put("/v1/customers/u0", json={"name": "changed last"})  # u0: updated after u1, u2 exist
    assert api.get("/v1/customers/u1").json()["updated_at"] is None
    before_all = (t0 - timedelta(hours=1)).isoformat()
    walked: list[str] = []
    cursor = before_all
    while True:
        page = api.get(
            "/v1/customers", params={"order": "updated_at", "starting_after": cursor, "limit": 1}
        ).json()["customers"]
        if not page:
            break
        walked.append(page[0]["source_id"])
        cursor = page[0]["updated_at"] or page[0]["created_at"]
    assert walked == ["u1", "u2", "u0"]  # never-updated customers count from their creation


def test_segments_and_redeemables(api):
    c = api.post("/v1/customers", json={"source_id": "holder"}).json()
    api.post(
        "/v1/vouchers/HELD", json={"type": "GIFT_VOUCHER", "gift": {"amount": 100}, "holder_id": c["id"]}
    )
    seg = api.get("/v1/customers/holder/segments").json()
    assert seg == {"object": "list", "data_ref": "data", "data": [], "total": 0}
    red = api.get("/v1/customers/holder/redeemables").json()
    assert red["total"] == 1 and red["data"][0]["redeemable"]["voucher"]["code"] == "HELD"
    assert red["data"][0]["redeemable"]["status"] == "ACTIVE"
    assert red["data"][0]["voucher_type"] == "GIFT_VOUCHER"
