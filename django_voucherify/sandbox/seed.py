"""Demo data for ``--seed``: a few vouchers of each kind, customers and orders.

Seeding goes through the same code paths as the API, so seeded objects have exact API shapes.
Re-seeding an already seeded state is a no-op for codes/source_ids that exist.
"""

from __future__ import annotations

import json
from typing import Any

from django_voucherify.sandbox import campaign_store, rule_store
from django_voucherify.sandbox.engine.codegen import CodeSource
from django_voucherify.sandbox.handlers import campaign_vouchers, campaigns, validation_rules
from django_voucherify.sandbox.handlers.orders import upsert_order
from django_voucherify.sandbox.handlers.vouchers import create
from django_voucherify.sandbox.routing import SandboxRequest
from django_voucherify.sandbox.state import SandboxState

VOUCHERS: dict[str, dict[str, Any]] = {
    "WELCOME10": {
        "type": "DISCOUNT_VOUCHER",
        "discount": {"type": "AMOUNT", "amount_off": 1000},
        "category": "welcome",
        "metadata": {"demo": True},
    },
    "SPRING20": {
        "type": "DISCOUNT_VOUCHER",
        "discount": {"type": "PERCENT", "percent_off": 20, "amount_limit": 5000},
        "redemption": {"quantity": 100},
    },
    "FIXED50": {"type": "DISCOUNT_VOUCHER", "discount": {"type": "FIXED", "fixed_amount": 5000}},
    "ONCE5": {
        "type": "DISCOUNT_VOUCHER",
        "discount": {"type": "AMOUNT", "amount_off": 500},
        "redemption": {"quantity": 1},
    },
    "EXPIRED": {
        "type": "DISCOUNT_VOUCHER",
        "discount": {"type": "AMOUNT", "amount_off": 500},
        "expiration_date": "2020-01-01T00:00:00.000Z",
    },
    "GIFT100": {"type": "GIFT_VOUCHER", "gift": {"amount": 10000}},
    "LOYAL-1": {"type": "LOYALTY_CARD", "campaign": "Loyalty Program", "loyalty_card": {"points": 500}},
    "MUGLOVE": {
        "type": "DISCOUNT_VOUCHER",
        "discount": {"type": "PERCENT", "percent_off": 15},
        "metadata": {"demo": "product-limited"},
    },
}

#: Validation rules (``create-validation-rules`` bodies) and the vouchers each is assigned to:
#: a product-limited discount, refused with the rule's message on a cart without that product
#: (the demo shop's products are Voucherify products whose source id is the shop's SKU).
RULES: list[tuple[dict[str, Any], list[str]]] = [
    (
        {
            "name": "Orders with a mug",
            "error": {"message": "MUGLOVE applies to orders with a mug."},
            "rules": {
                "1": {
                    "name": "order.items.any",
                    "conditions": {"$is": [{"object": "product", "source_id": "MUG"}]},
                }
            },
        },
        ["MUGLOVE"],
    ),
]

#: The automatic promotion's rule (by name; its tier is assigned it through ``validation_rules``).
OVER_50_RULE: dict[str, Any] = {
    "name": "Orders over 50",
    "error": {"message": "The 10% promotion applies to orders over 50."},
    "rules": {"1": {"name": "order.amount", "conditions": {"$more_than": [5000]}}},
}

#: Campaigns (``create-campaign`` bodies, ``vouchers_count`` left out: see :func:`_seed_campaigns`)
#: and how many codes each gets. The PROMOTION applies without a code (its tier); SPRING-####
#: codes are public coupons to hand out; WELCOME-#### codes are published one per customer
#: (``join_once``) by the shop at sign-up.
CAMPAIGNS: list[tuple[dict[str, Any], int]] = [
    (
        {
            "name": "Big basket",
            "campaign_type": "PROMOTION",
            "promotion": {
                "tiers": [
                    {
                        "name": "10% off orders over 50",
                        "banner": "10% off orders over 50",
                        "action": {"discount": {"type": "PERCENT", "percent_off": 10}},
                        "validation_rules": [OVER_50_RULE["name"]],  # replaced by the rule's id
                    }
                ]
            },
        },
        0,
    ),
    (
        {
            "name": "Spring coupons",
            "campaign_type": "DISCOUNT_COUPONS",
            "voucher": {
                "type": "DISCOUNT_VOUCHER",
                "discount": {"type": "AMOUNT", "amount_off": 300},
                "redemption": {"quantity": 1},
                "code_config": {"pattern": "SPRING-####", "charset": "0123456789"},
            },
        },
        50,
    ),
    (
        {
            "name": "Welcome",
            "campaign_type": "DISCOUNT_COUPONS",
            "join_once": True,
            "voucher": {
                "type": "DISCOUNT_VOUCHER",
                "discount": {"type": "AMOUNT", "amount_off": 500},
                "redemption": {"quantity": 1},
                "code_config": {"pattern": "WELCOME-####", "charset": "0123456789"},
            },
        },
        200,
    ),
]

CUSTOMERS: list[dict[str, Any]] = [
    {
        "source_id": "alice@example.com",
        "name": "Alice Example",
        "email": "alice@example.com",
        "address": {"city": "Oslo", "country": "NO"},
        "metadata": {"tier": "gold"},
    },
    {
        "source_id": "bob@example.com",
        "name": "Bob Example",
        "email": "bob@example.com",
        "address": {"city": "Rome", "country": "IT"},
    },
]

ORDERS: list[dict[str, Any]] = [
    {
        "source_id": "demo-order-1",
        "status": "PAID",
        "customer": {"source_id": "alice@example.com"},
        "items": [{"source_id": "sku-mug", "price": 1500, "quantity": 2}],
    },
    {
        "source_id": "demo-order-2",
        "status": "CREATED",
        "customer": {"source_id": "bob@example.com"},
        "items": [{"source_id": "sku-tee", "price": 2500, "quantity": 1}],
    },
]


def seed(state: SandboxState) -> None:
    """Load the demo data into ``state`` (idempotent)."""
    with state.lock:
        for payload in CUSTOMERS:
            state.upsert_customer(payload)
        alice = state.find_customer("alice@example.com")
        for code, payload in VOUCHERS.items():
            if code in state.vouchers or code in state.bin:
                continue
            data = dict(payload)
            if data["type"] == "LOYALTY_CARD" and alice is not None:
                data["holder_id"] = alice["id"]
            create(state, code, data)
        for payload in ORDERS:
            if state.find_order(payload["source_id"]) is None:
                upsert_order(state, payload)
        _seed_rules(state)
        _seed_campaigns(state)
        state.changed()


def _seed_rules(state: SandboxState) -> None:
    """Each rule of :data:`RULES` once (by name), through the API's own handlers, assigned to its
    vouchers."""
    named = {rule.get("name") for rule in rule_store.rules(state).values()}
    for body, codes in RULES:
        if body["name"] in named:
            continue
        rule = _call(validation_rules.create_rule, state, body)
        for code in codes:
            assignment = {"related_object_type": "voucher", "related_object_id": code}
            _call(validation_rules.create_assignment, state, assignment, validationRuleId=rule["id"])


def _seed_campaigns(state: SandboxState) -> None:
    """Each campaign of :data:`CAMPAIGNS` once (by name), through create-campaign, its codes
    generated here, in this hold of the lock: create-campaign would generate them in an async
    job, so a freshly seeded sandbox could answer (a publication, a code typed at checkout)
    before they exist. Codes missing from an earlier seed (a campaign stored without all its
    codes) are topped up, so re-seeding a seeded state changes nothing."""
    rules_by_name = {str(rule.get("name")): rule_id for rule_id, rule in rule_store.rules(state).items()}
    if OVER_50_RULE["name"] not in rules_by_name:
        rules_by_name[OVER_50_RULE["name"]] = _call(validation_rules.create_rule, state, OVER_50_RULE)["id"]
    for body, count in CAMPAIGNS:
        campaign = campaign_store.find(state, body["name"])
        if campaign is None:
            created = _call(campaigns.create_campaign, state, _with_rule_ids(body, rules_by_name))
            campaign = campaign_store.campaigns(state)[created["id"]]
        missing = count - sum(1 for v in state.vouchers.values() if v.get("campaign_id") == campaign["id"])
        while missing > 0:
            made, ran_out = campaign_vouchers.generate_chunk(
                state, campaign, CodeSource(campaign["voucher"]["code_config"]), missing, {}
            )
            missing -= len(made)
            if ran_out:
                break


def _with_rule_ids(body: dict[str, Any], rules_by_name: dict[str, str]) -> dict[str, Any]:
    """``body`` with its tiers' rule names replaced by the rules' ids."""
    tiers = (body.get("promotion") or {}).get("tiers")
    if not tiers:
        return body
    named = [
        {**t, "validation_rules": [rules_by_name[n] for n in t.get("validation_rules", [])]} for t in tiers
    ]
    return {**body, "promotion": {"tiers": named}}


def _call(handler: Any, state: SandboxState, body: dict[str, Any], **path_params: str) -> Any:
    request = SandboxRequest(
        method="POST",
        path="",
        query={},
        headers={},
        body=json.dumps(body).encode(),
        request_id="seed",
        path_params=path_params,
    )
    return handler(request, state).body  # the stored value (a JSON-able dict)
