"""The endpoint table's rows for SCOPE-2.md's offers: qualifications, campaigns, promotion tiers
and stacks, validation rules and assignments, products and SKUs, categories, publications and
custom events (test_endpoints.py runs them with the first part's rows).

Every path parameter is one that needs percent-encoding, spelled out encoded by hand (not by
the client's own function): campaign names with spaces and slashes, shop ``source_id``s for
products and SKUs, ids with ``?``, ``#`` and non-ASCII characters.
"""

from __future__ import annotations

from tests.api.wire import CUSTOMER, TRANSACTIONS_EXPORT, WEIRD, WEIRD_ENC, Case, sends

#: Campaigns are addressed by id or by name; names have spaces and slashes.
CAMPAIGN = "Summer Sale 2024/EU"
CAMPAIGN_ENC = "Summer%20Sale%202024%2FEU"
PROMO = "camp_Pr0mo?x=1"
PROMO_ENC = "camp_Pr0mo%3Fx%3D1"
TIER = "promo_aaAF8/mVAz#1"
TIER_ENC = "promo_aaAF8%2FmVAz%231"
STACK = "stack_ü 7"
STACK_ENC = "stack_%C3%BC%207"
RULE = "val_q8qUBMOh5/qIQ"
RULE_ENC = "val_q8qUBMOh5%2FqIQ"
ASSIGNMENT = "asgm_74F7QZoYbUoljwQO?"
ASSIGNMENT_ENC = "asgm_74F7QZoYbUoljwQO%3F"
#: Products and SKUs are addressed by the shop's own ``source_id``.
PRODUCT = "shop/ring+gold 42"
PRODUCT_ENC = "shop%2Fring%2Bgold%2042"
SKU = "shop/ring+gold 42#M"
SKU_ENC = "shop%2Fring%2Bgold%2042%23M"
CATEGORY = "cat_0bb81a48/1615%"
CATEGORY_ENC = "cat_0bb81a48%2F1615%25"

PERCENT = {"type": "PERCENT", "percent_off": 10, "effect": "APPLY_TO_ORDER"}
AMOUNT = {"type": "AMOUNT", "amount_off": 500, "effect": "APPLY_TO_ITEMS"}
CART = {
    "amount": 24900,
    "items": [
        {"source_id": "shop/ring+gold 42#M", "related_object": "sku", "quantity": 2, "price": 9950},
        {"product_id": "prod_0a41bcf6", "quantity": 1, "price": 5000},
    ],
    "metadata": {"channel": "web"},
}

QUALIFICATION = {
    "customer": {"source_id": CUSTOMER},
    "order": CART,
    "scenario": "ALL",
    "tracking_id": "track/anna",
    "options": {
        "limit": 50,
        "expand": ["redeemable", "category"],
        "sorting_rule": "BEST_DEAL",
        "filters": {
            "junction": "and",
            "resource_type": {"conditions": {"$in": ["promotion_tier", "voucher"]}},
        },
    },
    "metadata": {"page": "cart"},
}
CAMPAIGN_BODY = {
    "name": "Summer Sale 2024/EU",
    "campaign_type": "DISCOUNT_COUPONS",
    "type": "AUTO_UPDATE",
    "join_once": True,
    "vouchers_count": 500,
    "voucher": {
        "type": "DISCOUNT_VOUCHER",
        "discount": PERCENT,
        "code_config": {"pattern": "SUMMER-####", "charset": "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"},
        "redemption": {"quantity": 1},
    },
    "start_date": "2024-06-01T00:00:00Z",
    "expiration_date": "2024-09-01T00:00:00Z",
    "metadata": {"region": "EU"},
}
TIER_BODY = {
    "name": "10% over 50 EUR",
    "banner": "10% off orders over 50 EUR",
    "action": {"discount": PERCENT},
    "active": True,
    "hierarchy": 1,
    "start_date": "2024-06-01T00:00:00Z",
    "validity_day_of_week": [1, 2, 3, 4, 5],
    "metadata": {"source": "admin"},
}
STACK_BODY = {
    "name": "Summer stack",
    "tiers": {
        "ids": ["promo_aaAF8mVAzA0PF1igia2OC63d", "promo_t9zdL6XMFk7B8fQ23zxELtdE"],
        "hierarchy_mode": "MANUAL",
    },
    "category_id": "cat_0bb81a481615a37b5e",
}
RULE_BODY = {
    "name": "Rings only, over 50 EUR",
    "type": "basic",
    "rules": {
        "1": {"name": "order.amount", "conditions": {"$more_than": [5000]}, "rules": {}},
        "logic": "1",
    },
    "applicable_to": {
        "included": [
            {"object": "product", "id": "prod_0a41bcf6", "source_id": PRODUCT, "effect": "APPLY_TO_EVERY"}
        ],
        "excluded": [],
        "included_all": False,
    },
    "error": {"message": "This code is for rings, on orders over 50 EUR."},
}
PRODUCT_BODY = {
    "source_id": PRODUCT,
    "name": "Gold ring",
    "price": 9950,
    "attributes": ["size", "colour"],
    "image_url": "https://shop.example.com/ring.png",
    "metadata": {"material": "gold"},
}
SKU_BODY = {
    "source_id": SKU,
    "sku": "Gold ring, size M",
    "price": 9950,
    "currency": "EUR",
    "attributes": {"size": "M", "colour": "gold"},
    "metadata": {"stock": 4},
}

OFFER_CASES: dict[str, Case] = {
    # Qualifications
    "check-eligibility": sends(
        QUALIFICATION, lambda c, b: c.qualifications.check_eligibility(b), "POST", "/v1/qualifications"
    ),
    # Campaigns
    "create-campaign": sends(CAMPAIGN_BODY, lambda c, b: c.campaigns.create(b), "POST", "/v1/campaigns"),
    "list-campaigns": Case(
        lambda c: c.campaigns.list(
            limit=100,
            page=2,
            campaign_type="PROMOTION",
            campaign_status="DONE",
            is_referral_code=False,
            expand="category",
            order="-created_at",
            filters={"junction": "and", "campaigns": {"conditions": {"$in": [CAMPAIGN, "Welcome"]}}},
        ),
        "GET",
        "/v1/campaigns",
        query=[
            ("limit", "100"),
            ("page", "2"),
            ("campaign_type", "PROMOTION"),
            ("campaign_status", "DONE"),
            ("is_referral_code", "false"),
            ("expand", "category"),
            ("order", "-created_at"),
            ("filters[junction]", "and"),
            ("filters[campaigns][conditions][$in][0]", CAMPAIGN),
            ("filters[campaigns][conditions][$in][1]", "Welcome"),
        ],
    ),
    "get-campaign": Case(lambda c: c.campaigns.get(CAMPAIGN), "GET", f"/v1/campaigns/{CAMPAIGN_ENC}"),
    "update-campaign": sends(
        {
            "description": "Extended",
            "expiration_date": "2024-09-15T00:00:00Z",
            "metadata": {"ext": True},
        },
        lambda c, b: c.campaigns.update(CAMPAIGN, b),
        "PUT",
        f"/v1/campaigns/{CAMPAIGN_ENC}",
    ),
    "delete-campaign": Case(
        lambda c: c.campaigns.delete(CAMPAIGN, force=True),
        "DELETE",
        f"/v1/campaigns/{CAMPAIGN_ENC}",
        query=[("force", "true")],
        status=202,
    ),
    "add-vouchers-to-campaign": sends(
        {"category": "summer", "metadata": {"batch": 3}, "code_config": {"pattern": "SUM-####"}},
        lambda c, b: c.campaigns.add_vouchers(CAMPAIGN, 250, b),
        "POST",
        f"/v1/campaigns/{CAMPAIGN_ENC}/vouchers",
        query=[("vouchers_count", "250")],
        status=202,
    ),
    "add-voucher-with-specific-code-to-campaign": sends(
        {"category": "partners", "redemption": {"quantity": 1}, "metadata": {"partner": "acme"}},
        lambda c, b: c.campaigns.add_voucher(CAMPAIGN, WEIRD, b),
        "POST",
        f"/v1/campaigns/{CAMPAIGN_ENC}/vouchers/{WEIRD_ENC}",
    ),
    "import-vouchers-to-campaign": sends(
        [
            {
                "code": "CAMP-1",
                "type": "DISCOUNT_VOUCHER",
                "discount": PERCENT,
                "redemption": {"quantity": 1},
            },
            {"code": WEIRD, "type": "DISCOUNT_VOUCHER", "discount": AMOUNT, "metadata": {"vip": True}},
        ],
        lambda c, b: c.campaigns.import_json(CAMPAIGN, b),
        "POST",
        f"/v1/campaigns/{CAMPAIGN_ENC}/import",
        status=202,
    ),
    "import-vouchers-to-campaign-using-csv": sends(
        b"Code,Category\nCSV-1,summer\n",
        lambda c, b: c.campaigns.import_csv(CAMPAIGN, b, filename="codes.csv"),
        "POST",
        f"/v1/campaigns/{CAMPAIGN_ENC}/importCSV",
    ),
    "enable-campaign": Case(
        lambda c: c.campaigns.enable(CAMPAIGN), "POST", f"/v1/campaigns/{CAMPAIGN_ENC}/enable"
    ),
    "disable-campaign": Case(
        lambda c: c.campaigns.disable(CAMPAIGN), "POST", f"/v1/campaigns/{CAMPAIGN_ENC}/disable"
    ),
    "list-campaign-transactions": Case(
        lambda c: c.campaigns.list_transactions(
            CAMPAIGN,
            limit=50,
            order="-id",
            starting_after_id="vtx_0c9afe802593b34b80",
            filters={"voucher_id": {"conditions": {"$in": ["v_1aX"]}}},
        ),
        "GET",
        f"/v1/campaigns/{CAMPAIGN_ENC}/transactions",
        query=[
            ("limit", "50"),
            ("order", "-id"),
            ("starting_after_id", "vtx_0c9afe802593b34b80"),
            ("filters[voucher_id][conditions][$in][0]", "v_1aX"),
        ],
    ),
    "export-campaign-transactions": sends(
        TRANSACTIONS_EXPORT,
        lambda c, b: c.campaigns.export_transactions(CAMPAIGN, b),
        "POST",
        f"/v1/campaigns/{CAMPAIGN_ENC}/transactions/export",
        envelope="parameters",
    ),
    "get-campaign-summary": Case(
        lambda c: c.campaigns.summary(CAMPAIGN, start_date="2024-06-01", end_date="2024-06-30"),
        "GET",
        f"/v1/campaigns/{CAMPAIGN_ENC}/summary",
        query=[("start_date", "2024-06-01"), ("end_date", "2024-06-30")],
    ),
    # Promotions: tiers
    "list-promotion-tiers": Case(
        lambda c: c.promotions.list_tiers(is_available=True, limit=100, page=3, order="-created_at"),
        "GET",
        "/v1/promotions/tiers",
        query=[("is_available", "true"), ("limit", "100"), ("page", "3"), ("order", "-created_at")],
    ),
    "list-promotion-tiers-from-campaign": Case(
        lambda c: c.promotions.list_campaign_tiers(PROMO), "GET", f"/v1/promotions/{PROMO_ENC}/tiers"
    ),
    "add-promotion-tier-to-campaign": sends(
        TIER_BODY,
        lambda c, b: c.promotions.create_tier(PROMO, b),
        "POST",
        f"/v1/promotions/{PROMO_ENC}/tiers",
    ),
    "get-promotion-tier": Case(
        lambda c: c.promotions.get_tier(TIER), "GET", f"/v1/promotions/tiers/{TIER_ENC}"
    ),
    "update-promotion-tier": sends(
        {"banner": "12% off", "action": {"discount": {**PERCENT, "percent_off": 12}}},
        lambda c, b: c.promotions.update_tier(TIER, b),
        "PUT",
        f"/v1/promotions/tiers/{TIER_ENC}",
    ),
    "delete-promotion-tier": Case(
        lambda c: c.promotions.delete_tier(TIER), "DELETE", f"/v1/promotions/tiers/{TIER_ENC}", status=204
    ),
    "enable-promotion-tier": Case(
        lambda c: c.promotions.enable_tier(TIER), "POST", f"/v1/promotions/tiers/{TIER_ENC}/enable"
    ),
    "disable-promotion-tier": Case(
        lambda c: c.promotions.disable_tier(TIER), "POST", f"/v1/promotions/tiers/{TIER_ENC}/disable"
    ),
    # Promotions: stacks
    "list-all-promotion-stacks": Case(
        lambda c: c.promotions.list_stacks(
            limit=20,
            page=2,
            order="created_at",
            created_at={"after": "2024-01-01T00:00:00Z"},
            updated_at={"before": "2024-07-01T00:00:00Z"},
        ),
        "GET",
        "/v1/promotions/stacks",
        query=[
            ("limit", "20"),
            ("page", "2"),
            ("order", "created_at"),
            ("created_at[after]", "2024-01-01T00:00:00Z"),
            ("updated_at[before]", "2024-07-01T00:00:00Z"),
        ],
    ),
    "list-promotion-stacks-in-campaign": Case(
        lambda c: c.promotions.list_campaign_stacks(PROMO), "GET", f"/v1/promotions/{PROMO_ENC}/stacks"
    ),
    "create-promotion-stack": sends(
        STACK_BODY,
        lambda c, b: c.promotions.create_stack(PROMO, b),
        "POST",
        f"/v1/promotions/{PROMO_ENC}/stacks",
    ),
    "get-promotion-stack": Case(
        lambda c: c.promotions.get_stack(PROMO, STACK),
        "GET",
        f"/v1/promotions/{PROMO_ENC}/stacks/{STACK_ENC}",
    ),
    "update-promotion-stack": sends(
        {"name": "Renamed"},
        lambda c, b: c.promotions.update_stack(PROMO, STACK, b),
        "PUT",
        f"/v1/promotions/{PROMO_ENC}/stacks/{STACK_ENC}",
    ),
    "delete-promotion-stack": Case(
        lambda c: c.promotions.delete_stack(PROMO, STACK),
        "DELETE",
        f"/v1/promotions/{PROMO_ENC}/stacks/{STACK_ENC}",
        status=204,
    ),
    # Validation rules
    "list-validation-rules": Case(
        lambda c: c.validation_rules.list(
            limit=10,
            page=1,
            order="-created_at",
            start_date="2024-01-01T00:00:00Z",
            end_date="2024-12-31T00:00:00Z",
        ),
        "GET",
        "/v1/validation-rules",
        query=[
            ("limit", "10"),
            ("page", "1"),
            ("order", "-created_at"),
            ("start_date", "2024-01-01T00:00:00Z"),
            ("end_date", "2024-12-31T00:00:00Z"),
        ],
    ),
    "create-validation-rules": sends(
        RULE_BODY, lambda c, b: c.validation_rules.create(b), "POST", "/v1/validation-rules"
    ),
    "get-validation-rule": Case(
        lambda c: c.validation_rules.get(RULE), "GET", f"/v1/validation-rules/{RULE_ENC}"
    ),
    "update-validation-rule": sends(
        {"name": "Rings", "error": {"message": "Rings only."}},
        lambda c, b: c.validation_rules.update(RULE, b),
        "PUT",
        f"/v1/validation-rules/{RULE_ENC}",
    ),
    "delete-validation-rules": Case(
        lambda c: c.validation_rules.delete(RULE), "DELETE", f"/v1/validation-rules/{RULE_ENC}", status=204
    ),
    "list-validation-rules-assignments": Case(
        lambda c: c.validation_rules.list_all_assignments(
            related_object_id="promo_aaAF8mVAzA0PF1igia2OC63d",
            rule=RULE,
            page=2,
            limit=100,
            order="-created_at",
        ),
        "GET",
        "/v1/validation-rules-assignments",
        query=[
            ("related_object_id", "promo_aaAF8mVAzA0PF1igia2OC63d"),
            ("rule", RULE),
            ("page", "2"),
            ("limit", "100"),
            ("order", "-created_at"),
        ],
    ),
    "list-validation-rule-assignments": Case(
        lambda c: c.validation_rules.list_assignments(RULE, limit=100, page=1, order="created_at"),
        "GET",
        f"/v1/validation-rules/{RULE_ENC}/assignments",
        query=[("limit", "100"), ("page", "1"), ("order", "created_at")],
    ),
    "create-validation-rule-assignment": Case(
        lambda c: c.validation_rules.create_assignment(RULE, "campaign", "camp_1bC2dE", force=True),
        "POST",
        f"/v1/validation-rules/{RULE_ENC}/assignments",
        query=[("force", "true")],
        body={"related_object_type": "campaign", "related_object_id": "camp_1bC2dE"},
    ),
    "delete-validation-rule-assignment": Case(
        lambda c: c.validation_rules.delete_assignment(RULE, ASSIGNMENT),
        "DELETE",
        f"/v1/validation-rules/{RULE_ENC}/assignments/{ASSIGNMENT_ENC}",
        status=204,
    ),
    # Products and SKUs
    "list-products": Case(
        lambda c: c.products.list(limit=100, page=4, order="-updated_at", start_date="2024-01-01T00:00:00Z"),
        "GET",
        "/v1/products",
        query=[
            ("limit", "100"),
            ("page", "4"),
            ("order", "-updated_at"),
            ("start_date", "2024-01-01T00:00:00Z"),
        ],
    ),
    "create-product": sends(PRODUCT_BODY, lambda c, b: c.products.create(b), "POST", "/v1/products"),
    "get-product": Case(lambda c: c.products.get(PRODUCT), "GET", f"/v1/products/{PRODUCT_ENC}"),
    "update-product": sends(
        {"price": 10950, "metadata": {"material": "gold", "sale": False}},
        lambda c, b: c.products.update(PRODUCT, b),
        "PUT",
        f"/v1/products/{PRODUCT_ENC}",
    ),
    "delete-product": Case(
        lambda c: c.products.delete(PRODUCT, force=True),
        "DELETE",
        f"/v1/products/{PRODUCT_ENC}",
        query=[("force", "true")],
        status=204,
    ),
    "update-products-in-bulk": sends(
        [PRODUCT_BODY, {"source_id": "shop/necklace", "name": "Necklace", "price": 15000}],
        lambda c, b: c.products.bulk_update(b),
        "POST",
        "/v1/products/bulk/async",
        status=202,
    ),
    "update-products-metadata-in-bulk": Case(
        lambda c: c.products.update_metadata([PRODUCT, "shop/necklace"], {"collection": "summer"}),
        "POST",
        "/v1/products/metadata/async",
        body={"source_ids": [PRODUCT, "shop/necklace"], "metadata": {"collection": "summer"}},
        status=202,
    ),
    "get-sku": Case(lambda c: c.products.get_sku(SKU), "GET", f"/v1/skus/{SKU_ENC}"),
    "list-SKUs-in-product": Case(
        lambda c: c.products.list_skus(PRODUCT, limit=100, page=2, order="created_at"),
        "GET",
        f"/v1/products/{PRODUCT_ENC}/skus",
        query=[("limit", "100"), ("page", "2"), ("order", "created_at")],
    ),
    "create-sku": sends(
        SKU_BODY, lambda c, b: c.products.create_sku(PRODUCT, b), "POST", f"/v1/products/{PRODUCT_ENC}/skus"
    ),
    "update-sku": sends(
        {"price": 8950, "currency": "EUR"},
        lambda c, b: c.products.update_sku(PRODUCT, SKU, b),
        "PUT",
        f"/v1/products/{PRODUCT_ENC}/skus/{SKU_ENC}",
    ),
    "delete-sku": Case(
        lambda c: c.products.delete_sku(PRODUCT, SKU, force=True),
        "DELETE",
        f"/v1/products/{PRODUCT_ENC}/skus/{SKU_ENC}",
        query=[("force", "true")],
        status=204,
    ),
    "import-products-using-csv": sends(
        b"source_id,name,price\nshop/x,X,100\n",
        lambda c, b: c.products.import_csv(b, filename="products.csv"),
        "POST",
        "/v1/products/importCSV",
    ),
    "import-SKUs-using-csv": sends(
        b"product_id,sku,price\nshop/x,X-M,100\n",
        lambda c, b: c.products.import_skus_csv(b),
        "POST",
        "/v1/skus/importCSV",
    ),
    # Categories
    "list-categories": Case(lambda c: c.categories.list(), "GET", "/v1/categories"),
    "create-category": Case(
        lambda c: c.categories.create("Summer", 2),
        "POST",
        "/v1/categories",
        body={"name": "Summer", "hierarchy": 2},
    ),
    "get-category": Case(lambda c: c.categories.get(CATEGORY), "GET", f"/v1/categories/{CATEGORY_ENC}"),
    "update-category": sends(
        {"name": "Summer 2024", "hierarchy": 1},
        lambda c, b: c.categories.update(CATEGORY, b),
        "PUT",
        f"/v1/categories/{CATEGORY_ENC}",
    ),
    "delete-category": Case(
        lambda c: c.categories.delete(CATEGORY), "DELETE", f"/v1/categories/{CATEGORY_ENC}", status=204
    ),
    # Publications and events
    "list-publications": Case(
        lambda c: c.publications.list(
            limit=100,
            page=2,
            order="-created_at",
            campaign="Welcome",
            customer="cust_7hQ2Lm",
            voucher=WEIRD,
            result="SUCCESS",
            voucher_type="discount",
            is_referral_code=False,
            source_id="welcome/anna",
            filters={"campaign_name": {"conditions": {"$in": ["Welcome", "Summer Sale 2024/EU"]}}},
        ),
        "GET",
        "/v1/publications",
        query=[
            ("limit", "100"),
            ("page", "2"),
            ("order", "-created_at"),
            ("campaign", "Welcome"),
            ("customer", "cust_7hQ2Lm"),
            ("voucher", WEIRD),
            ("result", "SUCCESS"),
            ("voucher_type", "discount"),
            ("is_referral_code", "false"),
            ("source_id", "welcome/anna"),
            ("filters[campaign_name][conditions][$in][0]", "Welcome"),
            ("filters[campaign_name][conditions][$in][1]", "Summer Sale 2024/EU"),
        ],
    ),
    "create-publication": sends(
        {
            "customer": {"source_id": CUSTOMER, "email": "anna@example.com"},
            "campaign": {"name": "Welcome", "count": 1},
            "source_id": "welcome/anna",
            "channel": "shop",
            "metadata": {"reason": "sign-up"},
        },
        lambda c, b: c.publications.create(
            b,
            join_once=True,
        ),
        "POST",
        "/v1/publications",
        query=[("join_once", "true")],
    ),
    "track-custom-event": Case(
        lambda c: c.events.track(
            "cart_abandoned",
            {"source_id": CUSTOMER},
            metadata={"cart_amount": 24900, "items": 3},
            referral={"code": "REF-ANNA"},
            loyalty={"code": "L-CARD-1"},
        ),
        "POST",
        "/v1/events",
        body={
            "event": "cart_abandoned",
            "customer": {"source_id": CUSTOMER},
            "metadata": {"cart_amount": 24900, "items": 3},
            "referral": {"code": "REF-ANNA"},
            "loyalty": {"code": "L-CARD-1"},
        },
    ),
}

#: The offers' operations sent as multipart CSV uploads.
MULTIPART_OFFERS = {
    "import-vouchers-to-campaign-using-csv",
    "import-products-using-csv",
    "import-SKUs-using-csv",
}
