"""Campaigns the campaign admin's tests create: a body of generated discount codes, and a
validation rule's minimum order."""

from __future__ import annotations

from typing import Any

#: Validation rule conditions: an order of 100.00 or more.
MIN_100 = {"1": {"name": "order.amount", "conditions": {"$more_than_equal": [10000]}, "rules": {}}}


def campaign_body(name: str, **extra: Any) -> dict[str, Any]:
    """A campaign of generated 5.00-off codes (``GEN-`` and 8 characters) named ``name``; ``extra``
    fields go into the body as they are."""
    return {
        "name": name,
        "campaign_type": "DISCOUNT_COUPONS",
        "type": "AUTO_UPDATE",
        "voucher": {
            "type": "DISCOUNT_VOUCHER",
            "discount": {"type": "AMOUNT", "amount_off": 500},
            "code_config": {"length": 8, "charset": "ABCDEFGHJKLMNPQRSTUVWXYZ23456789", "prefix": "GEN-"},
        },
        **extra,
    }
