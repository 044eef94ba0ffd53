"""Review 19: a first start of the demo (``manage.py demo_setup``) fills every mirror the admin
lists from the seeded sandbox, not only the vouchers: the campaign admin said "0 campaigns"
although the seed has three, and the product admin "0 products" although the shop sells three
(its products come from a data migration, which sends no signal to the mirror registry, so they
never reached the mirror nor Voucherify)."""

from __future__ import annotations

import importlib
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from django_voucherify.models import Campaign, OutboxEntry, Voucher, VoucherRefreshRun
from django_voucherify.models import Product as ProductMirror
from django_voucherify.sandbox import campaign_store, seed
from django_voucherify.vouchers import refresh_runs
from example_project.shop.models import Product

pytestmark = pytest.mark.django_db(transaction=True)


def products_as_the_data_migration_made_them() -> None:
    """The shop's products as a first start has them: rows written by the data migration (no
    signal, so no mirror). A transactional test before this one flushed them."""
    migration = importlib.import_module("example_project.shop.migrations.0002_products")
    if not Product.objects.exists():
        Product.objects.bulk_create(  # bulk_create sends no signal, as the migration's rows
            Product(sku=sku, name=name, price_cents=price) for sku, name, price in migration.DEMO_PRODUCTS
        )


def test_a_first_start_fills_the_voucher_campaign_and_product_mirrors(voucherify_sandbox):
    seed.seed(voucherify_sandbox.state)
    products_as_the_data_migration_made_them()
    Voucher.objects.all().delete()
    call_command("demo_setup", stdout=io.StringIO())
    assert Voucher.objects.count() == len(voucherify_sandbox.state.vouchers)
    assert Campaign.objects.count() == len(campaign_store.campaigns(voucherify_sandbox.state)) > 0
    assert refresh_runs.last("campaigns") is not None  # the changelist says when it was loaded
    skus = sorted(Product.objects.values_list("sku", flat=True))
    assert len(skus) == 3 and sorted(ProductMirror.objects.values_list("source_id", flat=True)) == skus
    assert OutboxEntry.objects.filter(kind="product").count() == len(skus)  # the worker sends them


def test_a_later_start_pulls_nothing(voucherify_sandbox):
    seed.seed(voucherify_sandbox.state)
    call_command("demo_setup", stdout=io.StringIO())
    out = io.StringIO()
    call_command("demo_setup", stdout=out)
    assert "first start" not in out.getvalue()


def test_a_refresh_already_running_does_not_stop_the_first_start(voucherify_sandbox):
    """A campaign refresh left "running" (a demo killed mid-walk): voucherify_pull refuses, and
    demo_setup used to raise with it, ending ./scripts/demo (set -e). It says so and goes on."""
    seed.seed(voucherify_sandbox.state)
    products_as_the_data_migration_made_them()
    Voucher.objects.all().delete()
    stuck, _started = refresh_runs.queue_unless_running("campaigns")
    VoucherRefreshRun.objects.filter(pk=stuck.pk).update(state="running", heartbeat_at=timezone.now())
    out, err = io.StringIO(), io.StringIO()
    call_command("demo_setup", stdout=out, stderr=err)
    assert "demo: the campaigns were not loaded" in err.getvalue()
    assert (
        f"already under way (run #{stuck.pk})" in err.getvalue() and "starts all the same" in err.getvalue()
    )
    assert Voucher.objects.count() == len(voucherify_sandbox.state.vouchers)  # the rest was done
    assert ProductMirror.objects.count() == 3 and not Campaign.objects.exists()


def test_an_incomplete_campaign_walk_does_not_stop_the_first_start(voucherify_sandbox, monkeypatch):
    from django_voucherify.api.paging import PaginationStalledError
    from django_voucherify.api.resources.promotions import Promotions

    def stalled(self: Promotions, **params: object) -> object:
        raise PaginationStalledError("the tiers' page repeated the previous one")

    seed.seed(voucherify_sandbox.state)
    products_as_the_data_migration_made_them()
    monkeypatch.setattr(Promotions, "iterate_tiers", stalled)
    err = io.StringIO()
    call_command("demo_setup", stdout=io.StringIO(), stderr=err)
    assert (
        "demo: the campaigns were not loaded" in err.getvalue()
        and "not walked to their end" in err.getvalue()
    )
    assert Campaign.objects.exists()  # what the walk saw is kept
    assert ProductMirror.objects.count() == 3
