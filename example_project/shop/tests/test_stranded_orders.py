"""Orders a fault leaves between their creation and their payment record: the record is retried
while SQLite is locked, the confirmation page stops reloading past the placement grace, and the
shop's periodic sweep settles them (PAID with a payment reference, otherwise CANCELLED with the
vouchers rolled back)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone

from django_voucherify import checkout
from django_voucherify.models import CheckoutRedemption, LedgerState, Order, OrderStatus
from example_project.celery import app as celery_app
from example_project.shop import payment, settle, views
from example_project.shop.models import ShopOrder
from example_project.shop.tests.shopping import place

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_pause(monkeypatch):
    monkeypatch.setattr(settle, "RECORD_BACKOFF", 0.0)


def die_after_redeem(monkeypatch) -> None:
    """The process dies between the redeem and the charge: nothing rolls back, nothing records."""

    def redeem_then_die(codes, order, pay, customer=None, **kwargs):
        checkout.redeem(codes, order, customer)
        raise RuntimeError("process died here")

    monkeypatch.setattr(views.checkout, "redeem_then_pay", redeem_then_die)


def age(order: ShopOrder, by: timedelta) -> None:
    ShopOrder.objects.filter(pk=order.pk).update(created_at=timezone.now() - by)


def test_an_order_stranded_after_its_redeem_is_cancelled_and_its_voucher_released(
    web, monkeypatch, voucherify_sandbox
):
    web.post("/checkout/", {"code": "SAVE5", "apply": "1"})
    die_after_redeem(monkeypatch)
    with pytest.raises(RuntimeError):
        place(web)
    order = ShopOrder.objects.get()
    assert order.status == ShopOrder.Status.NEW
    assert CheckoutRedemption.objects.get(order_source_id=order.number).state == LedgerState.SUCCEEDED
    assert settle.settle_stranded_orders() == {"paid": 0, "cancelled": 0}  # may still be running
    age(order, settle.grace() + timedelta(seconds=1))
    assert celery_app.tasks["shop.settle_stranded_orders"].apply().get() == {"paid": 0, "cancelled": 1}
    order.refresh_from_db()
    assert order.status == ShopOrder.Status.CANCELLED
    assert Order.objects.get(source_id=order.number).status == OrderStatus.CANCELED
    row = CheckoutRedemption.objects.get(order_source_id=order.number)
    assert row.state == LedgerState.ROLLED_BACK and row.rollback_reason == "order not completed"
    assert voucherify_sandbox.state.vouchers["SAVE5"]["redemption"]["redeemed_quantity"] == 0
    assert settle.settle_stranded_orders() == {"paid": 0, "cancelled": 0}  # settled once


def test_a_stranded_order_with_a_payment_reference_is_settled_paid(web, monkeypatch):
    def charge_then_die(amount: int, *, fail: bool, **_: object) -> str:
        raise RuntimeError("process died here")

    monkeypatch.setattr(views.payment, "charge", charge_then_die)
    with pytest.raises(RuntimeError):
        place(web)
    order = ShopOrder.objects.get()
    ShopOrder.objects.filter(pk=order.pk).update(payment_reference="pay_from_the_provider")
    age(order, settle.grace() * 2)
    assert settle.settle_stranded_orders() == {"paid": 1, "cancelled": 0}
    assert ShopOrder.objects.get().status == ShopOrder.Status.PAID


def test_the_confirmation_page_stops_reloading_once_the_grace_is_over(web, monkeypatch):
    def crash(amount: int, *, fail: bool, **_: object) -> str:
        raise RuntimeError("process died here")

    monkeypatch.setattr(views.payment, "charge", crash)
    with pytest.raises(RuntimeError):
        place(web)
    order = ShopOrder.objects.get()
    page = web.get(f"/orders/{order.number}/").content.decode()
    assert 'http-equiv="refresh"' in page and "is being placed" in page  # still within the grace
    age(order, settle.grace() + timedelta(seconds=1))
    page = web.get(f"/orders/{order.number}/").content.decode()
    assert 'http-equiv="refresh"' not in page, "the page reloads itself forever for a stranded order"
    assert "could not be completed" in page and f"longer than {settle.grace_minutes()} minutes" in page


def locked_when_paid(monkeypatch, failures: int) -> list[str]:
    """``ShopOrder.save`` of a PAID order fails "database is locked" ``failures`` times."""
    real_save, calls = ShopOrder.save, []

    def save(self, *args, **kwargs):
        if self.status == ShopOrder.Status.PAID:
            calls.append(self.status)
            if len(calls) <= failures:
                raise OperationalError("database is locked")
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(ShopOrder, "save", save)
    return calls


def test_sqlite_locked_when_recording_the_payment_is_retried(web, monkeypatch):
    web.post("/checkout/", {"code": "SAVE5", "apply": "1"})
    calls = locked_when_paid(monkeypatch, failures=settle.RECORD_ATTEMPTS - 1)
    response = place(web)
    assert response.status_code == 302 and len(calls) == settle.RECORD_ATTEMPTS
    order = ShopOrder.objects.get()
    assert order.status == ShopOrder.Status.PAID and order.paid_cents == 2749
    assert order.payment_reference == payment.find_charge(order.number).reference
    redeemed = CheckoutRedemption.objects.get(order_source_id=order.number)
    assert redeemed.state == LedgerState.SUCCEEDED
    assert Order.objects.get(source_id=order.number).status == OrderStatus.PAID  # one transaction


def test_a_lock_outlasting_the_retries_is_no_error_page_and_the_sweep_settles_the_order(web, monkeypatch):
    web.post("/checkout/", {"code": "SAVE5", "apply": "1"})
    locked_when_paid(monkeypatch, failures=settle.RECORD_ATTEMPTS)
    response = place(web)
    order = ShopOrder.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/orders/{order.number}/"
    page = web.get(response["Location"]).content.decode()
    assert "Your payment went through but your order is not recorded yet." in page
    assert order.status == ShopOrder.Status.NEW and not order.payment_reference
    age(order, settle.grace() + timedelta(seconds=1))
    monkeypatch.undo()  # the database answers again
    # The shop has no record of the charge; the provider has: the order was paid, so it is
    # settled PAID with the provider's reference and amount (it used to be cancelled, its
    # customer charged, its discount rolled back).
    assert settle.settle_stranded_orders() == {"paid": 1, "cancelled": 0}
    order.refresh_from_db()
    charged = payment.find_charge(order.number)
    assert order.status == ShopOrder.Status.PAID and order.payment_reference == charged.reference
    assert order.paid_cents == charged.amount_cents == 2749
    row = CheckoutRedemption.objects.get(order_source_id=order.number)
    assert row.state == LedgerState.SUCCEEDED  # the discount the customer paid with is kept


def test_an_order_charged_twice_is_charged_once():
    """The provider's idempotency key is the order's number: a second charge (a retried
    placement) returns the first charge."""
    first = payment.charge(1000, fail=False, order_number="DEMO-X")
    assert payment.charge(1000, fail=False, order_number="DEMO-X") == first
    assert payment.find_charge("DEMO-X").reference == first and payment.find_charge("DEMO-Y") is None


def test_the_demo_beat_runs_the_sweep():
    schedule = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "shop.settle_stranded_orders" in schedule
    assert "shop.settle_stranded_orders" in celery_app.tasks
