"""A session cart: ``{sku: quantity}`` in the session, priced from the Product table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django_voucherify.models.orders import item_body

from .models import Product

SESSION_KEY = "shop_cart"


@dataclass(frozen=True)
class Line:
    product: Product
    qty: int

    @property
    def total_cents(self) -> int:
        return self.product.price_cents * self.qty


class Cart:
    def __init__(self, session: Any) -> None:
        self.session = session
        self.items: dict[str, int] = dict(session.get(SESSION_KEY) or {})

    def add(self, sku: str, qty: int = 1) -> None:
        self.items[sku] = self.items.get(sku, 0) + qty
        self._save()

    def clear(self) -> None:
        self.items = {}
        self._save()

    def _save(self) -> None:
        self.session[SESSION_KEY] = self.items

    def lines(self) -> list[Line]:
        products = Product.objects.in_bulk(list(self.items), field_name="sku")
        return [Line(products[sku], qty) for sku, qty in self.items.items() if sku in products]

    def total_cents(self) -> int:
        return sum(line.total_cents for line in self.lines())

    def order_lines(self) -> list[dict[str, Any]]:
        """The ShopOrder.lines JSON for this cart."""
        return [
            {"sku": line.product.sku, "qty": line.qty, "unit_price_cents": line.product.price_cents}
            for line in self.lines()
        ]

    def voucherify_order(self) -> dict[str, Any]:
        """A cart preview for validation (no order exists yet)."""
        return {
            "amount": self.total_cents(),
            # Items as the order mirror sends them at redeem (each product is a Voucherify
            # product whose source id is the SKU): a product-limited code is judged the same.
            "items": [
                item_body(line.qty, line.product.price_cents, line.total_cents, "", line.product.sku)
                for line in self.lines()
            ],
        }
