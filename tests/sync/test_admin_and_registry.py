"""Admin pages and the re-sync action; shop models connected through the registry."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from django_voucherify.models import Customer, Order, OutboxEntry, SyncState
from django_voucherify.sync import registry
from tests.support.admin import post_action

pytestmark = pytest.mark.django_db


def test_admin_shows_sync_state_and_resyncs(admin_client, sandbox, django_capture_on_commit_callbacks):
    sandbox.faults.add(path="/v1/customers", method="POST", status=400, key="invalid_payload", times=1)
    with django_capture_on_commit_callbacks(execute=True):
        c = Customer.objects.create(source_id="adm-1", name="Admin Test")
        Order.objects.create(source_id="adm-o", amount=100, customer=c)
    c.refresh_from_db()
    assert c.sync_state == SyncState.FAILED and c.last_request_id
    page = admin_client.get(reverse("admin:django_voucherify_customer_changelist")).content.decode()
    assert "adm-1" in page and "invalid_payload" in page and c.last_request_id in page
    change = reverse("admin:django_voucherify_customer_change", args=[c.pk])
    assert admin_client.get(change).status_code == 200
    assert admin_client.get(reverse("admin:django_voucherify_order_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:django_voucherify_outboxentry_changelist")).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        changelist = reverse("admin:django_voucherify_customer_changelist")
        resp = post_action(admin_client, changelist, "resync_selected", [c], follow=True)
    assert "1 object queued for Voucherify." in resp.content.decode()
    c.refresh_from_db()
    assert c.sync_state == SyncState.SYNCED and sandbox.state.find_customer("adm-1")["name"] == "Admin Test"


def test_registry_maps_shop_user_to_customer(user_mirrored, sandbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        user = user_mirrored.objects.create_user(
            "ann", email="ann@example.com", first_name="Ann", last_name="Lee"
        )
    mirror = Customer.objects.get(user=user)
    assert mirror.source_id == f"user-{user.pk}" and mirror.name == "Ann Lee"
    assert sandbox.state.find_customer(mirror.source_id)["email"] == "ann@example.com"
    version = OutboxEntry.objects.get().version
    with django_capture_on_commit_callbacks(execute=True):
        user.last_login = timezone.now()
        user.save()  # nothing Voucherify cares about changed
    assert OutboxEntry.objects.get().version == version
    with django_capture_on_commit_callbacks(execute=True):
        user.email = "ann@new.example.com"
        user.save()
    assert sandbox.state.find_customer(mirror.source_id)["email"] == "ann@new.example.com"
    with django_capture_on_commit_callbacks(execute=True):
        user.delete()
    assert not Customer.objects.exists() and sandbox.state.find_customer(mirror.source_id) is None


def test_registry_order_with_items_and_customer(sandbox, django_capture_on_commit_callbacks):
    User = get_user_model()  # any model works; a user stands in for the shop's order here
    registry.connect(
        User,
        Order,
        lambda u: {
            "source_id": f"order-{u.pk}",
            "status": "PAID" if u.is_active else "CANCELED",
            "amount": 1500,
            "currency": "EUR",
            "customer": f"cust-{u.pk}",
            "items": [{"sku_source_id": "sku-a", "quantity": 3, "price": 500}],
        },
    )
    try:
        with django_capture_on_commit_callbacks(execute=True):
            u = User.objects.create_user("orderer")
        order = Order.objects.get()
        assert order.customer.source_id == f"cust-{u.pk}"
        assert [(i.sku_source_id, i.amount) for i in order.items.all()] == [("sku-a", 1500)]
        remote = sandbox.state.find_order(f"order-{u.pk}")
        assert remote["status"] == "PAID" and remote["items"][0]["quantity"] == 3
        with django_capture_on_commit_callbacks(execute=True):
            u.is_active = False
            u.save()
        assert sandbox.state.find_order(f"order-{u.pk}")["status"] == "CANCELED"
    finally:
        registry.disconnect(User)


def test_order_changelist_shows_money_in_the_orders_currency(admin_client, settings):
    Order.objects.create(source_id="eur-o", amount=123450, currency="EUR")
    Order.objects.create(source_id="bare-o", amount=777)
    page = admin_client.get(reverse("admin:django_voucherify_order_changelist")).content.decode()
    assert '<td class="field-total">1,234.50\u00a0EUR</td>' in page
    assert '<td class="field-total">777</td>' in page  # no currency known: minor units
    settings.VOUCHERIFY = {**settings.VOUCHERIFY, "CURRENCY": "JPY"}
    page = admin_client.get(reverse("admin:django_voucherify_order_changelist")).content.decode()
    # The shop's currency; Voucherify's amounts are x100 for every currency (docs/admin.md,
    # "Amounts"), so 777 is 7.77 yen: a 0-decimal currency keeps the cents rather than hide them.
    assert '<td class="field-total">7.77\u00a0JPY</td>' in page
