"""Qualifications (``POST /v1/qualifications``) in the sandbox: candidates per scenario, the
validation engine's discount and rules, paging, bad input (every response is also checked
against the spec by the suite's exchange hook)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_voucherify.sandbox.handlers import qualifications
from tests.support.sandbox import Api, validate

MIN_100 = {"1": {"name": "order.amount", "conditions": {"$more_than_equal": [10000]}}}
VIP = {"1": {"name": "customer.metadata", "property": "vip", "conditions": {"$is": [True]}}}


def at(second: int, ms: int = 0) -> str:
    return f"2026-01-01T00:{second // 60:02d}:{second % 60:02d}.{ms:03d}Z"


def qualify(api: Api, expect: int = 200, **body: Any) -> dict[str, Any]:
    r = api.post("/v1/qualifications", json=body)
    assert r.status_code == expect, r.text
    return r.json()  # type: ignore[no-any-return]


def ids(answer: dict[str, Any]) -> list[str]:
    return [r["id"] for r in answer["redeemables"]["data"]]


def customer(api: Api, source_id: str, **fields: Any) -> dict[str, Any]:
    r = api.post("/v1/customers", json={"source_id": source_id, **fields})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def rule(api: Api, rules: dict[str, Any], related: str, **body: Any) -> dict[str, Any]:
    created = api.post("/v1/validation-rules", json={"name": "R", "rules": rules, **body}).json()
    r = api.post(
        f"/v1/validation-rules/{created['id']}/assignments",
        json={"related_object_id": related, "related_object_type": "voucher"},
    )
    assert r.status_code == 200, r.text
    return created  # type: ignore[no-any-return]


# ---- candidates per scenario ------------------------------------------------------------------


def test_all_offers_public_codes_and_the_customers_own_but_nobody_elses(api: Api) -> None:
    ann = customer(api, "ann")
    bob = customer(api, "bob")
    api.voucher("PUBLIC", created_at=at(1))
    api.voucher("ANNS", created_at=at(2), holder_id=ann["id"])
    api.voucher("BOBS", created_at=at(3), holder_id=bob["id"])
    api.voucher("UNPUBLISHED", created_at=at(4), campaign="C", campaign_id="camp_1")
    api.gift("BEARER", 5000, created_at=at(5))  # a gift card nobody holds is nobody's offer
    api.gift("ANNGIFT", 5000, created_at=at(6), holder_id=ann["id"])
    answer = qualify(api, customer={"source_id": "ann"}, order={"amount": 5000}, options={"limit": 50})
    assert ids(answer) == ["ANNGIFT", "ANNS", "PUBLIC"]  # newest first
    assert answer["redeemables"]["has_more"] is False and answer["redeemables"]["total"] == 3
    assert "more_starting_after" not in answer["redeemables"]
    anonymous = qualify(api, order={"amount": 5000}, options={"limit": 50})
    assert ids(anonymous) == ["PUBLIC"]


def test_customer_wallet_is_the_customers_codes_only(api: Api) -> None:
    ann = customer(api, "ann")
    api.voucher("PUBLIC", created_at=at(1))
    api.voucher("ANNS", created_at=at(2), holder_id=ann["id"])
    answer = qualify(api, scenario="CUSTOMER_WALLET", customer={"id": ann["id"]}, order={"amount": 5000})
    assert ids(answer) == ["ANNS"]
    assert answer["redeemables"]["data"][0]["order"]["total_applied_discount_amount"] == 1000
    unknown = qualify(api, scenario="CUSTOMER_WALLET", customer={"source_id": "nobody"})
    assert ids(unknown) == [] and unknown["redeemables"]["has_more"] is False


def test_published_campaign_codes_are_in_the_wallet(api: Api) -> None:
    r = api.post(
        "/v1/campaigns",
        json={
            "name": "Welcome",
            "campaign_type": "DISCOUNT_COUPONS",
            "vouchers_count": 3,
            "voucher": {"discount": {"type": "PERCENT", "percent_off": 10}, "code_config": {"length": 6}},
        },
    )
    assert r.status_code == 200, r.text
    api.sandbox.wait_for_jobs()
    pub = api.post("/v1/publications", json={"campaign": "Welcome", "customer": {"source_id": "ann"}}).json()
    code = pub["voucher"]["code"]
    body = {
        "customer": {"source_id": "ann"},
        "order": {"amount": 2000},
        "options": {"expand": ["redeemable"]},
    }
    answer = qualify(api, scenario="CUSTOMER_WALLET", **body)
    assert ids(answer) == [code]
    entry = answer["redeemables"]["data"][0]
    assert entry["campaign_name"] == "Welcome" and entry["order"]["total_applied_discount_amount"] == 200
    assert ids(qualify(api, **body)) == [code]  # the other two codes are nobody's yet: not offered
    assert api.post(f"/v1/campaigns/{pub['voucher']['campaign_id']}/disable").status_code == 200
    assert ids(qualify(api, scenario="CUSTOMER_WALLET", **body)) == []  # its campaign is off


def test_a_qualification_writes_nothing(api: Api) -> None:
    api.voucher("PUBLIC", created_at=at(1))
    before = api.state.to_json()
    qualify(
        api,
        customer={"source_id": "new-shopper", "metadata": {"a": 1}},
        order={"source_id": "o-1", "amount": 10},
    )
    assert api.state.to_json() == before
    assert api.state.find_customer("new-shopper") is None and api.state.find_order("o-1") is None


# ---- the validation engine decides --------------------------------------------------------------


def test_rules_state_and_limits_are_enforced_as_in_a_validation(api: Api) -> None:
    api.voucher("BIG-CARTS", created_at=at(1))
    rule(api, MIN_100, "BIG-CARTS", error={"message": "Spend 100 or more"})
    api.voucher("EXPIRED", created_at=at(2), expiration_date="2000-01-01T00:00:00Z")
    api.voucher("OFF", created_at=at(3), active=False)
    api.voucher("USED", created_at=at(4), redemption={"quantity": 1, "redeemed_quantity": 1})
    small = qualify(api, order={"amount": 5000}, options={"limit": 50})
    assert ids(small) == []
    big = qualify(api, order={"amount": 20000}, options={"limit": 50})
    assert ids(big) == ["BIG-CARTS"]
    entry = big["redeemables"]["data"][0]
    assert entry["validation_rules_assignments"]["total"] == 1
    assert entry["validation_rules_assignments"]["data"][0]["validation_status"] == "VALID"


def test_a_product_limited_discount_gives_what_the_validation_gives(api: Api) -> None:
    api.voucher(
        "SHOES20",
        created_at=at(1),
        discount={"type": "PERCENT", "percent_off": 20, "effect": "APPLY_TO_ITEMS"},
    )
    must_have = {
        "1": {"name": "order.items.any", "conditions": {"$is": [{"object": "product", "id": "prod_shoe"}]}}
    }
    target = {"object": "product", "id": "prod_shoe", "effect": "APPLY_TO_EVERY"}
    rule(api, must_have, "SHOES20", applicable_to={"included": [target]})
    items = [
        {"product_id": "prod_shoe", "price": 5000, "quantity": 1},
        {"product_id": "prod_hat", "price": 3000, "quantity": 2},
    ]
    answer = qualify(api, order={"items": items})
    assert ids(answer) == ["SHOES20"]
    entry = answer["redeemables"]["data"][0]
    valid = validate(api, "SHOES20", order={"items": items})
    assert entry["order"] == {**valid["order"]}
    assert entry["order"]["items_applied_discount_amount"] == 1000
    assert entry["applicable_to"]["data"] == [target]
    assert ids(qualify(api, order={"items": items[1:]})) == []  # no shoe: the rule refuses it


def test_audience_only_reads_the_customer_conditions_only(api: Api) -> None:
    customer(api, "vip", metadata={"vip": True})
    customer(api, "plain", metadata={"vip": False})
    api.voucher("VIP-BIG", created_at=at(1))
    rule(api, {**MIN_100, "2": VIP["1"], "logic": "1 and 2"}, "VIP-BIG")
    small = {"order": {"amount": 5000}}
    assert ids(qualify(api, scenario="AUDIENCE_ONLY", customer={"source_id": "vip"}, **small)) == ["VIP-BIG"]
    assert ids(qualify(api, scenario="AUDIENCE_ONLY", customer={"source_id": "plain"}, **small)) == []
    assert ids(qualify(api, scenario="ALL", customer={"source_id": "vip"}, **small)) == []
    assert ids(qualify(api, scenario="ALL", customer={"source_id": "vip"}, order={"amount": 10000})) == [
        "VIP-BIG"
    ]


def test_redemptions_per_customer_are_not_checked_by_qualifications(api: Api) -> None:
    customer(api, "ann")
    api.voucher("ONCE", created_at=at(1))
    rule(api, {"1": {"name": "redemption.count.per_customer", "conditions": {"$less_than": [1]}}}, "ONCE")
    body = {"customer": {"source_id": "ann"}, "order": {"amount": 5000}}
    assert api.post("/v1/redemptions", json={"redeemables": [{"object": "voucher", "id": "ONCE"}], **body}).ok
    assert validate(api, "ONCE", **body)["valid"] is False
    assert ids(qualify(api, **body)) == ["ONCE"]  # "ignores ... redemptions per customer"


# ---- order, paging, bounds --------------------------------------------------------------------


def test_pages_follow_the_cursor_newest_first_without_gaps_or_repeats(api: Api) -> None:
    for i in range(12):
        api.voucher(f"C{i:02d}", created_at=at(i))
    seen: list[str] = []
    options: dict[str, Any] = {"limit": 5}
    pages = 0
    while True:
        page = qualify(api, order={"amount": 5000}, options=options)["redeemables"]
        seen += [r["id"] for r in page["data"]]
        pages += 1
        if not page["has_more"]:
            break
        assert page["more_starting_after"] == page["data"][-1]["created_at"]
        options = {"limit": 5, "starting_after": page["more_starting_after"]}
    assert pages == 3 and seen == [f"C{i:02d}" for i in reversed(range(12))]


def test_a_page_never_splits_one_milliseconds_redeemables(api: Api) -> None:
    for code, moment in (("A1", at(2)), ("A2", at(2)), ("B1", at(1)), ("B2", at(1))):
        api.voucher(code, created_at=moment)
    first = qualify(api, order={"amount": 5000}, options={"limit": 3})["redeemables"]
    assert sorted(r["id"] for r in first["data"]) == ["A1", "A2"] and first["has_more"] is True
    rest = qualify(
        api, order={"amount": 5000}, options={"limit": 3, "starting_after": first["more_starting_after"]}
    )
    assert sorted(ids(rest)) == ["B1", "B2"] and rest["redeemables"]["has_more"] is False


def test_best_and_least_deal_sort_by_the_discount_applied(api: Api) -> None:
    for i, off in enumerate((500, 3000, 1000)):
        api.voucher(f"D{off}", created_at=at(i), discount={"type": "AMOUNT", "amount_off": off})
    order = {"amount": 10000}
    assert ids(qualify(api, order=order)) == ["D1000", "D3000", "D500"]  # DEFAULT: newest first
    assert ids(qualify(api, order=order, options={"sorting_rule": "BEST_DEAL"})) == ["D3000", "D1000", "D500"]
    assert ids(qualify(api, order=order, options={"sorting_rule": "LEAST_DEAL"})) == [
        "D500",
        "D1000",
        "D3000",
    ]


def test_the_scan_bound_stops_a_walk_over_codes_nobody_may_use(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(qualifications, "SCAN_BOUND", 10)
    api.voucher("OLD-PUBLIC", created_at=at(0))
    for i in range(1, 26):  # newer, a campaign's unpublished codes: looked at, passed over
        api.voucher(f"CAMP{i:02d}", created_at=at(i), campaign="C", campaign_id="camp_1")
    options: dict[str, Any] = {"limit": 5}
    requests_made, found = 0, []
    while True:
        page = qualify(api, order={"amount": 5000}, options=options)["redeemables"]
        requests_made += 1
        found += [r["id"] for r in page["data"]]
        if not page["has_more"]:
            break
        options = {"limit": 5, "starting_after": page["more_starting_after"]}
    assert found == ["OLD-PUBLIC"] and requests_made == 3  # 10 + 10 + 6 rows


def test_the_wallet_is_read_through_the_holder_index_not_the_store(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(qualifications, "SCAN_BOUND", 10)
    ann = customer(api, "ann")
    api.voucher("ANNS", created_at=at(0), holder_id=ann["id"])  # the oldest of 2001 codes
    for i in range(2000):
        api.voucher(f"P{i:04d}", created_at=at(1 + i // 1000, i % 1000))
    wallet = qualify(api, scenario="CUSTOMER_WALLET", customer={"source_id": "ann"}, order={"amount": 5000})
    assert ids(wallet) == ["ANNS"] and wallet["redeemables"]["has_more"] is False


def test_filters_narrow_the_candidates(api: Api) -> None:
    ann = customer(api, "ann")
    api.voucher("PUBLIC", created_at=at(1))
    api.voucher("ANNS", created_at=at(2), holder_id=ann["id"], campaign="W", campaign_id="camp_w")
    base = {"customer": {"source_id": "ann"}, "order": {"amount": 5000}}
    by_campaign = {"filters": {"campaign_id": {"conditions": {"$in": ["camp_w"]}}}}
    assert ids(qualify(api, **base, options=by_campaign)) == ["ANNS"]
    by_role = {"filters": {"holder_role": {"conditions": {"$is": ["OWNER"]}}}}
    assert ids(qualify(api, **base, options=by_role)) == ["ANNS"]
    tiers_only = {"filters": {"resource_type": {"conditions": {"$is": ["promotion_tier"]}}}}
    assert ids(qualify(api, **base, options=tiers_only)) == []


def test_the_answer_carries_the_cart_undiscounted_and_the_tracking_id(api: Api) -> None:
    api.voucher("PUBLIC", created_at=at(1))
    answer = qualify(api, customer={"source_id": "ann"}, order={"items": [{"price": 1500, "quantity": 2}]})
    assert answer["tracking_id"] == "ann"
    assert answer["order"]["amount"] == 3000 and answer["order"]["total_applied_discount_amount"] == 0
    entry = answer["redeemables"]["data"][0]
    assert entry["order"]["amount"] == 3000 and entry["order"]["total_amount"] == 2000
    assert entry["result"]["discount"]["amount_off"] == 1000
    assert answer["stacking_rules"]["redeemables_limit"] == 30


# ---- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"scenario": "PRODUCTS"}, "scenario"),
        ({"options": {"limit": 0}}, "limit"),
        ({"options": {"limit": 51}}, "limit"),
        ({"options": {"limit": True}}, "limit"),
        ({"options": {"limit": "5"}}, "limit"),
        ({"options": {"starting_after": "yesterday"}}, "starting_after"),
        ({"options": {"sorting_rule": "CHEAPEST"}}, "sorting_rule"),
        ({"options": {"expand": ["everything"]}}, "expand"),
        ({"options": {"filters": {"colour": {"conditions": {"$is": ["red"]}}}}}, "colour"),
        ({"options": {"filters": {"code": {"conditions": {"$near": ["A"]}}}}}, "$near"),
        ({"options": {"filters": {"code": "A"}}}, "code"),
        ({"options": "all"}, "options"),
        ({"order": "big"}, "order"),
        ({"order": {"items": "many"}}, "items"),
        ({"order": {"amount": "lots"}}, "amount"),
        ({"customer": ["ann"]}, "customer"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api: Api, body: dict[str, Any], named: str) -> None:
    r = api.post("/v1/qualifications", json=body)
    assert r.status_code == 400, r.text
    error = r.json()
    assert error["key"] == "invalid_payload" and named in error["details"], error


@pytest.mark.parametrize("raw", [b"[]", b"nope", b'"text"', b"{"])
def test_a_body_that_is_not_an_object_is_a_400(api: Api, raw: bytes) -> None:
    r = api.post("/v1/qualifications", data=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["key"] == "invalid_payload", r.text


# ---- promotion tiers: automatic candidates --------------------------------------------------------


def promotion_tiers(api: Api, *tiers: dict[str, Any]) -> list[dict[str, Any]]:
    r = api.post(
        "/v1/campaigns",
        json={
            "name": f"Promo {api.state.new_id('n', 6)}",
            "campaign_type": "PROMOTION",
            "promotion": {"tiers": list(tiers)},
        },
    )
    assert r.status_code == 200, r.text
    return r.json()["promotion"]["tiers"]  # type: ignore[no-any-return]


def a_tier(discount: dict[str, Any], rule_id: str | None = None, **fields: Any) -> dict[str, Any]:
    rules = {"validation_rules": [rule_id]} if rule_id else {}
    return {"name": "Tier", "banner": "Save", "action": {"discount": discount}, **rules, **fields}


def rule_id(api: Api, rules: dict[str, Any]) -> str:
    r = api.post("/v1/validation-rules", json={"name": "R", "rules": rules})
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


FIVE_OFF = {"type": "AMOUNT", "amount_off": 500, "effect": "APPLY_TO_ORDER"}


def test_promotion_tiers_are_automatic_candidates_in_all_and_audience_only(api: Api) -> None:
    customer(api, "ann", metadata={"vip": True})
    (open_tier,) = promotion_tiers(api, a_tier(FIVE_OFF))
    (big_carts,) = promotion_tiers(api, a_tier(FIVE_OFF, rule_id(api, MIN_100)))
    (vips,) = promotion_tiers(api, a_tier(FIVE_OFF, rule_id(api, VIP)))
    (off,) = promotion_tiers(api, a_tier(FIVE_OFF, active=False))
    base = {"customer": {"source_id": "ann"}, "order": {"amount": 5000}}
    answer = qualify(api, **base, options={"limit": 50})
    offered = {r["id"]: r for r in answer["redeemables"]["data"]}
    assert set(offered) == {open_tier["id"], vips["id"]}  # the small cart, the off tier: not offered
    entry = offered[open_tier["id"]]
    assert entry["object"] == "promotion_tier" and entry["order"]["total_applied_discount_amount"] == 500
    audience = qualify(api, **base, scenario="AUDIENCE_ONLY", options={"limit": 50})
    assert set(ids(audience)) == {open_tier["id"], big_carts["id"], vips["id"]}  # order rules not read
    assert ids(qualify(api, **base, scenario="CUSTOMER_WALLET")) == []
    assert off["id"] not in ids(audience)
    tiers_only = {"limit": 50, "filters": {"resource_type": {"conditions": {"$is": ["promotion_tier"]}}}}
    api.voucher("PUBLIC")
    assert set(ids(qualify(api, **base, options=tiers_only))) == {open_tier["id"], vips["id"]}


def test_tiers_count_in_the_scan_bound_and_page_with_the_vouchers(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(qualifications, "SCAN_BOUND", 3)
    made = [t["id"] for t in promotion_tiers(api, *(a_tier(FIVE_OFF) for _ in range(5)))]
    for second, tier_id in enumerate(made):  # one per second: a date cursor pages between them
        api.state.extra["promotion_tiers"][tier_id]["created_at"] = at(second)
    first = qualify(api, order={"amount": 5000}, options={"limit": 50})
    assert first["redeemables"]["has_more"] is True and len(ids(first)) <= 3
    seen, cursor = list(ids(first)), first["redeemables"].get("more_starting_after")
    while cursor is not None:
        page = qualify(api, order={"amount": 5000}, options={"limit": 50, "starting_after": cursor})
        seen += ids(page)
        cursor = page["redeemables"].get("more_starting_after")
    assert sorted(seen) == sorted(made)


def test_a_tiers_only_request_does_not_spend_its_scan_bound_on_vouchers(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(qualifications, "SCAN_BOUND", 5)
    (old_tier,) = promotion_tiers(api, a_tier(FIVE_OFF))
    api.state.extra["promotion_tiers"][old_tier["id"]]["created_at"] = at(0)
    for i in range(20):  # newer than the tier: a walk by date meets them first
        api.voucher(f"NEWER{i}", created_at=at(10 + i))
    tiers_only = {"limit": 5, "filters": {"resource_type": {"conditions": {"$in": ["promotion_tier"]}}}}
    answer = qualify(api, order={"amount": 5000}, options=tiers_only)
    assert ids(answer) == [old_tier["id"]] and answer["redeemables"]["has_more"] is False
    everything = qualify(api, order={"amount": 5000}, options={"limit": 50})
    assert old_tier["id"] not in ids(everything) and everything["redeemables"]["has_more"] is True


def test_an_unknown_order_id_is_a_404(api: Api) -> None:
    r = api.post("/v1/qualifications", json={"order": {"id": "ord_missing"}})
    assert r.status_code == 404 and r.json()["key"] == "not_found"


# ---- property: a qualification's discount is the validation's -----------------------------------

DISCOUNTS = st.one_of(
    st.builds(
        lambda off, effect: {"type": "AMOUNT", "amount_off": off, "effect": effect},
        st.integers(0, 20000),
        st.sampled_from(["APPLY_TO_ORDER", "APPLY_TO_ITEMS", "APPLY_TO_ITEMS_PROPORTIONALLY"]),
    ),
    st.builds(
        lambda pct, limit, effect: {
            "type": "PERCENT",
            "percent_off": pct,
            "effect": effect,
            **({"amount_limit": limit} if limit else {}),
        },
        st.integers(0, 100),
        st.one_of(st.none(), st.integers(1, 5000)),
        st.sampled_from(["APPLY_TO_ORDER", "APPLY_TO_ITEMS"]),
    ),
    st.builds(
        lambda fixed, effect: {"type": "FIXED", "fixed_amount": fixed, "effect": effect},
        st.integers(0, 20000),
        st.sampled_from(["APPLY_TO_ORDER", "APPLY_TO_ITEMS"]),
    ),
)
ITEMS = st.lists(
    st.fixed_dictionaries(
        {
            "product_id": st.sampled_from(["prod_a", "prod_b", "prod_c"]),
            "price": st.integers(0, 10000),
            "quantity": st.integers(1, 4),
        }
    ),
    min_size=0,
    max_size=4,
)
RULES = st.sampled_from(
    [
        None,
        MIN_100,
        {"1": {"name": "order.items.any", "conditions": {"$is": [{"object": "product", "id": "prod_a"}]}}},
        {"1": {"name": "order.items.count", "conditions": {"$more_than": [1]}}},
    ]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    vouchers=st.lists(st.tuples(DISCOUNTS, RULES, st.booleans()), min_size=1, max_size=5),
    tiers=st.lists(st.tuples(DISCOUNTS, RULES, st.booleans()), max_size=4),
    items=ITEMS,
    amount=st.one_of(st.none(), st.integers(0, 50000)),
)
def test_property_a_qualifications_discount_equals_the_validations(
    vouchers: list[tuple[dict[str, Any], dict[str, Any] | None, bool]],
    tiers: list[tuple[dict[str, Any], dict[str, Any] | None, bool]],
    items: list[dict[str, Any]],
    amount: int | None,
) -> None:
    api = Api()
    ann = customer(api, "ann")
    for i, (discount, rules, held) in enumerate(vouchers):
        code = f"V{i}"
        api.voucher(code, created_at=at(i), discount=discount, **({"holder_id": ann["id"]} if held else {}))
        if rules is not None:
            rule(api, rules, code)
    tier_ids = [
        promotion_tiers(api, a_tier(discount, rule_id(api, rules) if rules else None, active=active))[0]["id"]
        for discount, rules, active in tiers
    ]
    order: dict[str, Any] = {"items": items}
    if amount is not None:
        order["amount"] = amount
    body = {"customer": {"source_id": "ann"}, "order": order}
    answer = qualify(api, **body, options={"limit": 50})
    offered = {r["id"]: r for r in answer["redeemables"]["data"]}
    for i in range(len(vouchers)):
        code = f"V{i}"
        valid = validate(api, code, **body)
        assert (code in offered) == valid["valid"], (code, valid)
        if valid["valid"]:
            entry = offered[code]
            assert entry["order"] == valid["order"]
            assert entry["applicable_to"] == valid["redeemables"][0]["applicable_to"]
            assert entry["result"] == valid["redeemables"][0]["result"]
    for tier_id in tier_ids:  # a tier: the validation of {"object": "promotion_tier", "id": ...}
        r = api.post(
            "/v1/validations", json={"redeemables": [{"object": "promotion_tier", "id": tier_id}], **body}
        )
        assert r.status_code == 200, r.text
        valid = r.json()
        assert (tier_id in offered) == valid["valid"], (tier_id, valid)
        if valid["valid"]:
            entry = offered[tier_id]
            assert entry["object"] == "promotion_tier" and entry["order"] == valid["order"]
            assert entry["applicable_to"] == valid["redeemables"][0]["applicable_to"]
            assert entry["result"] == valid["redeemables"][0]["result"]


# ---- property: paging loses and repeats nothing ---------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, 30), st.booleans()), max_size=60),
    limit=st.integers(3, 8),
    bound=st.integers(3, 20),
)
def test_property_paging_by_the_cursor_returns_each_qualifying_candidate_once(
    rows: list[tuple[int, bool]], limit: int, bound: int
) -> None:
    """Candidates at random milliseconds (ties included), some qualifying: walking the pages with
    ``more_starting_after`` gives every qualifying one exactly once, newest first, whenever no
    millisecond holds more candidates than a page or the bound can (else its extra ties are
    the documented loss), and every request looks at ``bound`` candidates at most."""
    from django_voucherify.sandbox import qualification_sources as sources

    per_ms: dict[int, int] = {}
    for ms, _ in rows:
        per_ms[ms] = per_ms.get(ms, 0) + 1
    all_rows = sorted(
        (sources.Candidate("voucher", f"c{i}", ms * 1000, i, {"ok": ok}) for i, (ms, ok) in enumerate(rows)),
        key=lambda c: c.sort_key,
        reverse=True,
    )
    looked: list[int] = []

    def qualify(c: sources.Candidate) -> Any:
        looked[-1] += 1
        return qualifications.Qualified(c, None) if c.obj and c.obj["ok"] else None  # type: ignore[arg-type]

    before: int | None = None
    seen: list[str] = []
    for _ in range(200):
        looked.append(0)
        stream = (c for c in all_rows if before is None or c.micros < before)
        page = qualifications.collect(stream, qualify, limit, bound)
        assert looked[-1] <= bound
        seen += [q.candidate.id for q in page.items]
        if not page.has_more:
            break
        assert page.cursor is not None
        before = page.cursor * 1000
    else:
        raise AssertionError("paging did not end")
    wanted = [c.id for c in all_rows if c.obj and c.obj["ok"]]
    assert len(seen) == len(set(seen))  # nothing twice
    if max(per_ms.values(), default=0) <= min(limit, bound):
        assert seen == wanted or sorted(seen) == sorted(wanted)
        # newest first across pages (ties of one millisecond in any order)
        order = {c.id: c.micros for c in all_rows}
        assert [order[i] for i in seen] == sorted((order[i] for i in seen), reverse=True)
    else:
        assert set(seen) <= set(wanted)


# ---- filters that admit no code nobody holds skip the public codes ---------------------------------


def test_own_or_automatic_reaches_a_customers_codes_older_than_the_scan_bound(api: Api) -> None:
    """checkout.offers' filter (promotion tiers OR the customer's own codes) admits no code nobody
    holds: the public codes are not walked, so codes the customer got before more than
    ``SCAN_BOUND`` newer codes are offered, in one request."""
    from django_voucherify.checkout.offers import OWN_OR_AUTOMATIC

    ann = customer(api, "ann")
    api.voucher("ANNS-OLDEST", created_at=at(0), holder_id=ann["id"])
    (tier,) = promotion_tiers(api, a_tier(FIVE_OFF))
    api.state.extra["promotion_tiers"][tier["id"]]["created_at"] = at(0, 1)
    newer = qualifications.SCAN_BOUND + 200
    for i in range(newer):  # newer codes nobody holds
        api.voucher(f"P{i:04d}", created_at=at(1 + i // 1000, i % 1000))
    api.voucher("ANNS-NEWEST", created_at=at(59), holder_id=ann["id"])
    base = {"customer": {"source_id": "ann"}, "order": {"amount": 5000}}
    answer = qualify(api, **base, options={"limit": 50, "filters": OWN_OR_AUTOMATIC})
    assert ids(answer) == ["ANNS-NEWEST", tier["id"], "ANNS-OLDEST"]
    assert answer["redeemables"]["has_more"] is False
    # A filter that may admit a code nobody holds still walks them, within the bound.
    may_admit = {**OWN_OR_AUTOMATIC, "code": {"conditions": {"$starts_with": ["P"]}}}
    walked = qualify(api, **base, options={"limit": 50, "filters": may_admit})
    assert walked["redeemables"]["has_more"] is True and "ANNS-OLDEST" not in ids(walked)


CODE_X = {"code": {"conditions": {"$is": ["X"]}}}
CAMPAIGN_C = {"campaign_id": {"conditions": {"$is": ["c"]}}}


@pytest.mark.parametrize(
    ("filters", "admits"),
    [
        (None, True),
        ({}, True),
        ({"junction": "or"}, True),
        ({"holder_role": {"conditions": {"$is": ["OWNER"]}}}, False),
        ({"holder_role": {"conditions": {"$is_unknown": [""]}}}, True),
        ({"resource_type": {"conditions": {"$in": ["promotion_tier"]}}}, False),
        ({"resource_type": {"conditions": {"$is_not": ["promotion_tier"]}}}, True),
        ({"campaign_id": {"conditions": {"$is": ["camp_1"]}}}, False),
        ({"campaign_type": {"conditions": {"$is": ["PROMOTION"]}}}, False),
        ({"voucher_type": {"conditions": {"$is": ["GIFT_VOUCHER"]}}}, False),
        ({"voucher_type": {"conditions": {"$is": ["DISCOUNT_VOUCHER"]}}}, True),
        ({"code": {"conditions": {"$is": ["X"]}}}, True),  # depends on the code: may admit one
        ({"junction": "and", **CODE_X, **CAMPAIGN_C}, False),
        ({"junction": "or", **CODE_X, **CAMPAIGN_C}, True),
        (
            {
                "junction": "or",
                "resource_type": {"conditions": {"$is": ["promotion_tier"]}},
                "holder_role": {"conditions": {"$is": ["OWNER"]}},
            },
            False,
        ),
    ],
)
def test_which_filters_admit_a_code_nobody_holds(api: Api, filters: Any, admits: bool) -> None:
    assert qualifications._admits_public_codes(api.state, filters) is admits


FILTER_CLAUSES = {
    "resource_type": ["voucher", "promotion_tier"],
    "holder_role": ["OWNER"],
    "campaign_id": ["camp_w", "camp_x"],
    "campaign_type": ["PROMOTION", "DISCOUNT_COUPONS"],
    "voucher_type": ["DISCOUNT_VOUCHER", "GIFT_VOUCHER"],
    "code": ["PUB0", "ANN0", "BOB0"],
    "category_id": ["cat_1"],
}
CLAUSE = st.sampled_from(sorted(FILTER_CLAUSES)).flatmap(
    lambda field: st.tuples(
        st.just(field),
        st.one_of(
            st.tuples(
                st.sampled_from(["$is", "$is_not", "$in", "$not_in"]),
                st.lists(st.sampled_from(FILTER_CLAUSES[field]), min_size=1, max_size=2),
            ),
            st.tuples(st.sampled_from(["$has_value", "$is_unknown"]), st.just([""])),
        ),
    )
)


@settings(max_examples=80, deadline=None)
@given(
    junction=st.sampled_from(["and", "or"]),
    clauses=st.lists(CLAUSE, max_size=3, unique_by=lambda c: c[0]),
    scenario=st.sampled_from(["ALL", "AUDIENCE_ONLY", "CUSTOMER_WALLET"]),
)
def test_property_skipping_the_public_codes_changes_no_answer(
    junction: str, clauses: list[tuple[str, tuple[str, Any]]], scenario: str
) -> None:
    """On a store within the scan bound (public codes, the customer's and another's, a campaign's
    codes, a tier), random filters give the same answer whether or not the public codes are
    walked: a filter said to admit none of them (``_admits_public_codes``) admits none."""
    api = Api()
    ann, bob = customer(api, "ann"), customer(api, "bob")
    api.voucher("PUB0", created_at=at(1), category_id="cat_1")
    api.voucher("PUB1", created_at=at(2))
    api.voucher("ANN0", created_at=at(3), holder_id=ann["id"], campaign="W", campaign_id="camp_w")
    api.voucher("ANN1", created_at=at(4), holder_id=ann["id"], category_id="cat_1")
    api.voucher("BOB0", created_at=at(5), holder_id=bob["id"])
    api.voucher("CAMP0", created_at=at(6), campaign="X", campaign_id="camp_x")
    promotion_tiers(api, a_tier(FIVE_OFF))
    filters: dict[str, Any] = {"junction": junction}
    for field, (op, values) in clauses:
        filters[field] = {"conditions": {op: values}}
    body = {
        "scenario": scenario,
        "customer": {"source_id": "ann"},
        "order": {"amount": 5000},
        "options": {"limit": 50, "filters": filters},
    }
    answer = qualify(api, **body)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(qualifications, "_admits_public_codes", lambda state, filters: True)
        walked = qualify(api, **body)
    assert answer == walked
