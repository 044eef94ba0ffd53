"""Vouchers created in the sandbox through the shared client, by kind."""

from __future__ import annotations

from typing import Any

#: Every field of the voucher admin's create form, blank: tests fill in what they need.
VOUCHER_FORM_BLANK: dict[str, str] = {
    "code": "",
    "type": "DISCOUNT_VOUCHER",
    "discount_type": "",
    "amount_off": "",
    "percent_off": "",
    "amount_limit": "",
    "fixed_amount": "",
    "gift_amount": "",
    "loyalty_points": "",
    "campaign": "",
    "redemption_quantity": "",
    "start_date_0": "",
    "start_date_1": "",
    "expiration_date_0": "",
    "expiration_date_1": "",
    "category": "",
    "active": "on",
    "additional_info": "",
    "metadata": "{}",
}

_BODIES: dict[str, dict[str, Any]] = {
    "amount": {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 500}},
    "percent": {
        "type": "DISCOUNT_VOUCHER",
        "discount": {"type": "PERCENT", "percent_off": 20, "amount_limit": 1000},
    },
    "gift": {"type": "GIFT_VOUCHER", "gift": {"amount": 10000}},
    # Voucherify requires a campaign for a loyalty card, and a holder for its balance changes.
    "loyalty": {
        "type": "LOYALTY_CARD",
        "campaign": "Loyalty Program",
        "holder_id": "cust_loyalty_holder",
        "loyalty_card": {"points": 100},
    },
}


def make_voucher(
    code: str,
    kind: str = "amount",
    *,
    amount_off: int | None = None,
    quantity: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Create ``code`` in Voucherify (the sandbox) with the shared client: an amount discount
    (``amount_off`` cents, 500 by default), a percent discount, a gift card or a loyalty card;
    ``quantity`` limits its redemptions; ``extra`` fields go into the body as they are."""
    from django_voucherify import client

    data: dict[str, Any] = {**_BODIES[kind], **extra}
    if amount_off is not None:
        data["discount"] = {"type": "AMOUNT", "amount_off": amount_off}
    if quantity is not None:
        data["redemption"] = {"quantity": quantity}
    return dict(client.vouchers.create(code, data))


def make_tier(
    name: str = "Automatic 3.00 off", *, amount_off: int = 300, campaign: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A promotion tier (an automatic promotion) in Voucherify (the sandbox), made with the
    shared client: a new ``PROMOTION`` campaign holding one tier of ``amount_off`` cents off the
    order; ``extra`` fields (``active``, ``expiration_date``, ``validation_rules``...) go into the
    tier as they are. Returns the tier (its ``id`` is the ``promo_`` id checkout takes)."""
    from django_voucherify import client

    tier = {
        "name": name,
        "banner": name,
        "action": {"discount": {"type": "AMOUNT", "amount_off": amount_off}},
    }
    created = client.campaigns.create(
        {
            "name": campaign or f"Promotion {name}",
            "campaign_type": "PROMOTION",
            "promotion": {"tiers": [{**tier, **extra}]},
        }
    )
    return dict(created["promotion"]["tiers"][0])


def _validation_rule(body: dict[str, Any]) -> list[str]:
    """Validation rule ``body`` created in Voucherify (the sandbox), as the rule ids a tier takes."""
    from django_voucherify import client

    rule = client.transport.request("POST", "/v1/validation-rules", json=body)
    return [str(rule["id"])]


def once_per_customer_rule() -> list[str]:
    """A validation rule "one redemption per customer" in Voucherify (the sandbox), as the rule
    ids a tier takes (``make_tier(..., validation_rules=once_per_customer_rule())``).
    Qualifications ignore it (the spec's warning: "Redemptions per customer"); validations and
    redeems do not: the tier qualifies for a customer who used it up, and refuses their stack."""
    return _validation_rule(
        {
            "name": "First order only",
            "rules": {"1": {"name": "redemption.count.per_customer", "conditions": {"$less_than": [1]}}},
            "error": {"message": "Only on your first order"},
        }
    )


def order_amount_rule(amount: int, message: str | None = None) -> list[str]:
    """A validation rule "order amount at least ``amount``" in Voucherify (the sandbox), as the
    rule ids a tier takes; ``message``: the refusal's text (Voucherify's own without it)."""
    body: dict[str, Any] = {
        "name": f"Over {amount}",
        "rules": {"1": {"name": "order.amount", "conditions": {"$more_than_equal": [amount]}, "rules": {}}},
    }
    if message is not None:
        body["error"] = {"message": message}
    return _validation_rule(body)
