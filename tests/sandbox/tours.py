"""Tours of the SCOPE-2.md sections for the conformance test (one function per section group):
every operation called, successes and errors, so each response is checked against the spec."""

from __future__ import annotations

from typing import Any


def tour_campaigns(api: Any, sandbox: Any) -> None:
    """Campaigns (14 operations) and publications (2)."""
    j = lambda r: r.json()  # noqa: E731
    disc = j(
        api.post(
            "/v1/campaigns",
            json={
                "name": "Tour Discount",
                "campaign_type": "DISCOUNT_COUPONS",
                "type": "STATIC",
                "join_once": True,
                "vouchers_count": 3,
                "voucher": {
                    "discount": {"type": "AMOUNT", "amount_off": 500},
                    "code_config": {"pattern": "TD-####", "charset": "0123456789"},
                },
            },
        )
    )
    gift = j(
        api.post(
            "/v1/campaigns",
            json={
                "name": "Tour Gift",
                "campaign_type": "GIFT_VOUCHERS",
                "vouchers_count": 1,
                "voucher": {"gift": {"amount": 1000}},
            },
        )
    )
    api.post("/v1/campaigns", json={"name": "Tour Promo", "campaign_type": "PROMOTION"})
    api.post("/v1/campaigns", json={"name": "Tour Discount", "campaign_type": "PROMOTION"})  # 409
    sandbox.wait_for_jobs()
    api.get("/v1/campaigns", params={"limit": 5})
    api.get(f"/v1/campaigns/{disc['id']}")
    api.put(f"/v1/campaigns/{disc['id']}", json={"description": "tour"})
    api.post(f"/v1/campaigns/{disc['id']}/vouchers", params={"vouchers_count": 2}, json={})
    api.post(f"/v1/campaigns/{disc['id']}/vouchers", json={"metadata": {"a": 1}})
    api.post(f"/v1/campaigns/{disc['id']}/vouchers/TOUR-CAMP", json={})
    api.post(f"/v1/campaigns/{disc['id']}/import", json=[{"code": "TOUR-IMP"}, {"code": "TOUR-CAMP"}])
    api.post(f"/v1/campaigns/{disc['id']}/importCSV", files={"file": ("v.csv", b"Code\nTOUR-CSV\n")})
    api.post(f"/v1/campaigns/{disc['id']}/disable")
    api.post(f"/v1/campaigns/{disc['id']}/enable")
    card = j(api.get("/v1/vouchers", params={"campaign_id": gift["id"]}))["vouchers"][0]["code"]
    api.post(
        f"/v1/vouchers/{card}/balance",
        json={"amount": 100},
    )
    api.get(f"/v1/campaigns/{gift['id']}/transactions")
    exp = j(
        api.post(
            f"/v1/campaigns/{gift['id']}/transactions/export", json={"parameters": {"fields": ["id", "type"]}}
        )
    )
    api.get(f"/v1/campaigns/{disc['id']}/summary")
    api.get(f"/v1/campaigns/{gift['id']}/summary")
    api.post(
        "/v1/publications", json={"campaign": {"name": "Tour Discount"}, "customer": {"source_id": "tour-p"}}
    )
    api.post(
        "/v1/publications",
        json={"campaign": {"name": "Tour Gift", "count": 1}, "customer": {"source_id": "tour-p"}},
    )
    api.post(
        "/v1/publications",
        json={"voucher": "TOUR-CAMP", "customer": {"source_id": "tour-q"}, "channel": "myown"},
    )
    api.get("/v1/publications", params={"limit": 5})
    api.get("/v1/campaigns/nope")
    sandbox.wait_for_jobs()
    api.get(f"/v1/exports/{exp['id']}")
    api.delete(f"/v1/campaigns/{gift['id']}", params={"force": "true"})
    sandbox.wait_for_jobs()
    for aa in j(api.get("/v1/async-actions", params={"limit": 100}))["async_actions"]:
        api.get(f"/v1/async-actions/{aa['id']}")


def tour_promotions(api: Any) -> None:
    """Promotion tiers and stacks (14 operations), and a tier redeemed and rolled back."""
    j = lambda r: r.json()  # noqa: E731
    discount = {"type": "PERCENT", "percent_off": 10, "effect": "APPLY_TO_ORDER"}
    campaign = j(
        api.post(
            "/v1/campaigns",
            json={
                "name": "Tour Tiers",
                "campaign_type": "PROMOTION",
                "promotion": {
                    "tiers": [{"name": "T1", "banner": "10% off", "action": {"discount": discount}}]
                },
            },
        )
    )
    cid = campaign["id"]
    first = campaign["promotion"]["tiers"][0]["id"]
    added = j(
        api.post(
            f"/v1/promotions/{cid}/tiers",
            json={
                "name": "T2",
                "action": {"discount": {"type": "AMOUNT", "amount_off": 300}},
                "start_date": "2020-01-01T00:00:00Z",
                "validity_day_of_week": [0, 1, 2, 3, 4, 5, 6],
                "metadata": {"level": 2},
            },
        )
    )
    api.post(f"/v1/promotions/{cid}/tiers", json={"name": "bad"})  # 400 body checked
    api.get("/v1/promotions/tiers", params={"is_available": "true", "order": "-created_at"})
    api.get(f"/v1/promotions/{cid}/tiers")
    api.get(f"/v1/promotions/tiers/{added['id']}")
    api.get("/v1/promotions/tiers/promo_nope")  # 404
    api.put(f"/v1/promotions/tiers/{added['id']}", json={"banner": "3 off", "hierarchy": 5})
    api.post(f"/v1/promotions/tiers/{added['id']}/disable")
    api.post(f"/v1/promotions/tiers/{added['id']}/enable")
    stack = j(
        api.post(f"/v1/promotions/{cid}/stacks", json={"name": "S1", "tiers": {"ids": [added["id"], first]}})
    )
    api.get("/v1/promotions/stacks", params={"order": "name"})
    api.get(f"/v1/promotions/{cid}/stacks")
    api.get(f"/v1/promotions/{cid}/stacks/{stack['id']}")
    api.put(f"/v1/promotions/{cid}/stacks/{stack['id']}", json={"name": "S1b", "tiers": {"ids": [first]}})
    order = {"amount": 10000}
    api.post(
        "/v1/validations", json={"redeemables": [{"object": "promotion_tier", "id": first}], "order": order}
    )
    red = j(
        api.post(
            "/v1/redemptions",
            json={"redeemables": [{"object": "promotion_tier", "id": first}], "order": order},
        )
    )
    api.post(f"/v1/redemptions/{red['redemptions'][0]['id']}/rollback")
    api.post(f"/v1/promotions/tiers/{added['id']}/disable")
    api.post(
        "/v1/redemptions",
        json={"redeemables": [{"object": "promotion_tier", "id": added["id"]}], "order": order},
    )
    api.get("/v1/redemptions", params={"result": "FAILURE"})
    api.get(f"/v1/campaigns/{cid}/summary")
    api.delete(f"/v1/promotions/{cid}/stacks/{stack['id']}")
    api.delete(f"/v1/promotions/tiers/{added['id']}")
