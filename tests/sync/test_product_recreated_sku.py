"""A product deleted and made again under the same source id, with a new SKU: the SKU's row
may be delivered before the old product's deletion. It used to upsert the product by source id
(landing on the OLD Voucherify product), create the SKU under it, and the old product's forced
deletion then took the new SKU with it: synced here, missing in Voucherify. The old product's
deletion is now sent first."""

from __future__ import annotations

import pytest

from django_voucherify.models import OutboxEntry, OutboxState, Product, Sku, SyncState
from django_voucherify.sandbox.catalog import catalog
from django_voucherify.sync import delivery

pytestmark = pytest.mark.django_db


def test_a_recreated_product_s_sku_survives_the_old_product_s_deletion(
    sandbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        old = Product.objects.create(source_id="tee", name="Tee")
        Sku.objects.create(source_id="tee-m", product=old, sku="Tee M")
    assert catalog(sandbox.state).find_sku("tee-m") is not None
    with django_capture_on_commit_callbacks(execute=False):
        old.delete()  # cascades to the SKU: two deletion rows
        new = Product.objects.create(source_id="tee", name="Tee v2")
        Sku.objects.create(source_id="tee-l", product=new, sku="Tee L")
    # The new SKU's row happens to be delivered first (a worker picks rows in any order).
    sku_row = OutboxEntry.objects.get(kind="sku", source_id="tee-l")
    assert delivery.deliver(sku_row.pk).status == "sent"
    for row in OutboxEntry.objects.exclude(state=OutboxState.SYNCED).order_by("pk"):
        delivery.deliver(row.pk, ignore_schedule=True)
    assert not OutboxEntry.objects.exclude(state=OutboxState.SYNCED).exists()
    sku = Sku.objects.get(source_id="tee-l")
    assert sku.sync_state == SyncState.SYNCED  # the shop believes it is in Voucherify
    remote = catalog(sandbox.state).find_sku("tee-l")
    assert remote is not None, "SKU tee-l is synced locally but missing in Voucherify"
    assert remote["product_id"] == catalog(sandbox.state).find_product("tee")["id"]
