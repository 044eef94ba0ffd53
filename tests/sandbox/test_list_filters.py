"""Issue 14: list filters the sandbox ignored, asserted as the spec documents them.

* ``GET /v1/redemptions`` (operation ``list-redemptions``) takes ``filters`` typed
  ``ParameterFiltersListRedemptions``: ``filters[<field>][conditions][$op]`` on voucher_code,
  result, customer_id, failure_code, object, ... and ``filters[junction]`` (``Junction``:
  and/or). Its ``order`` enum (``ParameterOrderListRedemptions``) also has id, voucher_code,
  tracking_id and customer_id.
* ``GET /v1/vouchers`` (operation ``list-vouchers``) takes ``filters`` with a ``junction``
  and per-field conditions (the spec's ``Junction`` / ``FilterConditionsString``), including
  the plural fields such as ``campaign_ids``.
* Cursor lists (e.g. ``list-voucher-transactions``) type ``more_starting_after`` as a string:
  it is omitted, not null, on the last page.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.sandbox import Api, redeem


def codes(body: dict) -> list[str]:
    return sorted(v["code"] for v in body["vouchers"])


def test_list_vouchers_junction_or_matches_any_condition(api: Api) -> None:
    """list-vouchers: ``filters[junction]=OR`` keeps a voucher matching either field."""
    api.voucher("A", category="x")
    api.voucher("B", category="y")
    api.voucher("C", category="z")
    both = {"filters[code][conditions][$is]": "A", "filters[category][conditions][$is]": "y"}
    r = api.get("/v1/vouchers", params={**both, "filters[junction]": "OR"})
    assert r.status_code == 200, r.text
    assert codes(r.json()) == ["A", "B"] and r.json()["total"] == 2
    assert codes(api.get("/v1/vouchers", params={**both, "filters[junction]": "and"}).json()) == []
    assert codes(api.get("/v1/vouchers", params=both).json()) == []  # AND by default
    bad = api.get("/v1/vouchers", params={**both, "filters[junction]": "xor"})
    assert bad.status_code == 400 and "junction" in bad.json()["details"]


def test_list_vouchers_campaign_ids_filter(api: Api) -> None:
    """list-vouchers: ``filters[campaign_ids][conditions][$in]`` keeps the vouchers of those
    campaigns (a voucher's ``campaign_id``); standalone vouchers have none."""
    api.voucher("A", campaign="Summer", campaign_id="camp_1")
    api.voucher("B", campaign="Winter", campaign_id="camp_2")
    api.voucher("C")
    r = api.get("/v1/vouchers", params={"filters[campaign_ids][conditions][$in][0]": "camp_1"})
    assert codes(r.json()) == ["A"]
    two = {
        "filters[campaign_ids][conditions][$in][0]": "camp_1",
        "filters[campaign_ids][conditions][$in][1]": "camp_2",
    }
    assert codes(api.get("/v1/vouchers", params=two).json()) == ["A", "B"]
    unknown = {"filters[campaign_ids][conditions][$is_unknown]": ""}
    assert codes(api.get("/v1/vouchers", params=unknown).json()) == ["C"]
    bad = api.get("/v1/vouchers", params={"filters[campaign_ids][conditions][$like]": "camp"})
    assert bad.status_code == 400 and "$like" in bad.json()["details"]


def seed_redemptions(api: Api) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    clock = [t0]
    api.state.clock = lambda: clock[0]
    api.voucher("Q", redemption={"quantity": 2, "redeemed_quantity": 0})
    api.voucher("R")
    for i, code in enumerate(["Q", "Q", "Q", "R"]):  # the third Q fails: quantity exceeded
        clock[0] = t0 + timedelta(minutes=i)
        redeem(api, code, customer={"source_id": f"c{i}"})


def test_list_redemptions_honours_filters(api: Api) -> None:
    """list-redemptions: ``filters[result]``, ``filters[voucher_code]``, junction."""
    seed_redemptions(api)
    failed = api.get("/v1/redemptions", params={"filters[result][conditions][$is]": "FAILURE"}).json()
    assert failed["total"] == 1 and failed["redemptions"][0]["result"] == "FAILURE"
    assert failed["redemptions"][0]["failure_code"] == "quantity_exceeded"
    on_q = api.get("/v1/redemptions", params={"filters[voucher_code][conditions][$is]": "Q"}).json()
    assert on_q["total"] == 3
    q_ok = {
        "filters[voucher_code][conditions][$is]": "Q",
        "filters[result][conditions][$is]": "SUCCESS",
    }
    assert api.get("/v1/redemptions", params=q_ok).json()["total"] == 2
    either = {**q_ok, "filters[junction]": "or"}
    assert api.get("/v1/redemptions", params=either).json()["total"] == 4
    code = api.get("/v1/redemptions", params={"filters[failure_code][conditions][$is]": "quantity_exceeded"})
    assert code.json()["total"] == 1
    bad = api.get("/v1/redemptions", params={"filters[color][conditions][$is]": "red"})
    assert bad.status_code == 400 and bad.json()["key"] == "invalid_payload"


def test_list_redemptions_documented_orders(api: Api) -> None:
    """list-redemptions: ``order`` takes every value of ParameterOrderListRedemptions."""
    seed_redemptions(api)
    by_code = api.get("/v1/redemptions", params={"order": "voucher_code"}).json()["redemptions"]
    assert [r["voucher"]["code"] for r in by_code] == ["Q", "Q", "Q", "R"]
    by_code_desc = api.get("/v1/redemptions", params={"order": "-voucher_code"}).json()["redemptions"]
    assert [r["voucher"]["code"] for r in by_code_desc] == ["R", "Q", "Q", "Q"]
    by_id = api.get("/v1/redemptions", params={"order": "id"}).json()["redemptions"]
    assert [r["id"] for r in by_id] == sorted(r["id"] for r in by_id)
    by_customer = api.get("/v1/redemptions", params={"order": "-customer_id"}).json()["redemptions"]
    assert [r["customer_id"] for r in by_customer] == sorted((r["customer_id"] for r in by_id), reverse=True)
    assert api.get("/v1/redemptions", params={"order": "amount"}).status_code == 400


def test_cursor_lists_omit_more_starting_after_on_the_last_page(api: Api) -> None:
    """list-voucher-transactions: ``more_starting_after`` only when ``has_more``."""
    api.gift("GIFT", 100)
    for amount in (10, 20, 30):
        assert api.post("/v1/vouchers/GIFT/balance", json={"amount": amount}).status_code == 200
    first = api.get("/v1/vouchers/GIFT/transactions", params={"limit": 2}).json()
    assert first["has_more"] is True and isinstance(first["more_starting_after"], str)
    last = api.get(
        "/v1/vouchers/GIFT/transactions",
        params={"limit": 2, "starting_after_id": first["more_starting_after"]},
    ).json()
    assert last["has_more"] is False and "more_starting_after" not in last
