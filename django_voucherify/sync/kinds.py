"""The outbox kinds: which mirror model each ``OutboxEntry.kind`` names (one table for the
delivery, its batches and the take-overs)."""

from __future__ import annotations

from ..models.customers import Customer
from ..models.orders import Order
from ..models.products import Product, Sku

Mirror = Customer | Order | Product | Sku
MIRRORS: dict[str, type[Mirror]] = {"customer": Customer, "order": Order, "product": Product, "sku": Sku}
