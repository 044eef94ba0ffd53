"""Shop models connected through the sync registry go through the same source id rule as the
checkout and REST (review of issue 10, defect 6). Before, a mapper building an order number
with a zero-width space created a mirror (and a Voucherify order) that checkout then refused."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction

from django_voucherify.checkout import cart
from django_voucherify.checkout.errors import InvalidCheckoutInput
from django_voucherify.models import Customer, OutboxEntry
from django_voucherify.sync import registry
from django_voucherify.validation import InvalidInput

pytestmark = pytest.mark.django_db


@pytest.fixture
def linked():
    User = get_user_model()
    registry.connect(
        User,
        Customer,
        lambda u: {"source_id": (u.last_name or f"user-{u.pk}").replace("LONG", "u" * 201), "email": u.email},
    )
    yield User
    registry.disconnect(User)


@pytest.mark.parametrize("source_id", ["user\u200b1", "user\u202e1", "user\x1b1", "LONG", " user-1"])
def test_the_registry_refuses_the_source_ids_checkout_refuses(linked, source_id):
    with pytest.raises(InvalidCheckoutInput):
        cart.order_source_id_of({"source_id": source_id.replace("LONG", "u" * 201)})
    with pytest.raises(InvalidInput, match="source_id"), transaction.atomic():
        linked.objects.create(username="a", last_name=source_id)
    assert not Customer.objects.exists() and not OutboxEntry.objects.exists()


def test_ordinary_ids_still_sync(linked):
    linked.objects.create(username="b", last_name="kund-Ä-1")
    assert list(Customer.objects.values_list("source_id", flat=True)) == ["kund-Ä-1"]
