"""A mirror saved outside any transaction (autocommit: a script, a shell, a view without
ATOMIC_REQUESTS). Django sends ``post_save`` after the row's own statement has committed, so the
outbox upsert ran in a transaction of its own: when it failed (the connection dropped, a lock or
statement timeout, the process killed in between), the change stayed in the mirror with no
outbox row to send it, and no sweep ever looked at it again. The mirror's save and its outbox
row are now one transaction: both or neither. The same for an order item (its order's row)."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection

from django_voucherify.models import Customer, Order, OrderItem, OutboxEntry
from django_voucherify.sync import outbox

pytestmark = pytest.mark.django_db(transaction=True)


def _outbox_down(monkeypatch: pytest.MonkeyPatch) -> None:
    def down(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(outbox, "_upsert", down)


@pytest.fixture
def no_broker(monkeypatch):
    monkeypatch.setattr(outbox, "enqueue", lambda *a, **k: True)


def test_a_mirror_saved_in_autocommit_is_not_changed_when_its_outbox_row_is_not_written(
    no_broker, monkeypatch
):
    customer = Customer.objects.create(source_id="auto-1", name="Before")
    assert connection.get_autocommit()
    _outbox_down(monkeypatch)
    customer.name = "After"
    with pytest.raises(OperationalError):
        customer.save()
    assert Customer.objects.get(pk=customer.pk).name == "Before"  # not a change nobody will send
    assert OutboxEntry.objects.get().version == 1


def test_an_item_saved_in_autocommit_is_not_kept_when_its_order_row_is_not_written(no_broker, monkeypatch):
    order = Order.objects.create(source_id="auto-o", amount=100)
    _outbox_down(monkeypatch)
    with pytest.raises(OperationalError):
        OrderItem.objects.create(order=order, product_source_id="p", quantity=1, price=100, amount=100)
    assert not OrderItem.objects.exists()
    assert OutboxEntry.objects.get().version == 1
