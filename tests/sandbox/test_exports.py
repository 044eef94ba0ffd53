"""The generic exports: create-export, list-exports, delete-export (SCOPE-2.md's exports).

What is asserted comes from create-export's description in the vendored spec (its "Defaults"
table and the field tables per object), the ``Export<Object>Fields`` / ``...Order`` /
``...Filters`` schemas and ``FiltersCondition``; every response is also validated against the
spec by the suite-wide hook (tests/conftest.py).
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from django_voucherify import client
from django_voucherify.sandbox.app import Sandbox
from django_voucherify.sandbox.openapi import voucherify_spec
from tests.support.sandbox import Api

KINDS = ("voucher", "redemption", "customer", "order", "voucher_transactions")


def export(api: Api, kind: str, parameters: dict[str, Any] | None = None) -> list[list[str]]:
    """Create an export, wait for it, download it: the CSV's rows, header first."""
    body: dict[str, Any] = {"exported_object": kind}
    if parameters is not None:
        body["parameters"] = parameters
    resp = api.post("/v1/exports", json=body)
    assert resp.status_code == 200, resp.text
    created = resp.json()
    assert created["status"] == "SCHEDULED" and created["exported_object"] == kind
    api.sandbox.wait_for_jobs()
    done = api.get(f"/v1/exports/{created['id']}").json()
    assert done["status"] == "DONE"
    return list(csv.reader(io.StringIO(api.session.get(done["result"]["url"]).text)))


def refused(api: Api, body: dict[str, Any]) -> str:
    resp = api.post("/v1/exports", json=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["key"] == "invalid_payload"
    return str(resp.json()["details"])


def _defaults_table() -> dict[str, list[str]]:
    """create-export's "Defaults" table, read from the vendored spec's description."""
    text = voucherify_spec()["paths"]["/v1/exports"]["post"]["description"]
    table = text.split("## Defaults", 1)[1].split("<Note>", 1)[0]
    rows: dict[str, list[str]] = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and "`" in cells[1]:
            rows[cells[0]] = [f.strip(" `") for f in cells[1].split(",")]
    return rows


def _shop(api: Api) -> None:
    holder = api.post("/v1/customers", json={"source_id": "ann", "name": "Ann", "metadata": {"vip": True}})
    api.post("/v1/customers", json={"source_id": "bob", "name": "Bob", "address": {"city": "Rome"}})
    api.post(
        "/v1/vouchers/SUMMER",
        json={
            "type": "DISCOUNT_VOUCHER",
            "category": "summer",
            "discount": {"type": "PERCENT", "percent_off": 15, "amount_limit": 900},
            "metadata": {"channel": "mail"},
        },
    )
    api.post("/v1/vouchers/GIFT", json={"type": "GIFT_VOUCHER", "gift": {"amount": 5000}})
    api.post(
        "/v1/vouchers/CARD",
        json={
            "type": "LOYALTY_CARD",
            "campaign": "Club",
            "holder_id": holder.json()["id"],
            "loyalty_card": {"points": 70},
        },
    )
    api.post("/v1/vouchers/GIFT/balance", json={"amount": 500, "reason": "bonus"})
    api.post(
        "/v1/redemptions",
        json={
            "redeemables": [{"object": "voucher", "id": "SUMMER"}],
            "customer": {"source_id": "ann"},
            "order": {"source_id": "o-1", "amount": 2000, "metadata": {"shop": "web"}},
        },
    )


@pytest.mark.parametrize("kind", KINDS)
def test_default_fields_follow_the_spec_table(api: Api, kind: str) -> None:
    _shop(api)
    expected = _defaults_table()[kind]
    if kind == "voucher_transactions":
        expected.remove("status")  # not one of ExportVoucherTransactionsFields (docs/sandbox.md)
    rows = export(api, kind)
    assert rows[0] == expected
    assert len(rows) > 1


def test_voucher_fields_as_documented(api: Api) -> None:
    _shop(api)
    fields = ["code", "voucher_type", "value", "discount_type", "discount_amount_limit", "category"]
    fields += ["gift_balance", "loyalty_balance", "redemption_count", "campaign", "customer_source_id"]
    fields += ["metadata", "active"]
    rows = export(api, "voucher", {"fields": fields, "order": "code"})
    by_code = {row[0]: dict(zip(fields, row, strict=True)) for row in rows[1:]}
    assert list(by_code) == ["CARD", "GIFT", "SUMMER"]  # order=code
    summer = by_code["SUMMER"]
    assert (summer["voucher_type"], summer["value"], summer["discount_type"]) == (
        "DISCOUNT_VOUCHER",
        "15",
        "PERCENT",
    )
    assert summer["discount_amount_limit"] == "900" and summer["redemption_count"] == "1"
    assert summer["metadata"] == '{"channel":"mail"}' and summer["active"] == "true"
    # GIFT_VOUCHER: value is the amount left to spend; LOYALTY_CARD: the usable points.
    assert by_code["GIFT"]["value"] == by_code["GIFT"]["gift_balance"] == "5500"
    card = by_code["CARD"]
    assert card["value"] == card["loyalty_balance"] == "70"
    assert card["campaign"] == "Club" and card["customer_source_id"] == "ann"


def test_redemption_and_customer_fields(api: Api) -> None:
    _shop(api)
    fields = ["voucher_code", "customer_source_id", "customer_name", "order_amount", "result", "object"]
    rows = export(api, "redemption", {"fields": fields})
    assert rows[1:] == [["SUMMER", "ann", "Ann", "2000", "SUCCESS", "redemption"]]
    fields = ["source_id", "address_city", "redemptions_total_succeeded", "orders_total_count"]
    rows = export(api, "customer", {"fields": fields, "order": "source_id"})
    assert rows[1:] == [["ann", "", "1", "1"], ["bob", "Rome", "0", "0"]]


def test_order_metadata_fields(api: Api) -> None:
    """Orders export metadata as ``metadata.X`` (create-export's Orders table)."""
    _shop(api)
    rows = export(api, "order", {"fields": ["source_id", "amount", "metadata.shop"]})
    assert rows == [["source_id", "amount", "metadata.shop"], ["o-1", "2000", "web"]]


@pytest.mark.parametrize(
    ("filters", "codes"),
    [
        ({"category": {"conditions": {"$in": ["summer"]}}}, ["SUMMER"]),
        ({"metadata.channel": {"conditions": {"$is": "mail"}}}, ["SUMMER"]),
        ({"voucher_type": {"conditions": {"$is_not": ["DISCOUNT_VOUCHER"]}}}, ["CARD", "GIFT"]),
        ({"campaign": {"conditions": {"$has_value": True}}}, ["CARD"]),
        ({"code": {"conditions": {"$starts_with": "G"}}}, ["GIFT"]),
        ({"redemption.redeemed_quantity": {"conditions": {"$more_than": 0}}}, ["SUMMER"]),
        (
            {
                "junction": "or",
                "code": {"conditions": {"$in": ["CARD"]}},
                "category": {"conditions": {"$is": "summer"}},
            },
            ["CARD", "SUMMER"],
        ),
        (
            {
                "junction": "and",
                "code": {"conditions": {"$in": ["CARD"]}},
                "category": {"conditions": {"$is": "summer"}},
            },
            [],
        ),
        ({"created_at": {"conditions": {"$after": "2000-01-01T00:00:00Z"}}}, ["CARD", "GIFT", "SUMMER"]),
        ({"created_at": {"conditions": {"$before": "2000-01-01T00:00:00Z"}}}, []),
    ],
)
def test_voucher_filters(api: Api, filters: dict[str, Any], codes: list[str]) -> None:
    _shop(api)
    rows = export(api, "voucher", {"fields": ["code"], "filters": filters, "order": "code"})
    assert [r[0] for r in rows[1:]] == codes


def test_customer_filters_on_documented_prefixes(api: Api) -> None:
    _shop(api)
    rows = export(api, "customer", {"filters": {"address.city": {"conditions": {"$is": "Rome"}}}})
    assert rows[1:] == [["Bob", "bob"]]
    rows = export(api, "customer", {"filters": {"metadata.vip": {"conditions": {"$is": True}}}})
    assert rows[1:] == [["Ann", "ann"]]


def test_transactions_filtered_by_voucher(api: Api) -> None:
    _shop(api)
    gift_id = api.get("/v1/vouchers/GIFT").json()["id"]
    rows = export(
        api,
        "voucher_transactions",
        {
            "fields": ["voucher_id", "type", "amount"],
            "filters": {"voucher_id": {"conditions": {"$in": [gift_id]}}},
        },
    )
    assert rows[1:] == [[gift_id, "CREDITS_ADDITION", "500"]]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"exported_object": "publication"}, "exported_object"),
        ({"exported_object": "sku"}, "exported_object"),
        ({}, "exported_object"),
        # Refused by the request schema check before the export's own checks (its wording).
        ({"exported_object": "voucher", "parameters": []}, "parameters: [] is not of type 'object'"),
        ({"exported_object": "voucher", "parameters": {"fields": ["code", "nope"]}}, "parameters.fields"),
        (
            {"exported_object": "voucher", "parameters": {"fields": "code"}},
            "parameters.fields: 'code' is not of type",
        ),
        ({"exported_object": "voucher", "parameters": {"fields": ["metadata.x"]}}, "metadata.x"),
        ({"exported_object": "customer", "parameters": {"order": "-status"}}, "parameters.order"),
        (
            {"exported_object": "order", "parameters": {"filters": {"email": {"conditions": {"$is": 1}}}}},
            "email",
        ),
        (
            {"exported_object": "order", "parameters": {"filters": {"status": {"conditions": {"$near": 1}}}}},
            "$near",
        ),
        ({"exported_object": "order", "parameters": {"filters": {"status": {"$is": "PAID"}}}}, "conditions"),
        ({"exported_object": "order", "parameters": {"filters": {"junction": "xor"}}}, "junction"),
    ],
)
def test_bad_parameters_are_refused(api: Api, body: dict[str, Any], reason: str) -> None:
    assert reason in refused(api, body)
    assert api.state.exports == {}


def test_list_exports_pages_and_orders(api: Api) -> None:
    ids = [api.post("/v1/exports", json={"exported_object": "customer"}).json()["id"] for _ in range(3)]
    listed = api.get("/v1/exports", params={"limit": 2}).json()
    assert (listed["object"], listed["data_ref"], listed["total"]) == ("list", "exports", 3)
    assert [e["id"] for e in listed["exports"]] == ids[::-1][:2]  # newest first by default
    page2 = api.get("/v1/exports", params={"limit": 2, "page": 2}).json()
    assert [e["id"] for e in page2["exports"]] == [ids[0]]
    oldest_first = api.get("/v1/exports", params={"order": "created_at"}).json()
    assert [e["id"] for e in oldest_first["exports"]] == ids
    assert api.get("/v1/exports", params={"order": "code"}).status_code == 400
    assert api.get("/v1/exports", params={"limit": 0}).status_code == 400


def test_delete_export_removes_it_and_its_file(api: Api) -> None:
    created = api.post("/v1/exports", json={"exported_object": "customer"}).json()
    api.sandbox.wait_for_jobs()
    url = api.get(f"/v1/exports/{created['id']}").json()["result"]["url"]
    assert api.session.get(url).status_code == 200
    assert api.delete(f"/v1/exports/{created['id']}").status_code == 204
    assert api.get(f"/v1/exports/{created['id']}").status_code == 404
    assert api.session.get(url).status_code == 404  # the download link died with it
    again = api.delete(f"/v1/exports/{created['id']}")
    assert again.status_code == 404 and again.json()["key"] == "not_found"
    assert api.get("/v1/exports").json()["total"] == 0


def test_deleting_a_scheduled_export_cancels_its_job(api: Api) -> None:
    api.state.job_delay = 0.3  # the job is still queued when the deletion arrives
    created = api.post("/v1/exports", json={"exported_object": "customer"}).json()
    assert created["id"] in api.state.extra["jobs"]
    assert api.delete(f"/v1/exports/{created['id']}").status_code == 204
    assert created["id"] not in api.state.extra["jobs"]
    api.sandbox.wait_for_jobs()
    assert created["id"] not in api.state.transient.get("export_files", {})  # never written
    assert created["id"] not in api.state.exports


def test_client_methods_against_the_sandbox(voucherify_sandbox: Sandbox) -> None:
    client.customers.create({"source_id": "c-1", "name": "Cee"})
    created = client.exports.create("customer", {"fields": ["source_id", "name"]})
    voucherify_sandbox.wait_for_jobs()
    done = client.exports.get(created["id"])
    token = done["result"]["url"].split("token=", 1)[1]  # type: ignore[index]
    assert client.exports.download(created["id"], token) == b"source_id,name\nc-1,Cee\n"
    assert [e["id"] for e in client.exports.list()["exports"]] == [created["id"]]
    client.exports.delete(created["id"])
    assert client.exports.list()["total"] == 0


metadata_values = st.sampled_from(["a", "b", "c", None])


@settings(max_examples=40, deadline=None)
@given(
    tags=st.lists(metadata_values, min_size=0, max_size=8),
    wanted=st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3),
    negate=st.booleans(),
)
def test_in_and_not_in_pick_exactly_the_matching_vouchers(
    tags: list[str | None], wanted: list[str], negate: bool
) -> None:
    """``$in`` keeps the vouchers whose ``metadata.tag`` is listed, ``$not_in`` the others
    (a voucher without the key included), whatever the mix."""
    api = Api(Sandbox())
    for i, tag in enumerate(tags):
        metadata = {} if tag is None else {"tag": tag}
        api.voucher(f"V{i:02d}", metadata=metadata)
    op = "$not_in" if negate else "$in"
    rows = export(
        api,
        "voucher",
        {"fields": ["code"], "order": "code", "filters": {"metadata.tag": {"conditions": {op: wanted}}}},
    )
    expected = [f"V{i:02d}" for i, tag in enumerate(tags) if (tag in wanted) != negate]
    assert [r[0] for r in rows[1:]] == expected
