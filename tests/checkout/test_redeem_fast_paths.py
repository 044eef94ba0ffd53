"""The DRF redeem's cheaper paths (issue 13) say and write what the slower ones did: the order
loaded with its customer and items in one query builds the same body; the ledger answer built
without a serializer equals the serializer's; the success UPDATE that does not wait for the WAL
flush runs its ``set_config`` and leaves the connection's setting alone."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, router, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_voucherify.checkout.ledger import _success_statement, record_success_if_pending
from django_voucherify.checkout.order_loading import order_body, order_with_items
from django_voucherify.models import CheckoutRedemption, Customer, LedgerState, Order, OrderItem
from django_voucherify.rest.serializers import LedgerSerializer, ledger_data

pytestmark = pytest.mark.django_db(transaction=True)

postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL setting")

ITEM = st.fixed_dictionaries(
    {
        "product_source_id": st.sampled_from(["", "p-1", "p-2"]),
        "sku_source_id": st.sampled_from(["", "sku-1"]),
        "quantity": st.integers(1, 5),
        "price": st.integers(0, 10_000),
        "amount": st.integers(0, 50_000),
    }
)
#: PostgreSQL's jsonb refuses NUL in text (the order could not be saved at all).
JSON_TEXT = st.text(st.characters(exclude_characters="\x00"), max_size=5)
METADATA = st.dictionaries(st.sampled_from(["a", "b"]), st.integers() | JSON_TEXT, max_size=2)


def _reference(source_id: str) -> dict[str, Any]:
    """The body the redeem sent before: the order (and its customer) read by the ORM as a shop
    reads it, the items read by ``to_voucherify``."""
    return Order.objects.select_related("customer").get(source_id=source_id).to_voucherify()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    items=st.lists(ITEM, max_size=4),
    with_customer=st.booleans(),
    with_user=st.booleans(),
    metadata=METADATA,
    amount=st.integers(0, 10**6),
)
def test_the_order_loaded_in_one_query_builds_the_same_body(
    db, items, with_customer, with_user, metadata, amount
):
    suffix = uuid.uuid4().hex[:10]
    user = get_user_model().objects.create_user(f"u-{suffix}") if with_user else None
    customer = Customer.objects.create(source_id=f"c-{suffix}", user=user) if with_customer else None
    order = Order.objects.create(source_id=f"o-{suffix}", amount=amount, customer=customer, metadata=metadata)
    Order.objects.filter(pk=order.pk).update(remote_payload={"big": 1})  # what a sync writes
    OrderItem.objects.bulk_create(OrderItem(order=order, **item) for item in items)
    expected = _reference(order.source_id)
    with CaptureQueriesContext(connection) as captured:
        loaded = order_with_items(order.source_id)
        assert loaded is not None
        body = loaded.to_voucherify()
        owner = loaded.customer.user_id if loaded.customer is not None else None
        item_orders = {id(item.order) for item in loaded.items.all()}
    assert len(captured.captured_queries) == 1  # an order without items too (LEFT JOIN)
    assert body == expected
    assert (loaded.pk, owner) == (order.pk, user.pk if user and customer else None)
    assert item_orders <= {id(loaded)}  # one order instance, as a prefetch leaves them
    assert "remote_payload" in loaded.get_deferred_fields()  # sync bookkeeping is not read
    # The instances are the ORM's: loaded from this database, not new, values through the
    # fields' converters (the metadata is a dict, not JSON text).
    instances = [loaded, *([loaded.customer] if loaded.customer is not None else []), *loaded.items.all()]
    assert all(not i._state.adding and i._state.db == "default" for i in instances)
    assert loaded.metadata == metadata
    assert loaded.customer_id == (customer.pk if customer else None)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=st.lists(ITEM, max_size=4), with_customer=st.booleans(), metadata=METADATA)
def test_a_mirror_passed_in_builds_the_same_body_in_one_query(db, items, with_customer, metadata):
    """``checkout.redeem(codes, order_mirror, ...)``: the body of the shop's ``Order`` (loaded
    with its customer) is ``to_voucherify()``'s, its items read by one statement; items the
    shop prefetched are not read again."""
    suffix = uuid.uuid4().hex[:10]
    customer = Customer.objects.create(source_id=f"c-{suffix}") if with_customer else None
    created = Order.objects.create(source_id=f"o-{suffix}", amount=7, customer=customer, metadata=metadata)
    OrderItem.objects.bulk_create(OrderItem(order=created, **item) for item in items)
    expected = _reference(created.source_id)
    order = Order.objects.select_related("customer").get(pk=created.pk)
    with CaptureQueriesContext(connection) as captured:
        assert order_body(order) == expected
    assert len(captured.captured_queries) == 1
    prefetched = Order.objects.select_related("customer").prefetch_related("items").get(pk=created.pk)
    with CaptureQueriesContext(connection) as captured:
        assert order_body(prefetched) == expected
    assert not captured.captured_queries


class ShopOrder(Order):
    """A shop's proxy of the mirror adding to its body through ``to_voucherify()``, the hook a
    single push and (before issue 13's items statement) checkout asked for the body."""

    class Meta:
        app_label = "a_shop"
        proxy = True

    def to_voucherify(self) -> dict[str, Any]:
        body = super().to_voucherify()
        body["metadata"]["channel"] = "web"
        return body


def test_a_mirror_building_its_own_body_is_asked_for_it(db):
    """The items statement only stands in for ``Order.to_voucherify`` itself: an override (whose
    signature may not take ``items``: it was a TypeError, a 500 at checkout) builds the body."""
    created = Order.objects.create(source_id="o-proxy", amount=7)
    OrderItem.objects.create(order=created, product_source_id="p-1", quantity=1, price=7, amount=7)
    body = order_body(ShopOrder.objects.get(pk=created.pk))
    assert body == {**_reference("o-proxy"), "metadata": {"channel": "web"}}


def test_an_unsaved_mirror_is_refused_as_the_orm_refuses_it(db):
    with pytest.raises(ValueError, match="primary key"):
        order_body(Order(source_id="o-unsaved", amount=1))


def test_an_unknown_order_is_none(db):
    assert order_with_items("no-such-order") is None


ROWS = st.builds(
    CheckoutRedemption,
    id=st.integers(1, 2**62) | st.none(),
    order_source_id=st.text(min_size=1, max_size=20),
    codes=st.lists(st.text(max_size=10), max_size=3),
    state=st.sampled_from(list(LedgerState)),
    amount=st.integers(0, 10**12) | st.none(),
    discount_amount=st.integers(0, 10**12),
    total_amount=st.integers(0, 10**12) | st.none(),
    parent_redemption_id=st.text(max_size=10),
    redemption_ids=st.lists(st.text(max_size=10), max_size=3),
    rollback_requested_at=st.none() | st.just(timezone.now()),
)


@given(row=ROWS)
def test_the_ledger_answer_is_what_the_serializer_writes(row):
    assert ledger_data(row) == LedgerSerializer(row).data


ANSWER = {"redemptions": [{"id": "r_1"}], "order": {"amount": 1000, "total_discount_amount": 100}}


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return str(cursor.fetchone()[0])


def _pending(order_source_id: str) -> CheckoutRedemption:
    return CheckoutRedemption.objects.create(order_source_id=order_source_id, codes=["X"])


@postgresql_only
def test_the_success_commit_does_not_wait_for_the_flush_and_leaves_the_session_alone(db):
    """In autocommit the UPDATE is its own transaction and sets ``synchronous_commit`` for that
    transaction only: the connection's next transactions wait for the flush again (the next
    PENDING insert must be durable)."""
    before = _synchronous_commit()
    row = _pending("ORD-ASYNC")
    with CaptureQueriesContext(connection) as captured:
        assert record_success_if_pending(row, ANSWER) is True
    [update] = [q["sql"] for q in captured.captured_queries]
    assert "set_config('synchronous_commit', 'off', true)" in update
    assert _synchronous_commit() == before
    assert CheckoutRedemption.objects.get(pk=row.pk).state == LedgerState.SUCCEEDED


@postgresql_only
def test_the_statement_turns_the_flush_wait_off_for_its_transaction(db):
    """Run inside a transaction, the statement's ``set_config`` is visible there: it is evaluated
    with the row written, not skipped by the planner."""
    before = _synchronous_commit()
    row = _pending("ORD-SET-CONFIG")
    alias = router.db_for_write(CheckoutRedemption)
    fields, sql = _success_statement(alias, asynchronous=True)
    row.state, row.updated_at = LedgerState.SUCCEEDED, timezone.now()
    values = [f.get_db_prep_save(getattr(row, f.attname), connection=connection) for f in fields]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, [*values, row.pk, LedgerState.PENDING.value])
            assert cursor.rowcount == 1
        assert _synchronous_commit() == "off"
    assert _synchronous_commit() == before  # set_config(..., true) ended with the transaction


def test_inside_a_transaction_the_enclosing_one_decides_how_it_commits(db):
    """A caller's (or a test case's) transaction is not the UPDATE's to make asynchronous."""
    row = _pending("ORD-IN-ATOMIC")
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        assert record_success_if_pending(row, ANSWER) is True
    assert not any("set_config" in q["sql"] for q in captured.captured_queries)
    assert CheckoutRedemption.objects.get(pk=row.pk).state == LedgerState.SUCCEEDED
