"""Webhook tests: the receiver's URL and secrets, events as Voucherify sends them (the envelope,
the voucher, customer and redemption they carry), a checkout ledger row for them to settle, and
an event recorded then processed."""

from __future__ import annotations

import itertools
from typing import Any

from django_voucherify.models import CheckoutRedemption, WebhookEvent
from django_voucherify.models.ledger import REFERENCE_METADATA_KEY
from django_voucherify.webhooks import process, record

SECRETS = ["new-secret", "old-secret"]
URL = "/hooks/voucherify/"
_ids = itertools.count(1)


def envelope(
    kind: str, data: dict[str, Any], *, at: str = "2026-01-01T10:00:00.000Z", event_id: str | None = None
) -> dict[str, Any]:
    """An event as Voucherify sends it (webhooks-openapi.json: DefaultPayloadData1/2)."""
    number = next(_ids)
    return {
        "id": f"whs_{number:020x}",
        "project_id": "proj_test",
        "created_at": at,
        "type": kind,
        "data": data,
        "source": {"id": "wh_test", "object": "webhook", "target_url": "https://shop.example/hooks"},
        "event": {
            "id": event_id or f"ev_{number:020x}",
            "type": kind,
            "created_at": at,
            "category": "ACTION",
            "entity_id": "user_test",
        },
    }


def voucher(
    code: str = "SUMMER", *, active: bool = True, updated: str = "2026-01-01T10:00:00.000Z", **extra: Any
) -> dict[str, Any]:
    """A voucher as an event carries it (``data.voucher``)."""
    return {
        "id": f"v_{code}",
        "code": code,
        "object": "voucher",
        "type": "DISCOUNT_VOUCHER",
        "active": active,
        "discount": {"type": "AMOUNT", "amount_off": 500},
        "redemption": {"quantity": None, "redeemed_quantity": 0},
        "metadata": {},
        "created_at": "2025-12-01T10:00:00.000Z",
        "updated_at": updated,
        **extra,
    }


def deliver(body: dict[str, Any]) -> WebhookEvent:
    """Record the event ``body`` and process it (no receiver, no task); its row, reloaded."""
    row, _created = record(body)
    process(row.pk)
    row.refresh_from_db()
    return row


def customer(source_id: str = "cust-1", name: str = "Remote Name") -> dict[str, Any]:
    """A customer as an event carries it (``data.customer``)."""
    return {
        "id": f"cust_{source_id}",
        "source_id": source_id,
        "name": name,
        "email": "a@example.com",
        "object": "customer",
        "metadata": {},
    }


def ledger_row(state: str, **fields: Any) -> CheckoutRedemption:
    """A checkout ledger row of the code SUMMER in ``state`` (order ``order-1`` unless given)."""
    return CheckoutRedemption.objects.create(
        order_source_id=fields.pop("order_source_id", "order-1"), codes=["SUMMER"], state=state, **fields
    )


def redemption(
    row: CheckoutRedemption | None, rid: str = "r_1", result: str = "SUCCESS", order: str = "order-1"
) -> dict[str, Any]:
    """A redemption as an event carries it, of the ledger ``row`` (its reference in the metadata)."""
    metadata = {REFERENCE_METADATA_KEY: str(row.reference)} if row is not None else {}
    return {
        "id": rid,
        "object": "redemption",
        "result": result,
        "order": {"source_id": order},
        "metadata": metadata,
    }
