"""Product and SKU mirrors in the admin: list, search, sync state; "re-sync" queues an outbox
entry and needs the change permission (viewing is not resending)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from django_voucherify.models import OutboxEntry, Product, Sku
from tests.support.admin import post_action

pytestmark = pytest.mark.django_db
PRODUCTS = reverse("admin:django_voucherify_product_changelist")
SKUS = reverse("admin:django_voucherify_sku_changelist")


@pytest.fixture
def catalog():
    ring = Product.objects.create(source_id="ring-1", name="Gold ring", price=19900)
    Product.objects.create(source_id="chain-1", name="Silver chain", price=4900)
    Sku.objects.create(source_id="ring-1-s", product=ring, sku="Ring S", price=19900, currency="EUR")
    OutboxEntry.objects.all().delete()  # what the saves queued: the tests count what re-sync queues
    return ring


def test_lists_search_and_sync_state_for_a_viewer(client, catalog, staff):
    staff("view_product", "view_sku")
    page = client.get(PRODUCTS, {"q": "ring"})
    assert page.status_code == 200
    assert [p.source_id for p in page.context["cl"].result_list] == ["ring-1"]
    assert b"pending" in page.content  # the sync state column (saved, not sent yet)
    assert b"resync_selected" not in page.content  # resending needs change_product
    skus = client.get(SKUS, {"q": "Gold ring"})  # by the product's name
    assert [s.source_id for s in skus.context["cl"].result_list] == ["ring-1-s"]
    detail = client.get(reverse("admin:django_voucherify_product_change", args=[catalog.pk]))
    assert detail.status_code == 200 and b"ring-1-s" in detail.content  # its SKUs inline


def test_resync_needs_the_change_permission(client, catalog, staff):
    staff("view_product")
    post_action(client, PRODUCTS, "resync_selected", [catalog])
    assert not OutboxEntry.objects.exists()
    staff("view_product", "change_product")
    response = post_action(client, PRODUCTS, "resync_selected", [catalog])
    assert response.status_code == 302
    entry = OutboxEntry.objects.get()
    assert (entry.kind, entry.object_pk) == ("product", str(catalog.pk))


def test_refused_without_view_permission(client, catalog, staff):
    staff("view_customer")
    assert client.get(PRODUCTS).status_code == 403
    assert client.get(SKUS).status_code == 403
