"""Connects Django's user, the shop's order and its products to the Voucherify mirrors (the
documented recipe)."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig

VOUCHERIFY_STATUS = {"new": "CREATED", "paid": "PAID", "cancelled": "CANCELED", "shipped": "FULFILLED"}


def user_to_customer(user: Any) -> dict[str, Any] | None:
    if not user.email:
        return None  # nothing worth mirroring yet
    return {"source_id": f"user-{user.pk}", "email": user.email, "name": user.get_full_name(), "user": user}


def product_to_product(product: Any) -> dict[str, Any]:
    """The shop's products are flat (no variants): each is one Voucherify product whose source
    id is the shop's SKU code, the code order lines carry."""
    return {"source_id": product.sku, "name": product.name, "price": product.price_cents}


def order_to_order(order: Any) -> dict[str, Any]:
    return {
        "source_id": order.number,
        "status": VOUCHERIFY_STATUS[order.status],
        "amount": order.total_cents,
        "currency": order.currency,
        "customer": f"user-{order.user_id}",
        "items": [
            # the line's product, by the source id its mirror has (product_to_product), so that
            # Voucherify's product-limited discounts match the item
            {"product_source_id": line["sku"], "quantity": line["qty"], "price": line["unit_price_cents"]}
            for line in order.lines
        ],
    }


class ShopConfig(AppConfig):
    name = "example_project.shop"
    label = "shop"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model

        from django_voucherify.models import Customer, Order
        from django_voucherify.models import Product as ProductMirror
        from django_voucherify.sync import registry
        from example_project.celery import app as celery_app

        from .models import Product, ShopOrder

        celery_app.set_default()  # tasks sent from web requests and commands use the shop's broker

        registry.connect(get_user_model(), Customer, user_to_customer)
        registry.connect(ShopOrder, Order, order_to_order, delete=False)
        registry.connect(Product, ProductMirror, product_to_product)
