"""Product and SKU sync against the sandbox: SKU ordering, moves and placeholder products
(fixes from the review of issue 17):

- a SKU delivered before its product's new attribute never ends failed for that ordering;
- a SKU moved to another product reaches Voucherify under the new one;
- a placeholder product made by the registry never blanks a product Voucherify holds.
"""

from __future__ import annotations

import pytest

from django_voucherify.models import OutboxEntry, OutboxState, Product, Sku, SyncState
from django_voucherify.sandbox.catalog import catalog
from django_voucherify.sync import delivery, registry
from tests.support.sandbox import Api, in_catalog
from tests.support.shop_models import ShopItem

pytestmark = pytest.mark.django_db


def _deliver(kind: str, source_id: str) -> str:
    entry = OutboxEntry.objects.get(kind=kind, source_id=source_id)
    return delivery.deliver(entry.pk, ignore_schedule=True).status


def test_a_sku_delivered_before_its_products_new_attribute_waits_for_nothing(
    sandbox, django_capture_on_commit_callbacks
):
    """The product gains ``size`` and its SKU starts setting it in one change; the SKU's entry
    is delivered first (its product's entry is behind it, or its task was lost). Before: 400
    "size not among the product's attributes", the SKU failed for good."""
    with django_capture_on_commit_callbacks(execute=True):
        product = Product.objects.create(source_id="tee", name="Tee", attributes=["color"])
        sku = Sku.objects.create(source_id="tee-red", product=product, attributes={"color": "red"})
    assert in_catalog(sandbox, "sku", "tee-red")["attributes"] == {"color": "red"}
    with django_capture_on_commit_callbacks(execute=False):  # nothing delivered on commit
        product.attributes = ["color", "size"]
        product.save()
        sku.attributes = {"color": "red", "size": "M"}
        sku.save()
    assert _deliver("sku", "tee-red") == "sent"
    assert in_catalog(sandbox, "sku", "tee-red")["attributes"] == {"color": "red", "size": "M"}
    assert in_catalog(sandbox, "product", "tee")["attributes"] == ["color", "size"]
    assert _deliver("product", "tee") == "sent"
    sku.refresh_from_db()
    assert sku.sync_state == SyncState.SYNCED


def test_a_sku_moved_to_another_product_is_deleted_there_and_created_here(
    sandbox, django_capture_on_commit_callbacks
):
    """Before: 409 ``duplicate_found`` (the source id is the old product's SKU's) and the SKU
    failed for good, while Voucherify kept it under the old product."""
    with django_capture_on_commit_callbacks(execute=True):
        old = Product.objects.create(source_id="old", name="Old")
        new = Product.objects.create(source_id="new", name="New")
        sku = Sku.objects.create(source_id="moving", product=old, sku="Moving", price=500)
    old_remote = in_catalog(sandbox, "product", "old")
    assert in_catalog(sandbox, "sku", "moving")["product_id"] == old_remote["id"]
    with django_capture_on_commit_callbacks(execute=True):
        sku.product = new
        sku.save()
    remote = in_catalog(sandbox, "sku", "moving")
    assert remote["product_id"] == in_catalog(sandbox, "product", "new")["id"] and remote["price"] == 500
    assert catalog(sandbox.state).skus_of.get(old_remote["id"], {}) == {}
    sku.refresh_from_db()
    assert sku.sync_state == SyncState.SYNCED and sku.voucherify_id == remote["id"]
    entry = OutboxEntry.objects.get(kind="sku", source_id="moving")
    assert entry.state == OutboxState.SYNCED


def test_a_sku_conflict_that_is_not_a_move_stays_a_refusal(sandbox, django_capture_on_commit_callbacks):
    """A SKU source id in Voucherify's bin (deleted without force elsewhere) is no move: the
    409 stands (failed, with its key), nothing is deleted."""
    api = Api(sandbox)
    api.post("/v1/products", json={"source_id": "elsewhere"})
    api.post("/v1/products/elsewhere/skus", json={"source_id": "binned"})
    api.delete("/v1/products/elsewhere/skus/binned")
    with django_capture_on_commit_callbacks(execute=True):
        product = Product.objects.create(source_id="here", name="Here")
        Sku.objects.create(source_id="binned", product=product)
    sku = Sku.objects.get(source_id="binned")
    assert sku.sync_state == SyncState.FAILED and sku.last_error_key == "duplicate_found"


def test_a_registry_placeholder_product_never_blanks_the_product_voucherify_holds(sandbox):
    """A SKU mapping names a product the shop does not map (managed in Voucherify): the
    registry's placeholder mirror, sent before the SKU, upserted ``name: null, price: null,
    attributes: [], metadata: {}`` over it. Now it sends its source id only."""
    api = Api(sandbox)
    api.post(
        "/v1/products",
        json={
            "source_id": "prod-A",
            "name": "Alpha",
            "price": 900,
            "attributes": ["size"],
            "metadata": {"k": 1},
        },
    )

    def to_sku(item):
        return {"source_id": f"sku-{item.code}", "product": f"prod-{item.code}", "attributes": {"size": "L"}}

    registry.connect(ShopItem, Sku, to_sku)
    try:
        registry.refresh(ShopItem(pk=1, code="A", title="Alpha"))
    finally:
        registry.disconnect(ShopItem)
    product = Product.objects.get(source_id="prod-A")
    assert product.placeholder and product.to_voucherify() == {"source_id": "prod-A"}
    for kind, source_id in (("sku", "sku-A"), ("product", "prod-A")):
        entry = OutboxEntry.objects.get(kind=kind, source_id=source_id)
        delivery.deliver(entry.pk, ignore_schedule=True)
    remote = in_catalog(sandbox, "product", "prod-A")
    assert (remote["name"], remote["price"], remote["attributes"], remote["metadata"]) == (
        "Alpha",
        900,
        ["size"],
        {"k": 1},
    )
    assert in_catalog(sandbox, "sku", "sku-A")["attributes"] == {"size": "L"}
    assert set(OutboxEntry.objects.values_list("state", flat=True)) == {OutboxState.SYNCED}


def test_a_placeholder_becomes_a_product_once_mapped_or_saved(sandbox, django_capture_on_commit_callbacks):
    def to_sku(item):
        return {"source_id": f"sku-{item.code}", "product": f"prod-{item.code}"}

    def to_product(item):
        return {"source_id": f"prod-{item.code}", "name": item.title}

    registry.connect(ShopItem, Sku, to_sku)
    try:
        registry.refresh(ShopItem(pk=1, code="B", title="Beta"))
    finally:
        registry.disconnect(ShopItem)
    assert Product.objects.get(source_id="prod-B").placeholder
    from django.db import connection

    class ShopProduct(ShopItem):
        class Meta:
            app_label = "shop"
            managed = False
            proxy = True

    registry.connect(ShopProduct, Product, to_product)
    try:
        registry.refresh(ShopProduct(pk=1, code="B", title="Beta"))
    finally:
        registry.disconnect(ShopProduct)
    product = Product.objects.get(source_id="prod-B")
    assert not product.placeholder and product.to_voucherify()["name"] == "Beta"
    # A plain save of a placeholder (the shop filling it in) ends it too.
    other = Product.objects.create(source_id="prod-C", placeholder=True)
    other.name = "Gamma"
    other.save(update_fields=["name"])
    other.refresh_from_db()
    assert not other.placeholder and connection.vendor in ("postgresql", "sqlite")
