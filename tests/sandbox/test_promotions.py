"""Promotion tiers and stacks in the sandbox: the 14 operations, and a tier as a redeemable in
validations, redemptions and rollbacks (every response is also checked against the spec by the
suite's exchange hook)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_voucherify.sandbox.app import Sandbox
from django_voucherify.sandbox.engine import tiers as tier_engine
from tests.support.sandbox import Api, redeem, validate

TEN_PERCENT = {"type": "PERCENT", "percent_off": 10, "effect": "APPLY_TO_ORDER"}
FIVE_OFF = {"type": "AMOUNT", "amount_off": 500, "effect": "APPLY_TO_ORDER"}
MIN_100 = {"1": {"name": "order.amount", "conditions": {"$more_than_equal": [10000]}, "rules": {}}}


def promotion(api: Api, *tiers: dict[str, Any], name: str = "Spring") -> dict[str, Any]:
    r = api.post(
        "/v1/campaigns",
        json={"name": name, "campaign_type": "PROMOTION", "promotion": {"tiers": list(tiers)}},
    )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def tier(name: str = "10% off", discount: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    return {"name": name, "banner": f"Get {name}", "action": {"discount": discount or TEN_PERCENT}, **fields}


def tier_of(api: Api, **fields: Any) -> dict[str, Any]:
    """A new promotion campaign with one tier; returns the tier."""
    campaign = promotion(api, tier(**fields), name=f"Promo {len(api.state.extra.get('campaigns', {}))}")
    return campaign["promotion"]["tiers"][0]  # type: ignore[no-any-return]


def as_redeemable(tier_id: str) -> dict[str, Any]:
    return {"object": "promotion_tier", "id": tier_id}


def rule(api: Api, rules: dict[str, Any], **body: Any) -> str:
    r = api.post("/v1/validation-rules", json={"name": "R", "rules": rules, **body})
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


# ---- tiers: CRUD -------------------------------------------------------------------------------


def test_a_promotion_campaign_stores_its_tiers_and_lists_them(api: Api) -> None:
    campaign = promotion(api, tier("10% off"), tier("5 off", FIVE_OFF, active=False))
    listed = campaign["promotion"]
    assert listed["total"] == 2 and [t["name"] for t in listed["tiers"]] == ["10% off", "5 off"]
    first, second = listed["tiers"]
    assert first["id"].startswith("promo_") and first["object"] == "promotion_tier"
    assert first["campaign_id"] == first["promotion_id"] == campaign["id"]
    assert first["campaign"]["id"] == campaign["id"] and first["hierarchy"] == 1 and second["hierarchy"] == 2
    assert first["active"] is True and second["active"] is False
    assert first["summary"] == {
        "redemptions": {"total_redeemed": 0},
        "orders": {"total_amount": 0, "total_discount_amount": 0},
    }
    assert api.get(f"/v1/campaigns/{campaign['id']}").json()["promotion"]["total"] == 2
    by_campaign = api.get(f"/v1/promotions/{campaign['id']}/tiers").json()
    assert [t["id"] for t in by_campaign["tiers"]] == [first["id"], second["id"]]
    assert api.get(f"/v1/promotions/tiers/{first['id']}").json()["banner"] == "Get 10% off"


def test_add_update_enable_disable_delete_a_tier(api: Api) -> None:
    campaign = promotion(api, tier("a"))
    added = api.post(f"/v1/promotions/{campaign['id']}/tiers", json=tier("b", FIVE_OFF))
    assert added.status_code == 200, added.text
    tier_id = added.json()["id"]
    assert added.json()["hierarchy"] == 2  # after the campaign's others
    updated = api.put(f"/v1/promotions/tiers/{tier_id}", json={"banner": "New", "metadata": {"k": 1}}).json()
    assert updated["banner"] == "New" and updated["metadata"] == {"k": 1} and updated["updated_at"]
    assert updated["action"]["discount"]["amount_off"] == 500  # untouched
    assert api.post(f"/v1/promotions/tiers/{tier_id}/disable").json()["active"] is False
    assert api.post(f"/v1/promotions/tiers/{tier_id}/enable").json()["active"] is True
    assert api.delete(f"/v1/promotions/tiers/{tier_id}").status_code == 204
    gone = api.get(f"/v1/promotions/tiers/{tier_id}")
    assert gone.status_code == 404 and gone.json()["key"] == "not_found"
    assert api.get(f"/v1/promotions/{campaign['id']}/tiers").json()["total"] == 1


def test_list_all_tiers_pages_orders_and_filters_available(api: Api) -> None:
    promotion(api, tier("a"), tier("b", active=False), name="P1")
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    promotion(api, tier("c", expiration_date=past), tier("d"), name="P2")
    everything = api.get("/v1/promotions/tiers", params={"limit": 100}).json()
    assert everything["total"] == 4 and [t["name"] for t in everything["tiers"]] == ["a", "b", "c", "d"]
    newest = api.get("/v1/promotions/tiers", params={"order": "-created_at", "limit": 1}).json()
    assert newest["total"] == 4 and len(newest["tiers"]) == 1 and newest["has_more"] is True
    available = api.get("/v1/promotions/tiers", params={"is_available": "true"}).json()
    assert sorted(t["name"] for t in available["tiers"]) == ["a", "d"]
    bad = api.get("/v1/promotions/tiers", params={"order": "name"})
    assert bad.status_code == 400


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"banner": "no name", "action": {"discount": TEN_PERCENT}}, "name"),
        ({"name": "no action"}, "action.discount"),
        ({"name": "x", "action": {"discount": {"type": "PERCENT", "percent_off": 150}}}, "percent_off"),
        ({"name": "x", "action": {"discount": TEN_PERCENT}, "start_date": "soon"}, "start_date"),
        (
            {"name": "x", "action": {"discount": TEN_PERCENT}, "validity_day_of_week": [7]},
            "validity_day_of_week",
        ),
        ({"name": "x", "action": {"discount": TEN_PERCENT}, "active": "yes"}, "active"),
        ({"name": "x", "action": {"discount": TEN_PERCENT}, "hierarchy": "1"}, "hierarchy"),
        ({"name": "x", "action": {"discount": TEN_PERCENT}, "validation_rules": "val_1"}, "validation_rules"),
    ],
)
def test_a_bad_tier_is_a_400_naming_the_field_and_stores_nothing(
    api: Api, body: dict[str, Any], named: str
) -> None:
    campaign = promotion(api)
    r = api.post(f"/v1/promotions/{campaign['id']}/tiers", json=body)
    assert r.status_code == 400 and r.json()["key"] == "invalid_payload" and named in r.json()["details"]
    created = api.post(
        "/v1/campaigns",
        json={"name": "Bad", "campaign_type": "PROMOTION", "promotion": {"tiers": [tier(), body]}},
    )
    assert created.status_code == 400
    assert api.get("/v1/promotions/tiers").json()["total"] == 0
    assert api.get("/v1/campaigns/Bad").status_code == 404


def test_tiers_need_a_promotion_campaign_and_known_rules(api: Api) -> None:
    assert api.post("/v1/promotions/camp_nope/tiers", json=tier()).status_code == 404
    coupons = api.post(
        "/v1/campaigns",
        json={"name": "Coupons", "campaign_type": "DISCOUNT_COUPONS", "voucher": {"discount": FIVE_OFF}},
    ).json()
    assert api.post(f"/v1/promotions/{coupons['id']}/tiers", json=tier()).status_code == 400
    campaign = promotion(api)
    unknown = api.post(f"/v1/promotions/{campaign['id']}/tiers", json=tier(validation_rules=["val_nope"]))
    assert unknown.status_code == 404 and unknown.json()["key"] == "not_found"


def test_deleting_a_campaign_deletes_its_tiers_and_stacks(api: Api) -> None:
    campaign = promotion(api, tier("a"), tier("b"))
    ids = [t["id"] for t in campaign["promotion"]["tiers"]]
    api.post(f"/v1/promotions/{campaign['id']}/stacks", json={"name": "S", "tiers": {"ids": ids}})
    api.delete(f"/v1/campaigns/{campaign['id']}", params={"force": "true"})
    assert api.get("/v1/promotions/tiers").json()["total"] == 0
    assert api.get("/v1/promotions/stacks").json()["total"] == 0


# ---- stacks ------------------------------------------------------------------------------------


def test_stacks_create_get_update_list_delete(api: Api) -> None:
    campaign = promotion(api, tier("a"), tier("b"), tier("c"))
    a, b, c = (t["id"] for t in campaign["promotion"]["tiers"])
    base = f"/v1/promotions/{campaign['id']}/stacks"
    created = api.post(base, json={"name": "First", "tiers": {"ids": [b, a]}})
    assert created.status_code == 200, created.text
    stack = created.json()
    assert stack["id"].startswith("stack_") and stack["object"] == "promotion_stack"
    assert (
        stack["tiers"] == {"ids": [b, a], "hierarchy_mode": "MANUAL"}
        and stack["campaign_id"] == campaign["id"]
    )
    assert api.get(f"{base}/{stack['id']}").json() == stack
    updated = api.put(f"{base}/{stack['id']}", json={"tiers": {"ids": [c]}}).json()
    assert updated["name"] == "First" and updated["tiers"]["ids"] == [c] and updated["updated_at"]
    api.post(base, json={"name": "Second", "tiers": {"ids": [a]}})
    assert [s["name"] for s in api.get(base).json()["data"]] == ["First", "Second"]
    by_name = api.get("/v1/promotions/stacks", params={"order": "-name"}).json()
    assert by_name["total"] == 2 and [s["name"] for s in by_name["data"]] == ["Second", "First"]
    assert api.delete(f"{base}/{stack['id']}").status_code == 204
    assert api.get(f"{base}/{stack['id']}").status_code == 404
    # Deleting a tier takes it out of the stacks; a stack left empty goes.
    api.delete(f"/v1/promotions/tiers/{a}")
    assert api.get("/v1/promotions/stacks").json()["total"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"tiers": {"ids": ["X"]}},  # no name
        {"name": "S"},  # no tiers
        {"name": "S", "tiers": {"ids": []}},
        {"name": "S", "tiers": {"ids": "promo_x"}},
        {"name": "S", "tiers": {"ids": ["A", "A"]}},
        {"name": "S", "tiers": {"ids": ["A"], "hierarchy_mode": "AUTO"}},
        {"name": "S", "tiers": {"ids": [f"p{i}" for i in range(31)]}},
    ],
)
def test_a_bad_stack_is_a_400(api: Api, body: dict[str, Any]) -> None:
    campaign = promotion(api, tier())
    real = campaign["promotion"]["tiers"][0]["id"]
    body = (
        {**body, "tiers": {**body["tiers"], "ids": [real if i == "A" else i for i in body["tiers"]["ids"]]}}
        if isinstance(body.get("tiers"), dict) and isinstance(body["tiers"].get("ids"), list)
        else body
    )
    r = api.post(f"/v1/promotions/{campaign['id']}/stacks", json=body)
    assert r.status_code == 400 and r.json()["key"] == "invalid_payload", r.text


def test_a_stack_names_tiers_of_its_own_campaign_only(api: Api) -> None:
    mine = promotion(api, tier(), name="Mine")
    other = promotion(api, tier(), name="Other")
    foreign = other["promotion"]["tiers"][0]["id"]
    r = api.post(f"/v1/promotions/{mine['id']}/stacks", json={"name": "S", "tiers": {"ids": [foreign]}})
    assert r.status_code == 400
    unknown = api.post(
        f"/v1/promotions/{mine['id']}/stacks", json={"name": "S", "tiers": {"ids": ["promo_x"]}}
    )
    assert unknown.status_code == 404
    stack = api.post(
        f"/v1/promotions/{other['id']}/stacks", json={"name": "S", "tiers": {"ids": [foreign]}}
    ).json()
    assert api.get(f"/v1/promotions/{mine['id']}/stacks/{stack['id']}").status_code == 404


# ---- a tier as a redeemable --------------------------------------------------------------------


def test_validating_a_tier_gives_its_discount(api: Api) -> None:
    t = tier_of(api)
    body = validate(api, as_redeemable(t["id"]), order={"amount": 20000})
    assert body["valid"] is True
    (red,) = body["redeemables"]
    assert red["object"] == "promotion_tier" and red["id"] == t["id"] and red["status"] == "APPLICABLE"
    assert red["result"]["discount"]["percent_off"] == 10
    assert body["order"]["total_discount_amount"] == 2000 and body["order"]["total_amount"] == 18000


def test_a_tier_stacks_with_a_voucher_in_requested_order(api: Api) -> None:
    api.voucher("FIVE", discount=FIVE_OFF)
    t = tier_of(api)
    body = validate(api, {"object": "voucher", "id": "FIVE"}, as_redeemable(t["id"]), order={"amount": 10500})
    assert body["valid"] is True
    # 5.00 off first, then 10% of what is left (100.00): 10.00
    assert body["order"]["total_discount_amount"] == 500 + 1000


def test_redeeming_a_tier_counts_it_and_a_rollback_takes_it_back(api: Api) -> None:
    t = tier_of(api)
    r = redeem(api, as_redeemable(t["id"]), order={"amount": 20000}, customer={"source_id": "ann"})
    assert r.status_code == 200, r.text
    (child,) = r.json()["redemptions"]
    assert child["related_object_type"] == "promotion_tier" and child["related_object_id"] == t["id"]
    assert child["promotion_tier"]["id"] == t["id"] and "voucher" not in child
    assert r.json()["order"]["total_discount_amount"] == 2000
    summary = api.get(f"/v1/promotions/tiers/{t['id']}").json()["summary"]
    assert summary == {
        "redemptions": {"total_redeemed": 1},
        "orders": {"total_amount": 20000, "total_discount_amount": 2000},
    }
    listed = api.get(
        "/v1/redemptions", params={"filters[related_object_id][conditions][$in][0]": t["id"]}
    ).json()
    assert [x["id"] for x in listed["redemptions"]] == [child["id"]]
    campaign_summary = api.get(f"/v1/campaigns/{t['campaign_id']}/summary").json()
    assert campaign_summary["redemptions_succeeded"] == 1 and campaign_summary["discounted_amount"] == 2000
    rolled = api.post(f"/v1/redemptions/{child['id']}/rollback")
    assert rolled.status_code == 200, rolled.text
    assert (
        rolled.json()["related_object_type"] == "promotion_tier"
        and rolled.json()["promotion_tier"]["id"] == t["id"]
    )
    summary = api.get(f"/v1/promotions/tiers/{t['id']}").json()["summary"]
    assert summary == {
        "redemptions": {"total_redeemed": 0},
        "orders": {"total_amount": 0, "total_discount_amount": 0},
    }
    again = api.post(f"/v1/redemptions/{child['id']}/rollback")
    assert again.status_code == 400 and again.json()["key"] == "already_rolled_back"


def test_a_stacked_redemption_with_a_tier_rolls_back_whole(api: Api) -> None:
    api.voucher("FIVE", discount=FIVE_OFF, redemption={"quantity": 1, "redeemed_quantity": 0})
    t = tier_of(api)
    r = redeem(api, "FIVE", as_redeemable(t["id"]), order={"amount": 10500})
    assert r.status_code == 200, r.text
    parent = r.json()["parent_redemption"]
    kinds = sorted(c["related_object_type"] for c in r.json()["redemptions"])
    assert kinds == ["promotion_tier", "voucher"]
    out = api.post(f"/v1/redemptions/{parent['id']}/rollbacks")
    assert out.status_code == 200, out.text
    assert sorted(rb["related_object_type"] for rb in out.json()["rollbacks"]) == [
        "promotion_tier",
        "voucher",
    ]
    assert api.get(f"/v1/promotions/tiers/{t['id']}").json()["summary"]["redemptions"]["total_redeemed"] == 0
    assert api.get("/v1/vouchers/FIVE").json()["redemption"]["redeemed_quantity"] == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"active": False},
        {"start_date": "2999-01-01T00:00:00Z"},
        {"expiration_date": "2000-01-01T00:00:00Z"},
        {"validity_day_of_week": []},  # placeholder replaced below by "not today"
    ],
)
def test_an_inactive_tier_is_refused_as_promotion_inactive(api: Api, fields: dict[str, Any]) -> None:
    if "validity_day_of_week" in fields:
        today = (datetime.now(UTC).weekday() + 1) % 7
        fields = {"validity_day_of_week": [(today + 3) % 7]}
    t = tier_of(api, **fields)
    body = validate(api, as_redeemable(t["id"]), order={"amount": 5000})
    assert body["valid"] is False
    assert body["inapplicable_redeemables"][0]["result"]["error"]["key"] == "promotion_inactive"
    r = redeem(api, as_redeemable(t["id"]), order={"amount": 5000})
    assert r.status_code == 400 and r.json()["key"] == "promotion_inactive"
    failed = api.get("/v1/redemptions", params={"result": "FAILURE"}).json()["redemptions"][0]
    assert (
        failed["failure_code"] == "promotion_inactive" and failed["related_object_type"] == "promotion_tier"
    )
    assert failed["promotion_tier"]["id"] == t["id"]


def test_a_disabled_campaign_disables_its_tiers(api: Api) -> None:
    t = tier_of(api)
    api.post(f"/v1/campaigns/{t['campaign_id']}/disable")
    r = redeem(api, as_redeemable(t["id"]), order={"amount": 5000})
    assert r.status_code == 400 and r.json()["key"] == "promotion_inactive"
    api.post(f"/v1/campaigns/{t['campaign_id']}/enable")
    assert redeem(api, as_redeemable(t["id"]), order={"amount": 5000}).status_code == 200


def test_an_unknown_tier_or_a_stack_redeemable_is_not_found(api: Api) -> None:
    r = redeem(api, as_redeemable("promo_nope"), order={"amount": 5000})
    assert r.status_code == 404 and r.json()["key"] == "not_found"
    t = tier_of(api)
    stack = api.post(
        f"/v1/promotions/{t['campaign_id']}/stacks", json={"name": "S", "tiers": {"ids": [t["id"]]}}
    ).json()
    r = api.post(
        "/v1/validations",
        json={"redeemables": [{"object": "promotion_stack", "id": stack["id"]}], "order": {"amount": 5000}},
    )
    # Stacks as redeemables are not simulated (docs/sandbox.md): a clear 400, never a made-up answer.
    assert (
        r.status_code == 400
        and r.json()["key"] == "invalid_payload"
        and "promotion_tier" in r.json()["details"]
    )


def test_a_tier_rule_refuses_with_the_rules_message(api: Api) -> None:
    rule_id = rule(api, MIN_100, error={"message": "Spend 100 to get 10%"})
    t = tier_of(api, validation_rules=[rule_id])
    assert t["validation_rule_assignments"]["total"] == 1
    body = validate(api, as_redeemable(t["id"]), order={"amount": 5000})
    error = body["inapplicable_redeemables"][0]["result"]["error"]
    assert error["key"] == "order_rules_violated" and error["error"]["message"] == "Spend 100 to get 10%"
    r = redeem(api, as_redeemable(t["id"]), order={"amount": 5000})
    assert r.status_code == 400 and r.json()["key"] == "order_rules_violated"
    assert validate(api, as_redeemable(t["id"]), order={"amount": 10000})["valid"] is True


def test_a_rule_assigned_later_through_the_assignments_api_applies(api: Api) -> None:
    t = tier_of(api)
    rule_id = rule(api, MIN_100)
    unknown = api.post(
        f"/v1/validation-rules/{rule_id}/assignments",
        json={"related_object_type": "promotion_tier", "related_object_id": "promo_nope"},
    )
    assert unknown.status_code == 404
    assigned = api.post(
        f"/v1/validation-rules/{rule_id}/assignments",
        json={"related_object_type": "promotion_tier", "related_object_id": t["id"]},
    )
    assert assigned.status_code == 200, assigned.text
    assert validate(api, as_redeemable(t["id"]), order={"amount": 5000})["valid"] is False
    # A tier's deletion takes its assignments with it.
    api.delete(f"/v1/promotions/tiers/{t['id']}")
    assert api.get(f"/v1/validation-rules/{rule_id}").json()["assignments_count"] == 0


def test_a_per_customer_limit_on_a_tier_holds_and_a_rollback_frees_it(api: Api) -> None:
    once = {"1": {"name": "redemption.count.per_customer", "conditions": {"$less_than": [1]}, "rules": {}}}
    t = tier_of(api, validation_rules=[rule(api, once)])
    first = redeem(api, as_redeemable(t["id"]), order={"amount": 5000}, customer={"source_id": "ann"})
    assert first.status_code == 200, first.text
    second = redeem(api, as_redeemable(t["id"]), order={"amount": 5000}, customer={"source_id": "ann"})
    assert second.status_code == 400 and second.json()["key"] == "customer_rules_violated"
    other = redeem(api, as_redeemable(t["id"]), order={"amount": 5000}, customer={"source_id": "bob"})
    assert other.status_code == 200
    api.post(f"/v1/redemptions/{first.json()['redemptions'][0]['id']}/rollback")
    third = redeem(api, as_redeemable(t["id"]), order={"amount": 5000}, customer={"source_id": "ann"})
    assert third.status_code == 200


def test_an_items_discount_limited_by_a_rule_discounts_those_items_only(api: Api) -> None:
    shoes = {"object": "product", "id": "shoes", "effect": "APPLY_TO_EVERY"}
    rule_id = rule(api, {}, applicable_to={"included": [shoes], "excluded": [], "included_all": False})
    t = tier_of(
        api,
        discount={"type": "PERCENT", "percent_off": 50, "effect": "APPLY_TO_ITEMS"},
        validation_rules=[rule_id],
    )
    items = [
        {"product_id": "shoes", "quantity": 1, "price": 4000},
        {"product_id": "hat", "quantity": 1, "price": 2000},
    ]
    body = validate(api, as_redeemable(t["id"]), order={"items": items})
    assert body["valid"] is True, body
    assert body["order"]["total_discount_amount"] == 2000  # half of the shoes, nothing off the hat


def test_a_lock_session_holds_nothing_on_a_tier_beyond_its_own_request(api: Api) -> None:
    t = tier_of(api)
    body = validate(api, as_redeemable(t["id"]), order={"amount": 5000}, session={"type": "LOCK"})
    key = body["session"]["key"]
    r = redeem(api, as_redeemable(t["id"]), order={"amount": 5000}, session={"key": key})
    assert r.status_code == 200 and r.json()["redemptions"][0]["session"] == {"key": key}


@pytest.mark.parametrize(
    "redeemable",
    [
        {"object": "promotion_tier"},
        {"object": "promotion_tier", "id": 5},
        {"object": "promotion_tier", "id": ""},
    ],
)
def test_a_malformed_tier_redeemable_is_a_400(api: Api, redeemable: dict[str, Any]) -> None:
    r = api.post("/v1/redemptions", json={"redeemables": [redeemable], "order": {"amount": 100}})
    assert r.status_code == 400 and r.json()["key"] == "invalid_payload"


# ---- for qualifications --------------------------------------------------------------------------


def test_active_tiers_and_evaluate_tier_for_a_cart(api: Api) -> None:
    rule_id = rule(api, MIN_100)
    promotion(api, tier("ten"), tier("off", active=False), tier("big", FIVE_OFF, validation_rules=[rule_id]))
    now = api.state.now()
    names = [t["name"] for t in tier_engine.active_tiers(api.state, now)]
    assert names == ["ten", "big"]
    ten, big = tier_engine.active_tiers(api.state, now)
    assert tier_engine.evaluate_tier(api.state, ten["id"], {"amount": 5000}, None, now).discount == 500
    refused = tier_engine.evaluate_tier(api.state, big["id"], {"amount": 5000}, None, now)
    assert refused.failure is not None and refused.failure.key == "order_rules_violated"
    assert tier_engine.evaluate_tier(api.state, big["id"], {"amount": 10000}, None, now).discount == 500


# ---- a property: the counters always equal what stands ------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    steps=st.lists(st.tuples(st.sampled_from(["redeem", "rollback"]), st.integers(1000, 50000)), max_size=12)
)
def test_a_tiers_summary_is_what_its_standing_redemptions_add_up_to(steps: list[tuple[str, int]]) -> None:
    api = Api(Sandbox())
    t = tier_of(api)
    standing: list[tuple[str, int, int]] = []  # (redemption id, order amount, discount)
    for action, amount in steps:
        if action == "redeem":
            r = redeem(api, as_redeemable(t["id"]), order={"amount": amount})
            assert r.status_code == 200, r.text
            child = r.json()["redemptions"][0]
            standing.append((child["id"], amount, r.json()["order"]["total_discount_amount"]))
        elif standing:
            rid, _, _ = standing.pop(0)
            assert api.post(f"/v1/redemptions/{rid}/rollback").status_code == 200
    summary = api.get(f"/v1/promotions/tiers/{t['id']}").json()["summary"]
    assert summary["redemptions"]["total_redeemed"] == len(standing)
    assert summary["orders"]["total_amount"] == sum(a for _, a, _ in standing)
    assert summary["orders"]["total_discount_amount"] == sum(d for _, _, d in standing)
    assert all(abs(d * 10 - a) <= 5 for _, a, d in standing)  # 10% of each order, to the cent
