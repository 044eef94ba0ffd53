"""Product and SKU mirrors: save -> outbox -> Voucherify (the sandbox), deletions, faults
between the steps of a delivery, the registry, and the example shop's product mapping."""

from __future__ import annotations

import pytest

from django_voucherify.models import OutboxEntry, OutboxState, Product, Sku, SyncState
from django_voucherify.sandbox.catalog import catalog
from django_voucherify.sync import delivery, registry
from tests.support.sandbox import in_catalog
from tests.support.shop_models import ShopItem

pytestmark = pytest.mark.django_db

SKUS = "/v1/products/*/skus"


def test_a_product_and_its_sku_reach_voucherify(sandbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        product = Product.objects.create(source_id="tee", name="Tee", price=1999, attributes=["size"])
        sku = Sku.objects.create(source_id="tee-m", product=product, sku="Tee M", attributes={"size": "M"})
    remote = in_catalog(sandbox, "product", "tee")
    assert remote["name"] == "Tee" and remote["price"] == 1999 and remote["attributes"] == ["size"]
    remote_sku = in_catalog(sandbox, "sku", "tee-m")
    assert remote_sku["product_id"] == remote["id"] and remote_sku["attributes"] == {"size": "M"}
    product.refresh_from_db()
    sku.refresh_from_db()
    assert product.sync_state == SyncState.SYNCED and product.voucherify_id == remote["id"]
    assert sku.sync_state == SyncState.SYNCED and sku.voucherify_id == remote_sku["id"]
    assert set(OutboxEntry.objects.values_list("kind", "state")) == {("product", "synced"), ("sku", "synced")}


def test_an_update_is_sent(sandbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        product = Product.objects.create(source_id="mug", name="Mug", price=1250)
    with django_capture_on_commit_callbacks(execute=True):
        product.price = 1300
        product.save()
    assert in_catalog(sandbox, "product", "mug")["price"] == 1300
    assert sandbox.calls.count("POST", "/v1/products") == 2


def test_a_sku_sent_before_its_product_upserts_the_product_first(sandbox, django_capture_on_commit_callbacks):
    """The SKU's entry may be delivered before its product's (ids, a lost task): the SKU's
    delivery upserts the product in its current state first, then the SKU."""
    with django_capture_on_commit_callbacks(execute=False):
        product = Product.objects.create(source_id="cap", name="Cap", attributes=["color"])
        Sku.objects.create(source_id="cap-red", product=product, attributes={"color": "red"})
    sku_entry = OutboxEntry.objects.get(kind="sku")
    assert delivery.deliver(sku_entry.pk).status == "sent"
    assert in_catalog(sandbox, "sku", "cap-red")["product_id"] == in_catalog(sandbox, "product", "cap")["id"]
    product_entry = OutboxEntry.objects.get(kind="product")
    assert delivery.deliver(product_entry.pk).status == "sent"  # its own delivery: the same upsert
    assert len(catalog(sandbox.state).products) == 1


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 503},  # refused before Voucherify handled it
        {"drop": True, "after": True},  # handled, the answer lost on the way back
    ],
)
def test_a_failure_between_the_product_and_the_sku_step_loses_nothing(
    sandbox, django_capture_on_commit_callbacks, fault
):
    """The SKU's delivery is two calls (the product, then the SKU): a failure of the second
    leaves the entry to be retried, which sends both again; the SKU arrives once."""
    with django_capture_on_commit_callbacks(execute=False):
        product = Product.objects.create(source_id="bag", name="Bag", attributes=["color"])
        Sku.objects.create(source_id="bag-blue", product=product, attributes={"color": "blue"})
    rule = sandbox.faults.add(path=SKUS, method="POST", times=1, **fault)
    sku_entry = OutboxEntry.objects.get(kind="sku")
    first = delivery.deliver(sku_entry.pk)
    assert rule.hits == 1 and first.status == "retry"
    assert in_catalog(sandbox, "product", "bag") is not None  # the first step went through
    sku_entry.refresh_from_db()
    assert sku_entry.state == OutboxState.PENDING and sku_entry.attempts == 1
    assert delivery.deliver(sku_entry.pk, ignore_schedule=True).status == "sent"
    assert len([s for s in catalog(sandbox.state).skus.values() if s["source_id"] == "bag-blue"]) == 1
    assert Sku.objects.get().sync_state == SyncState.SYNCED


def test_deleting_a_product_deletes_it_and_its_skus_for_good(sandbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        product = Product.objects.create(source_id="lamp", attributes=["watt"])
        Sku.objects.create(source_id="lamp-60", product=product, attributes={"watt": "60"})
    with django_capture_on_commit_callbacks(execute=True):
        product.delete()
    assert in_catalog(sandbox, "product", "lamp") is None and in_catalog(sandbox, "sku", "lamp-60") is None
    assert catalog(sandbox.state).bin == {}  # forced: the source ids are free again
    assert set(OutboxEntry.objects.values_list("action", "state")) == {("delete", "synced")}
    with django_capture_on_commit_callbacks(execute=True):
        again = Product.objects.create(source_id="lamp", name="Lamp 2")
    again.refresh_from_db()
    assert again.sync_state == SyncState.SYNCED and in_catalog(sandbox, "product", "lamp")["name"] == "Lamp 2"


def test_deleting_a_sku_alone(sandbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        product = Product.objects.create(source_id="pen")
        sku = Sku.objects.create(source_id="pen-1", product=product)
    with django_capture_on_commit_callbacks(execute=True):
        sku.delete()
    assert in_catalog(sandbox, "sku", "pen-1") is None and in_catalog(sandbox, "product", "pen") is not None


def test_a_lost_sku_deletion_answer_is_retried_and_ends_gone(sandbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        product = Product.objects.create(source_id="cup")
        sku = Sku.objects.create(source_id="cup-1", product=product)
    with django_capture_on_commit_callbacks(execute=False):
        sku.delete()
    rule = sandbox.faults.add(path="/v1/products/*/skus/*", method="DELETE", drop=True, after=True, times=1)
    entry = OutboxEntry.objects.get(kind="sku")
    assert delivery.deliver(entry.pk).status == "retry" and rule.hits == 1
    assert in_catalog(sandbox, "sku", "cup-1") is None  # it was deleted; the answer was lost
    assert delivery.deliver(entry.pk, ignore_schedule=True).status == "sent"  # 404 = done
    entry.refresh_from_db()
    assert entry.state == OutboxState.SYNCED


def test_the_registry_maps_a_shop_model_onto_product_and_sku_mirrors(sandbox):
    """A SKU mapping names its product by source id: the product mirror is created if missing."""
    calls: list[str] = []

    def to_sku(item):
        calls.append(item.code)
        return {"source_id": f"sku-{item.code}", "product": f"prod-{item.code}", "sku": item.title}

    registry.connect(ShopItem, Sku, to_sku)
    try:
        item = ShopItem(pk=1, code="A", title="Alpha")
        written = registry.refresh(item)
        assert len(written) == 1
        sku = Sku.objects.get(source_id="sku-A")
        assert sku.product.source_id == "prod-A" and sku.sku == "Alpha"
        # nothing changed: nothing written, nothing queued
        versions = dict(OutboxEntry.objects.values_list("kind", "version"))
        assert registry.refresh(item) == []
        assert dict(OutboxEntry.objects.values_list("kind", "version")) == versions
    finally:
        registry.disconnect(ShopItem)
    assert calls == ["A", "A"]


def test_push_products_sends_them_in_bulk_and_marks_them_synced(sandbox):
    """``voucherify_sync products``: update-products-in-bulk, parts under the byte budget; a
    product Voucherify refuses (its source id still in the bin) is failed with its reason."""
    from io import StringIO

    from django.core.management import CommandError, call_command

    from django_voucherify.models import Job, JobState
    from tests.support.jobs import FAST
    from tests.support.sandbox import options

    cat = catalog(sandbox.state)
    # bulk_create: no signals, as rows that existed before the shop registered its catalog
    Product.objects.bulk_create(
        Product(source_id=f"p-{i:03d}", name=f"P{i}", price=i, metadata={"pad": "x" * 200}) for i in range(30)
    )
    with options(sandbox, **FAST):
        sandbox_api_binned(sandbox)  # "p-007" waits in Voucherify's bin: refused
        out = StringIO()
        with pytest.raises(CommandError, match="1 row"):  # the command exits 1: a row failed
            call_command(
                "voucherify_sync", "products", chunk_bytes=3000, no_progress=True, here=True, stdout=out
            )
    job = Job.objects.get(kind="push_products")
    assert job.state in (JobState.DONE, JobState.FAILED) and job.parts.count() > 1
    assert len([p for p in cat.products.values() if p["source_id"].startswith("p-")]) == 29
    assert cat.find_product("p-012")["price"] == 12
    states = dict(Product.objects.values_list("source_id", "sync_state"))
    assert states.pop("p-007") == SyncState.FAILED
    assert set(states.values()) == {SyncState.SYNCED}


def sandbox_api_binned(sandbox):
    from tests.support.sandbox import Api

    api = Api(sandbox)
    api.post("/v1/products", json={"source_id": "p-007"})
    api.delete("/v1/products/p-007")
