"""Builders for stored objects in the spec's shapes (customers, list envelopes).

Kept free of request handling so S2's engine and the handlers build identical objects.
"""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]


def empty_customer_summary() -> JSON:
    """``CustomerSummary`` with zeroed counters (both ``redemptions`` and ``orders`` required)."""
    return {
        "redemptions": {
            "total_redeemed": 0,
            "total_failed": 0,
            "total_succeeded": 0,
            "total_rolled_back": 0,
            "total_rollback_failed": 0,
            "total_rollback_succeeded": 0,
            "gift": {"redeemed_amount": 0, "amount_to_go": 0},
            "loyalty_card": {"redeemed_points": 0, "points_to_go": 0},
        },
        "orders": {
            "total_amount": 0,
            "total_count": 0,
            "average_amount": 0,
            "last_order_amount": None,
            "last_order_date": None,
        },
    }


def new_customer(cust_id: str, source_id: Any, now: str) -> JSON:
    """A fresh ``CustomerWithSummaryLoyaltyReferrals`` object.

    No ``metadata`` key: Voucherify leaves it out of a customer created without metadata (the
    upsert adds it when the request carries one)."""
    return {
        "id": cust_id,
        "source_id": source_id,
        "name": None,
        "description": None,
        "email": None,
        "phone": None,
        "birthday": None,
        "birthdate": None,
        "address": None,
        "summary": empty_customer_summary(),
        "loyalty": {"points": 0, "referred_customers": 0, "campaigns": {}},
        "referrals": {"total": 0, "campaigns": []},
        "system_metadata": {},
        "created_at": now,
        "updated_at": None,
        "assets": {"cockpit_url": None, "cockpit_preference_center_url": None},
        "object": "customer",
    }


def list_envelope(data_ref: str, items: list[JSON], *, total: int | None = None, **extra: Any) -> JSON:
    """``{"object": "list", "data_ref": data_ref, data_ref: items, ...}``, the spec's envelope.

    ``total`` is included when given; ``extra`` adds ``has_more`` / ``more_starting_after`` etc.
    """
    body: JSON = {"object": "list", "data_ref": data_ref, data_ref: items}
    if total is not None:
        body["total"] = total
    body.update(extra)
    return body


def customer_ref(customer: JSON | None) -> JSON | None:
    """The short customer object embedded in redemptions/orders (``SimpleCustomer``)."""
    if customer is None:
        return None
    return {
        "id": customer["id"],
        "source_id": customer.get("source_id"),
        "name": customer.get("name"),
        "email": customer.get("email"),
        "metadata": customer.get("metadata") or {},
        "object": "customer",
    }
