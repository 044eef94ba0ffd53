"""Voucher rules as Voucherify documents them (issue 14, sandbox fidelity).

Each test quotes the sentence of Voucherify's OpenAPI spec (the vendored subset in
``django_voucherify/sandbox/data``) it holds the sandbox to; the first test checks the
quotes are really there, so a spec update that drops one shows up here.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from django_voucherify.sandbox.app import Sandbox
from django_voucherify.sandbox.openapi import voucherify_spec
from tests.support.sandbox import Api

QUOTES = {
    ("/v1/vouchers/{code}", "post"): "For a loyalty card, a campaign name or ID is required.",
    ("/v1/vouchers", "post"): "In case of the loyalty card, a campaign name is required.",
    ("/v1/vouchers/{code}/balance", "post"): "For loyalty cards, it must be assigned to a holder.",
    ("/v1/vouchers/{code}", "put"): "Even if provided, they will be silently skipped.",
    ("/v1/vouchers/importCSV", "post"): "Redemption Limit,Redeemed Quantity, Redeemed Amount,Active",
}
CARD = {"type": "LOYALTY_CARD", "loyalty_card": {"points": 100}}


@pytest.mark.parametrize(("where", "sentence"), QUOTES.items())
def test_the_quoted_rules_are_in_the_spec(where: tuple[str, str], sentence: str) -> None:
    path, method = where
    assert sentence in voucherify_spec()["paths"][path][method]["description"]


def _import_csv(api: Api, text: str) -> dict[str, Any]:
    resp = api.post("/v1/vouchers/importCSV", files={"file": ("v.csv", text.encode(), "text/csv")})
    assert resp.status_code == 202, resp.text
    api.sandbox.wait_for_jobs()
    action = api.get(f"/v1/async-actions/{resp.json()['async_action_id']}").json()
    return action["result"]  # type: ignore[no-any-return]


# ---- a loyalty card needs a campaign ------------------------------------------------------
@pytest.mark.parametrize("path", ["/v1/vouchers/CARD-1", "/v1/vouchers"])
def test_loyalty_card_without_campaign_is_refused(api: Api, path: str) -> None:
    resp = api.post(path, json={**CARD, "code": "CARD-1"} if path == "/v1/vouchers" else CARD)
    assert resp.status_code == 400
    body = resp.json()
    assert body["key"] == "invalid_payload" and "campaign" in body["details"]
    assert api.state.vouchers == {}


@pytest.mark.parametrize("given_campaign", [{"campaign": "Loyalty"}, {"campaign_id": "camp_1"}])
def test_loyalty_card_with_campaign_name_or_id_is_created(api: Api, given_campaign: dict[str, str]) -> None:
    resp = api.post("/v1/vouchers/CARD-2", json={**CARD, **given_campaign})
    assert resp.status_code == 200, resp.text
    card = resp.json()
    assert card["type"] == "LOYALTY_CARD"
    assert card.get("campaign") == given_campaign.get("campaign")
    assert card.get("campaign_id") == given_campaign.get("campaign_id")


def test_other_vouchers_need_no_campaign(api: Api) -> None:
    gift = {"type": "GIFT_VOUCHER", "gift": {"amount": 100}}
    assert api.post("/v1/vouchers/GIFT-1", json=gift).status_code == 200


# ---- a loyalty card's balance needs a holder ----------------------------------------------
def test_balance_change_of_a_card_without_holder_is_refused(api: Api) -> None:
    api.post("/v1/vouchers/NOBODY", json={**CARD, "campaign": "Loyalty"})
    resp = api.post("/v1/vouchers/NOBODY/balance", json={"amount": 50})
    assert resp.status_code == 400
    assert resp.json()["key"] == "loyalty_card_without_holder"
    card = api.get("/v1/vouchers/NOBODY").json()["loyalty_card"]
    assert card["balance"] == 100 and card["points"] == 100  # nothing changed
    assert api.get("/v1/vouchers/NOBODY/transactions").json()["data"] == []


def test_balance_change_of_a_held_card_goes_through(api: Api) -> None:
    holder = api.post("/v1/customers", json={"source_id": "holder"}).json()["id"]
    api.post("/v1/vouchers/HELD", json={**CARD, "campaign": "Loyalty", "holder_id": holder})
    resp = api.post("/v1/vouchers/HELD/balance", json={"amount": -30})
    assert resp.status_code == 200 and resp.json()["balance"] == 70


def test_gift_card_balance_needs_no_holder(api: Api) -> None:
    api.post("/v1/vouchers/G", json={"type": "GIFT_VOUCHER", "gift": {"amount": 100}})
    assert api.post("/v1/vouchers/G/balance", json={"amount": 5}).status_code == 200


# ---- an update skips what it does not list ------------------------------------------------
@pytest.mark.parametrize("new_type", ["GIFT_VOUCHER", "LOYALTY_CARD", "DISCOUNT_VOUCHER", "NONSENSE"])
def test_update_skips_type_instead_of_refusing(api: Api, new_type: str) -> None:
    api.voucher("D")
    resp = api.put("/v1/vouchers/D", json={"type": new_type, "metadata": {"seen": True}})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["type"] == "DISCOUNT_VOUCHER" and body["metadata"] == {"seen": True}


def test_update_skips_discount_on_a_gift_card(api: Api) -> None:
    """VoucherUpdateGift lists no ``discount``: it is skipped, the rest applied."""
    api.post("/v1/vouchers/G", json={"type": "GIFT_VOUCHER", "gift": {"amount": 100}})
    resp = api.put(
        "/v1/vouchers/G",
        json={"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 5}, "active": False},
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["type"] == "GIFT_VOUCHER" and "discount" not in body and body["active"] is False


def test_update_still_refuses_a_malformed_listed_field(api: Api) -> None:
    """Skipping concerns unlisted fields; a listed one with a wrong type is still a 400."""
    api.voucher("D")
    assert api.put("/v1/vouchers/D", json={"active": "yes"}).status_code == 400


# ---- the CSV import honours Redeemed Quantity and Redeemed Amount -------------------------
def test_csv_import_honours_redeemed_columns(api: Api) -> None:
    result = _import_csv(
        api,
        "Code,Voucher Type,Value,Redemption Limit,Redeemed Quantity,Redeemed Amount\n"
        "USED-3,DISCOUNT_VOUCHER,10,5,3,\n"
        "GIFT-SPENT,GIFT_VOUCHER,5000,,2,1200\n",
    )
    assert (result["done_count"], result["failed_count"]) == (2, 0)
    used = api.get("/v1/vouchers/USED-3").json()
    assert used["redemption"]["redeemed_quantity"] == 3 and used["redemption"]["quantity"] == 5
    assert "Redeemed Quantity" not in used["metadata"]
    gift = api.get("/v1/vouchers/GIFT-SPENT").json()
    assert gift["redemption"]["redeemed_quantity"] == 2
    assert gift["gift"]["amount"] == 5000 and gift["gift"]["balance"] == 3800


def test_csv_import_redeemed_quantity_counts_against_the_limit(api: Api) -> None:
    _import_csv(api, "Code,Value,Redemption Limit,Redeemed Quantity\nLAST-ONE,10,2,1\n")
    order = {"amount": 1000}
    first = api.post(
        "/v1/redemptions", json={"redeemables": [{"object": "voucher", "id": "LAST-ONE"}], "order": order}
    )
    assert first.status_code == 200, first.text
    second = api.post(
        "/v1/redemptions", json={"redeemables": [{"object": "voucher", "id": "LAST-ONE"}], "order": order}
    )
    assert second.status_code == 400 and second.json()["key"] == "quantity_exceeded"


def test_csv_update_of_an_existing_code_sets_the_counters(api: Api) -> None:
    api.voucher("OLD", redemption={"quantity": 10, "redeemed_quantity": 0, "object": "list"})
    result = _import_csv(api, "Code,Redeemed Quantity\nOLD,4\n")
    assert result["done_count"] == 1
    assert api.get("/v1/vouchers/OLD").json()["redemption"]["redeemed_quantity"] == 4


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("BAD,DISCOUNT_VOUCHER,10,2,3,", "over the limit"),
        ("BAD,DISCOUNT_VOUCHER,10,,-1,", "non-negative integer"),
        ("BAD,DISCOUNT_VOUCHER,10,,1.5,", "non-negative integer"),
        ("BAD,GIFT_VOUCHER,100,,,101", "over the card's credits"),
        ("BAD,DISCOUNT_VOUCHER,10,,,5", "only a gift card"),
    ],
)
def test_csv_import_refuses_impossible_counters(api: Api, row: str, reason: str) -> None:
    header = "Code,Voucher Type,Value,Redemption Limit,Redeemed Quantity,Redeemed Amount\n"
    result = _import_csv(api, header + row + "\n")
    assert result["failed_count"] == 1 and reason in result["failed"][0]["reason"]
    assert "BAD" not in api.state.vouchers  # a refused row stores nothing


@settings(max_examples=30, deadline=None)
@given(amount=st.integers(1, 10**6), spent=st.integers(0, 10**6), used=st.integers(0, 50))
def test_csv_gift_balance_is_amount_minus_redeemed(amount: int, spent: int, used: int) -> None:
    """For any imported gift card: accepted exactly when the spent credits fit, and then
    ``balance = amount - redeemed_amount`` (the spec's gift balance formula)."""
    api = Api(Sandbox())
    header = "Code,Voucher Type,Value,Redeemed Quantity,Redeemed Amount\n"
    result = _import_csv(api, f"{header}G,GIFT_VOUCHER,{amount},{used},{spent}\n")
    if spent > amount:
        assert result["failed_count"] == 1 and "G" not in api.state.vouchers
        return
    gift = api.get("/v1/vouchers/G").json()
    assert gift["gift"]["balance"] == amount - spent and gift["redemption"]["redeemed_quantity"] == used


@pytest.mark.parametrize("value", ["inf", "nan", "1e999", "-inf"])
def test_csv_import_refuses_non_finite_values(value: str) -> None:
    """Review of issue 14: ``float("inf")`` was stored, then broke every validation of it."""
    from django_voucherify.sandbox.errors import SandboxError
    from django_voucherify.sandbox.handlers.imports import voucher_from_csv

    with pytest.raises(SandboxError):
        voucher_from_csv(
            {"Code": "X", "Voucher Type": "DISCOUNT_VOUCHER", "Discount Type": "AMOUNT", "Value": value}
        )


def test_a_unit_discount_gets_an_effect_of_its_own_enum(api: Any) -> None:
    """Found by the fuzzer: a UNIT discount without an effect was given APPLY_TO_ITEMS, which is
    not one of DiscountUnitVouchersEffectTypes (the response then broke the schema)."""
    answer = api.post("/v1/vouchers", json={"discount": {"type": "UNIT", "unit_off": 1}}).json()
    assert answer["discount"]["effect"] == "ADD_MISSING_ITEMS"
