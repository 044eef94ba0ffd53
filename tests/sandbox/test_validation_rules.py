"""Validation rules and assignments in the sandbox: the 9 operations, and their enforcement in
validations and redemptions (every response is also checked against the spec by the suite's
exchange hook)."""

from __future__ import annotations

from typing import Any

import pytest

from django_voucherify.sandbox import rule_store
from django_voucherify.sandbox.app import Sandbox
from django_voucherify.sandbox.state import SandboxState
from tests.support.sandbox import Api, redeem, validate

MIN_100 = {"1": {"name": "order.amount", "conditions": {"$more_than_equal": [10000]}, "rules": {}}}


def create_rule(api: Api, **body: Any) -> dict[str, Any]:
    r = api.post("/v1/validation-rules", json={"name": "R", "rules": MIN_100, **body})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def assign(api: Api, rule_id: str, related: str, kind: str = "voucher", **params: Any) -> Any:
    return api.post(
        f"/v1/validation-rules/{rule_id}/assignments",
        json={"related_object_id": related, "related_object_type": kind},
        params=params,
    )


# ---- CRUD ----------------------------------------------------------------------------------


def test_create_get_update_delete(api: Api) -> None:
    rule = create_rule(api, error={"message": "Spend 100 or more"})
    assert rule["id"].startswith("val_") and rule["object"] == "validation_rules"
    assert rule["type"] == "expression" and rule["context_type"] == "global"
    assert rule["applicable_to"] == {"included": [], "excluded": [], "included_all": False}
    assert rule["assignments_count"] == 0 and rule["updated_at"] is None
    assert api.get(f"/v1/validation-rules/{rule['id']}").json() == rule
    updated = api.put(f"/v1/validation-rules/{rule['id']}", json={"name": "R2"}).json()
    assert updated["name"] == "R2" and updated["rules"] == MIN_100 and updated["updated_at"]
    assert api.delete(f"/v1/validation-rules/{rule['id']}").status_code == 204
    missing = api.get(f"/v1/validation-rules/{rule['id']}")
    assert missing.status_code == 404 and missing.json()["key"] == "not_found"


@pytest.mark.parametrize(
    ("rules", "named"),
    [
        ({"1": {"name": "custom_event.metadata", "property": "x", "conditions": {"$is": ["a"]}}}, "1.name"),
        ({"1": {"name": "order.amount", "conditions": {"$greater_than_or_equal": [1]}}}, "$greater_than"),
        ({"1": {"name": "order.amount", "conditions": {"$more_than": ["ten"]}}}, "one number"),
        ({"1": {"name": "order.metadata", "conditions": {"$is": ["a"]}}}, "property"),
        ({"1": MIN_100["1"], "logic": "1 and 2"}, "no condition numbered 2"),
        ({"1": MIN_100["1"], "logic": "1 xor 1"}, "xor"),
        ({"1": MIN_100["1"], "logic": "not " * 10_000 + "1"}, "nested deeper"),  # not a crash
        ({"a": MIN_100["1"]}, "condition keys are numbers"),
        ({"1": {**MIN_100["1"], "rules": {"1": MIN_100["1"]}}}, "nested rules"),
    ],
)
def test_an_unsupported_or_malformed_condition_is_a_400_that_says_what_is_supported(
    api: Api, rules: dict[str, Any], named: str
) -> None:
    r = api.post("/v1/validation-rules", json={"name": "R", "rules": rules})
    assert r.status_code == 400, r.text
    assert r.json()["key"] == "invalid_payload"
    assert named in r.json()["details"]
    assert rule_store.rules(api.state) == {}


def test_the_400_for_an_unknown_name_lists_the_supported_conditions(api: Api) -> None:
    rules = {"1": {"name": "customer.segment", "conditions": {"$is": ["seg_1"]}}}
    details = api.post("/v1/validation-rules", json={"name": "R", "rules": rules}).json()["details"]
    names = ("order.amount", "order.items.any", "customer.metadata", "redemption.count.per_customer")
    for supported in names:
        assert supported in details
    assert "$more_than_equal" in details


def test_an_update_to_an_unsupported_rule_is_refused_and_keeps_the_old_one(api: Api) -> None:
    rule = create_rule(api)
    bad = {"1": {"name": "order.amount", "conditions": {"$between": [1, 2]}}}
    assert api.put(f"/v1/validation-rules/{rule['id']}", json={"rules": bad}).status_code == 400
    assert api.get(f"/v1/validation-rules/{rule['id']}").json()["rules"] == MIN_100


def test_collections_and_bundles_are_refused_not_ignored(api: Api) -> None:
    collection = {"included": [{"object": "products_collection", "id": "pc_1", "effect": "APPLY_TO_EVERY"}]}
    r = api.post("/v1/validation-rules", json={"name": "R", "applicable_to": collection})
    assert r.status_code == 400
    assert "object must be one of product, sku" in r.json()["details"]
    bundle = {"1": {"name": "order.amount"}}
    assert api.post("/v1/validation-rules", json={"name": "R", "bundle_rules": bundle}).status_code == 400


def test_list_rules_pages_and_orders(api: Api) -> None:
    ids = [create_rule(api, name=name)["id"] for name in ("b", "a", "c")]
    newest = api.get("/v1/validation-rules").json()
    assert [r["id"] for r in newest["data"]] == ids[::-1] and newest["total"] == 3
    by_name = api.get("/v1/validation-rules", params={"order": "name"}).json()
    assert [r["name"] for r in by_name["data"]] == ["a", "b", "c"]
    page2 = api.get("/v1/validation-rules", params={"order": "created_at", "limit": 2, "page": 2}).json()
    assert [r["id"] for r in page2["data"]] == ids[2:] and page2["total"] == 3
    bad = api.get("/v1/validation-rules", params={"order": "size"})
    assert bad.status_code == 400


# ---- assignments ---------------------------------------------------------------------------


def test_assignments_create_list_delete(api: Api) -> None:
    api.voucher("SHOES")
    rule = create_rule(api)
    first = assign(api, rule["id"], "SHOES")  # a code is resolved to the voucher's id
    assert first.status_code == 200, first.text
    a = first.json()
    assert a["related_object_id"] == "v_shoes" and a["related_object_type"] == "voucher"
    assert a["id"].startswith("asgm_") and a["object"] == "validation_rules_assignment"
    assert a["rule_id"] == rule["id"]
    assert assign(api, rule["id"], "promo_nope", "promotion_tier").status_code == 404
    one_off = {"name": "T", "action": {"discount": {"type": "AMOUNT", "amount_off": 1}}}
    promo = {"name": "Promo", "campaign_type": "PROMOTION", "promotion": {"tiers": [one_off]}}
    tier_id = api.post("/v1/campaigns", json=promo).json()["promotion"]["tiers"][0]["id"]
    tier = assign(api, rule["id"], tier_id, "promotion_tier").json()
    assert tier["related_object_id"] == tier_id
    assert assign(api, rule["id"], "camp_nope", "campaign").status_code == 404
    spring = api.post("/v1/campaigns", json=CAMPAIGN).json()
    campaign = assign(api, rule["id"], "Spring", "campaign").json()  # by name, stored by id
    assert campaign["related_object_id"] == spring["id"]
    assert api.get(f"/v1/validation-rules/{rule['id']}").json()["assignments_count"] == 3
    listed = api.get(f"/v1/validation-rules/{rule['id']}/assignments", params={"order": "created_at"}).json()
    assert [x["id"] for x in listed["data"]] == [a["id"], tier["id"], campaign["id"]]
    page = api.get(f"/v1/validation-rules/{rule['id']}/assignments", params={"limit": 1, "page": 2}).json()
    assert [x["id"] for x in page["data"]] == [tier["id"]] and page["total"] == 3
    everywhere = api.get("/v1/validation-rules-assignments", params={"related_object_id": "SHOES"}).json()
    assert [x["id"] for x in everywhere["data"]] == [a["id"]]
    by_rule = api.get("/v1/validation-rules-assignments", params={"rule": rule["id"]}).json()
    assert by_rule["total"] == 3
    gone = api.delete(f"/v1/validation-rules/{rule['id']}/assignments/{a['id']}")
    assert gone.status_code == 204
    again = api.delete(f"/v1/validation-rules/{rule['id']}/assignments/{a['id']}")
    assert again.status_code == 404
    assert api.get("/v1/validation-rules-assignments").json()["total"] == 2


def test_a_duplicate_assignment_is_refused_unless_forced(api: Api) -> None:
    api.voucher("A")
    rule = create_rule(api)
    first = assign(api, rule["id"], "A").json()
    dup = assign(api, rule["id"], "v_a")
    assert dup.status_code == 409 and dup.json()["key"] == "duplicate_found"
    forced = assign(api, rule["id"], "A", force="true").json()
    assert forced["id"] != first["id"]
    assert [x["id"] for x in rule_store.rule_assignments(api.state, rule["id"])] == [forced["id"]]


def test_assignment_errors(api: Api) -> None:
    rule = create_rule(api)
    missing_voucher = assign(api, rule["id"], "NOPE")
    assert missing_voucher.status_code == 404 and missing_voucher.json()["resource_type"] == "voucher"
    earning = assign(api, rule["id"], "ern_1", "earning_rule")
    assert earning.status_code == 400 and "not simulated" in earning.json()["details"]
    no_id = api.post(f"/v1/validation-rules/{rule['id']}/assignments", json={})
    assert no_id.status_code == 400
    assert assign(api, "val_nope", "X").status_code == 404
    other = create_rule(api)
    api.voucher("B")
    mine = assign(api, rule["id"], "B").json()
    # an assignment is deleted through its own rule only
    assert api.delete(f"/v1/validation-rules/{other['id']}/assignments/{mine['id']}").status_code == 404


def test_deleting_a_rule_deletes_its_assignments_and_lifts_its_checks(api: Api) -> None:
    api.voucher("A")
    rule = create_rule(api)
    assign(api, rule["id"], "A")
    assert validate(api, "A", order={"amount": 500})["valid"] is False
    api.delete(f"/v1/validation-rules/{rule['id']}")
    assert api.get("/v1/validation-rules-assignments").json()["total"] == 0
    assert validate(api, "A", order={"amount": 500})["valid"] is True


def test_rules_and_assignments_survive_a_save_and_load(api: Api) -> None:
    api.voucher("A")
    rule = create_rule(api, error={"message": "Spend 100"})
    assign(api, rule["id"], "A")
    reloaded = Api(Sandbox(state=SandboxState.from_json(api.state.to_json())))
    assert reloaded.get(f"/v1/validation-rules/{rule['id']}").json()["assignments_count"] == 1
    body = validate(reloaded, "A", order={"amount": 500})
    assert body["valid"] is False
    assert body["inapplicable_redeemables"][0]["result"]["error"]["error"] == {"message": "Spend 100"}


# ---- enforcement ---------------------------------------------------------------------------


def test_a_failed_rule_refuses_validation_and_redemption_with_its_message(api: Api) -> None:
    api.voucher("A")
    rule = create_rule(api, error={"message": "Spend 100 or more"})
    assign(api, rule["id"], "A")
    bad = validate(api, "A", order={"amount": 9999})
    assert bad["valid"] is False
    error = bad["inapplicable_redeemables"][0]["result"]["error"]
    assert error["key"] == "order_rules_violated"
    assert error["message"] == "order does not match validation rules"
    assert error["error"] == {"message": "Spend 100 or more"}
    assert validate(api, "A", order={"amount": 10000})["valid"] is True
    refused = redeem(api, "A", order={"amount": 9999})
    assert refused.status_code == 400
    assert refused.json()["key"] == "order_rules_violated"
    assert refused.json()["error"] == {"message": "Spend 100 or more"}
    failed = api.state.redemptions[refused.json()["resource_id"]]
    assert failed["failure_code"] == "order_rules_violated"
    assert api.state.vouchers["A"]["redemption"]["redeemed_quantity"] == 0
    assert redeem(api, "A", order={"amount": 10000}).status_code == 200


def test_a_condition_s_own_message_wins_over_the_rule_s(api: Api) -> None:
    api.voucher("A")
    rules = {
        "1": {**MIN_100["1"], "error": {"message": "Too small"}},
        "2": {"name": "order.metadata", "property": "shop", "conditions": {"$is": ["Berlin"]}},
    }
    rule = create_rule(api, rules=rules, error={"message": "Generic"})
    assign(api, rule["id"], "A")
    small = validate(api, "A", order={"amount": 100, "metadata": {"shop": "Berlin"}})
    assert small["inapplicable_redeemables"][0]["result"]["error"]["error"]["message"] == "Too small"
    elsewhere = validate(api, "A", order={"amount": 20000, "metadata": {"shop": "Paris"}})
    assert elsewhere["inapplicable_redeemables"][0]["result"]["error"]["error"]["message"] == "Generic"


def test_customer_metadata_and_redemptions_per_customer(api: Api) -> None:
    api.voucher("ONCE")
    rules = {
        "1": {"name": "customer.metadata", "property": "tier", "conditions": {"$is": ["gold"]}},
        "2": {"name": "redemption.count.per_customer", "conditions": {"$less_than": [1]}},
    }
    rule = create_rule(api, rules=rules, error={"message": "Gold members, once"})
    assign(api, rule["id"], "ONCE")
    api.post("/v1/customers", json={"source_id": "ann", "metadata": {"tier": "gold"}})
    api.post("/v1/customers", json={"source_id": "bob", "metadata": {"tier": "silver"}})
    silver = validate(api, "ONCE", customer={"source_id": "bob"}, order={"amount": 100})
    assert silver["inapplicable_redeemables"][0]["result"]["error"]["key"] == "customer_rules_violated"
    gold_bob = {"source_id": "bob", "metadata": {"tier": "gold"}}
    inline = validate(api, "ONCE", customer=gold_bob, order={"amount": 1})
    assert inline["valid"] is True  # the request's metadata is what the order comes with
    once = {"1": rules["2"]}
    api.voucher("FIRST")
    assign(api, create_rule(api, rules=once)["id"], "FIRST")
    newcomer = validate(api, "FIRST", customer={"source_id": "new-in-town"}, order={"amount": 1})
    assert newcomer["valid"] is True  # named, not stored yet: no redemptions
    anonymous = validate(api, "FIRST", order={"amount": 1})
    assert anonymous["inapplicable_redeemables"][0]["result"]["error"]["key"] == "customer_rules_violated"
    assert redeem(api, "ONCE", customer={"source_id": "ann"}, order={"amount": 100}).status_code == 200
    second = redeem(api, "ONCE", customer={"source_id": "ann"}, order={"amount": 100})
    assert second.status_code == 400 and second.json()["key"] == "customer_rules_violated"
    # a rolled back redemption no longer counts
    first_id = next(r["id"] for r in api.state.redemptions.values() if r["result"] == "SUCCESS")
    assert api.post(f"/v1/redemptions/{first_id}/rollback").status_code == 200
    assert redeem(api, "ONCE", customer={"source_id": "ann"}, order={"amount": 100}).status_code == 200


def test_the_per_customer_count_follows_redemptions_and_rollbacks_stacked_or_not(api: Api) -> None:
    """The incremental count (rule_check._Counts) against a count over the whole history, after
    each of a seeded random run of single and stacked redemptions, rollbacks and a reload."""
    import random

    from django_voucherify.sandbox import rule_check

    rng = random.Random(17)
    api.voucher("A")
    api.voucher("B")
    people = ["ann", "bob", "cid"]
    for person in people:
        api.post("/v1/customers", json={"source_id": person})
    for step in range(40):
        roll = rng.random()
        succeeded = [r for r in api.state.redemptions.values() if r.get("status") == "SUCCEEDED"]
        if roll < 0.25 and succeeded:
            target = rng.choice(succeeded)
            parent = target.get("redemption")
            if parent:
                api.post(f"/v1/redemptions/{parent}/rollbacks", json={})
            else:
                api.post(f"/v1/redemptions/{target['id']}/rollback")
        else:
            codes = rng.choice([["A"], ["B"], ["A", "B"]])
            redeem(api, *codes, customer={"source_id": rng.choice(people)}, order={"amount": 1000})
        if step == 20:
            api = Api(Sandbox(state=SandboxState.from_json(api.state.to_json())))
        for person in people:
            customer_id = api.state.find_customer(person)["id"]
            for code in ("A", "B"):
                voucher = api.state.vouchers[code]
                expected = sum(
                    1
                    for r in api.state.redemptions.values()
                    if r.get("customer_id") == customer_id
                    and r.get("status") == "SUCCEEDED"
                    and (r.get("voucher") or {}).get("code") == code
                )
                assert rule_check.redemptions_of(api.state, voucher, customer_id) == expected


CAMPAIGN = {
    "name": "Spring",
    "campaign_type": "DISCOUNT_COUPONS",
    "voucher": {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 100}},
}


def test_a_campaign_assignment_applies_to_the_campaign_s_vouchers(api: Api) -> None:
    spring = api.post("/v1/campaigns", json=CAMPAIGN).json()
    added = api.post(f"/v1/campaigns/{spring['id']}/vouchers/C1", json={})
    assert added.status_code == 200, added.text
    api.voucher("LOOSE")
    rule = create_rule(api)
    assign(api, rule["id"], spring["id"], "campaign")
    assert validate(api, "C1", order={"amount": 500})["valid"] is False
    assert validate(api, "LOOSE", order={"amount": 500})["valid"] is True


SHOE = {"object": "product", "id": "prod_shoe", "effect": "APPLY_TO_EVERY"}
SOCK = {"object": "product", "id": "prod_sock", "effect": "APPLY_TO_EVERY"}
CART = {
    "items": [
        {"product_id": "prod_shoe", "price": 5000, "quantity": 2},
        {"product_id": "prod_sock", "price": 500, "quantity": 4},
    ]
}


def test_item_conditions_on_products_and_quantities(api: Api) -> None:
    api.voucher("TWO_SHOES")
    rules = {
        "1": {
            "name": "order.items.any",
            "conditions": {"$is": [{"object": "product", "id": "prod_shoe"}]},
            "rules": {"1": {"name": "order.items.quantity", "conditions": {"$more_than_equal": [2]}}},
        }
    }
    rule = create_rule(api, rules=rules)
    assign(api, rule["id"], "TWO_SHOES")
    assert validate(api, "TWO_SHOES", order=CART)["valid"] is True
    one_shoe = {"items": [{**CART["items"][0], "quantity": 1}, CART["items"][1]]}
    assert validate(api, "TWO_SHOES", order=one_shoe)["valid"] is False
    socks_only = {"items": [CART["items"][1]]}
    assert validate(api, "TWO_SHOES", order=socks_only)["valid"] is False


def test_product_categories_come_from_the_product_lookup(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from django_voucherify.sandbox import rule_check

    products = {"prod_shoe": {"id": "prod_shoe", "categories": [{"id": "cat_1", "name": "Shoes"}]}}
    monkeypatch.setattr(rule_check, "PRODUCT_LOOKUP", lambda state, ref: products.get(ref))
    api.voucher("SHOE_DEAL")
    rules = {"1": {"name": "product.category", "conditions": {"$in": ["Shoes"]}}}
    assign(api, create_rule(api, rules=rules)["id"], "SHOE_DEAL")
    assert validate(api, "SHOE_DEAL", order=CART)["valid"] is True
    assert validate(api, "SHOE_DEAL", order={"items": [CART["items"][1]]})["valid"] is False
    by_id = {"1": {"name": "product.category", "conditions": {"$is_not": ["cat_1"]}}}
    api.voucher("NO_SHOES")
    assign(api, create_rule(api, rules=by_id)["id"], "NO_SHOES")
    assert validate(api, "NO_SHOES", order=CART)["valid"] is False


def test_every_listed_product_must_be_in_the_order(api: Api) -> None:
    api.voucher("SET")
    refs = [{"object": "product", "id": "prod_shoe"}, {"object": "product", "source_id": "hat"}]
    rules = {"1": {"name": "order.items.every", "conditions": {"$in": refs}}}
    assign(api, create_rule(api, rules=rules)["id"], "SET")
    assert validate(api, "SET", order=CART)["valid"] is False
    hat = {"source_id": "hat", "related_object": "product", "price": 100, "quantity": 1}
    assert validate(api, "SET", order={"items": [*CART["items"], hat]})["valid"] is True


def test_applicable_to_of_a_rule_limits_the_discount_and_is_reported(api: Api) -> None:
    api.voucher("SHOES", discount={"type": "PERCENT", "percent_off": 10, "effect": "APPLY_TO_ITEMS"})
    shoes_only = {"included": [SHOE], "excluded": [], "included_all": False}
    rule = create_rule(api, rules={}, applicable_to=shoes_only)
    assign(api, rule["id"], "SHOES")
    body = validate(api, "SHOES", order=CART)
    assert body["valid"] is True
    view = body["redeemables"][0]
    assert view["applicable_to"]["data"] == [SHOE] and view["applicable_to"]["total"] == 1
    assert body["order"]["items_discount_amount"] == 1000  # 10 % of the shoes (10000), not the socks
    excluding = create_rule(api, rules={}, applicable_to={"excluded": [SHOE]})
    api.voucher("NOT_SHOES", discount={"type": "PERCENT", "percent_off": 10, "effect": "APPLY_TO_ITEMS"})
    assign(api, excluding["id"], "NOT_SHOES")
    body = validate(api, "NOT_SHOES", order=CART)
    assert body["redeemables"][0]["inapplicable_to"]["data"] == [SHOE]
    assert body["order"]["items_discount_amount"] == 200  # 10 % of the socks (2000) only


def test_a_voucher_without_rules_is_checked_as_before(api: Api) -> None:
    api.voucher("PLAIN")
    create_rule(api)  # a rule assigned to nothing changes nothing
    body = validate(api, "PLAIN", order={"amount": 1})
    assert body["valid"] is True
    assert body["redeemables"][0]["applicable_to"]["total"] == 0


# ---- through the app's client --------------------------------------------------------------


def test_the_client_s_validation_rules_service_against_the_sandbox(voucherify_sandbox: Any) -> None:
    """The client (django_voucherify/api) and the sandbox are separate implementations of the
    same spec: every method of ``client.validation_rules``, paging included, and a refusal."""
    from django_voucherify import client

    client.vouchers.create(
        "CLIENT10", {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 10}}
    )
    rules = [client.validation_rules.create({"name": f"R{i}", "rules": MIN_100}) for i in range(12)]
    assert len(list(client.validation_rules.iterate())) == 12
    rule = client.validation_rules.update(rules[0]["id"], {"error": {"message": "Spend 100"}})
    assert client.validation_rules.get(rule["id"])["error"] == {"message": "Spend 100"}
    first = client.validation_rules.create_assignment(rule["id"], "voucher", "CLIENT10")
    forced = client.validation_rules.create_assignment(rule["id"], "voucher", "CLIENT10", force=True)
    assert forced["id"] != first["id"]
    for i in range(11):
        campaign = client.campaigns.create({**CAMPAIGN, "name": f"Spring {i}"})
        client.validation_rules.create_assignment(rule["id"], "campaign", campaign["id"])
    assert len(list(client.validation_rules.iterate_assignments(rule["id"]))) == 12
    assert len(list(client.validation_rules.iterate_all_assignments(rule=rule["id"]))) == 12
    with pytest.raises(Exception) as refused:
        client.redemptions.redeem(
            {"redeemables": [{"object": "voucher", "id": "CLIENT10"}], "order": {"amount": 50}}
        )
    assert getattr(refused.value, "key", None) == "order_rules_violated"
    client.validation_rules.delete_assignment(rule["id"], forced["id"])
    client.validation_rules.delete(rule["id"])
    assert client.validation_rules.list()["total"] == 11


def test_with_no_rule_assigned_the_check_looks_nothing_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """No rule assigned to anything (most sandboxes): the rule check of a validation or redeem
    reads no customer and builds no context, and finds nothing for any voucher."""
    from django_voucherify.sandbox import rule_check

    state = SandboxState()
    looked_up: list[str] = []
    monkeypatch.setattr(state, "find_customer", lambda ref: looked_up.append(ref))
    check = rule_check.checker(state, {"amount": 100}, {"source_id": "c-1", "metadata": {"a": 1}})
    assert check({"id": "v_1", "code": "A", "campaign_id": "camp_1"}) is None
    assert looked_up == []
