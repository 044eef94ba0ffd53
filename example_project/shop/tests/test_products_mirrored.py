"""The shop registers its products (apps.py): each is a Voucherify product whose source id is
its SKU code, and order lines name those products."""

from __future__ import annotations

import pytest

from django_voucherify.models import Order, OutboxEntry
from django_voucherify.models import Product as ProductMirror
from django_voucherify.sandbox.catalog import catalog
from django_voucherify.sync import delivery
from example_project.shop.models import Product, ShopOrder

pytestmark = pytest.mark.django_db


def test_a_shop_product_is_mirrored_and_reaches_voucherify(voucherify_sandbox):
    Product.objects.filter(sku="HAT").delete()
    Product.objects.create(sku="HAT", name="Hat", price_cents=900)
    mirror = ProductMirror.objects.get(source_id="HAT")
    assert (mirror.name, mirror.price) == ("Hat", 900)
    entry = OutboxEntry.objects.get(kind="product", object_pk=str(mirror.pk))
    assert delivery.deliver(entry.pk).status == "sent"
    remote = catalog(voucherify_sandbox.state).find_product("HAT")
    assert remote is not None and remote["name"] == "Hat" and remote["price"] == 900


def test_order_lines_name_the_mirrored_products(django_user_model):
    user = django_user_model.objects.create_user("bo", "bo@example.com", "pw")
    ShopOrder.objects.create(
        number="SO-1", user=user, lines=[{"sku": "MUG", "qty": 2, "unit_price_cents": 1250}]
    )
    item = Order.objects.get(source_id="SO-1").to_voucherify()["items"][0]
    assert item["source_id"] == "MUG" and item["related_object"] == "product"
