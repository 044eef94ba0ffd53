"""A PROMOTION campaign whose tiers stack in its hierarchy, and the order and discounts the
hierarchy tests put through it."""

from __future__ import annotations

from typing import Any

ORDER = {"source_id": "ORD-H", "amount": 10_000}
AMOUNT = {"type": "AMOUNT", "amount_off": 1000}
PERCENT = {"type": "PERCENT", "percent_off": 20}


def tiered_campaign(*discounts: dict[str, Any], name: str = "Tiered") -> tuple[str, list[str]]:
    """A PROMOTION campaign with one tier per discount, hierarchy 1, 2... in the order given.
    Returns the campaign id and its tier ids (hierarchy order)."""
    from django_voucherify import client

    created = client.campaigns.create(
        {
            "name": name,
            "campaign_type": "PROMOTION",
            "promotion": {
                "tiers": [
                    {"name": f"{name} {i}", "hierarchy": i + 1, "action": {"discount": d}}
                    for i, d in enumerate(discounts)
                ]
            },
        }
    )
    tiers = sorted(created["promotion"]["tiers"], key=lambda t: t["hierarchy"])
    return str(created["id"]), [str(t["id"]) for t in tiers]
