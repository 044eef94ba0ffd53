"""The rows a mirror push sends, read and encoded the cheap way.

Only the columns a body is made of are read (``values_list`` of the model's ``BODY_FIELDS``:
never the raw ``remote_payload`` nor the sync bookkeeping, and no model instances), a page of
:data:`PAGE_SIZE` rows per query in primary-key order (keyset: each page starts after the last
pk and ends at a bound read first, no cursor held open), so memory holds one page whatever the
table's size. Each row's body
is built by the same function as the model's ``to_voucherify()`` and JSON-encoded exactly once:
those bytes size the request and are the request (:func:`~..api.batching.encoded_batches`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from ..models import Customer, Order, Product
from ..models.customers import BODY_FIELDS as CUSTOMER_FIELDS
from ..models.customers import customer_body
from ..models.orders import BODY_FIELDS as ORDER_FIELDS
from ..models.orders import ITEM_BODY_FIELDS, OrderItem, item_body, order_body
from ..models.products import PRODUCT_BODY_FIELDS, product_body

#: Mirrors read per query.
PAGE_SIZE = 2000

#: ``(pk, source_id, JSON bytes of the body)`` of one mirror.
EncodedRow = tuple[int, str, bytes]


def encoded_rows(
    model: type[Customer] | type[Order] | type[Product], since: datetime | None
) -> Iterator[EncodedRow]:
    """Every ``model`` mirror (changed since ``since``, when given) in pk order, encoded once."""
    fields = {Customer: CUSTOMER_FIELDS, Order: ORDER_FIELDS, Product: PRODUCT_BODY_FIELDS}[model]
    qs: Any = model.objects.order_by("pk")
    if since:
        qs = qs.filter(updated_at__gte=since)
    keys = qs.values_list("pk", flat=True)
    qs = qs.values_list("pk", *fields)
    dumps = json.dumps
    last_pk = 0
    while True:
        # The page's last pk first (an index-only scan of the primary key), then the page as a
        # closed pk range. ``pk > last ORDER BY pk LIMIT n`` with the orders' customer join was
        # planned from the table's statistics: on a table grown since its last ANALYZE (a bulk
        # load, the push that follows it) that was a sequential scan, a hash join and a sort of
        # every row after ``last`` for each page, quadratic over the push (measured on 100,000
        # orders: ~0.6 s a page). A range bounded on both sides is an index range whatever the
        # statistics say; so are the page's items (:func:`_items_of`).
        bound = list(keys.filter(pk__gt=last_pk)[PAGE_SIZE - 1 : PAGE_SIZE])
        rows = qs.filter(pk__gt=last_pk, pk__lte=bound[0]) if bound else qs.filter(pk__gt=last_pk)
        page = list(rows)
        if not page:
            return
        last_pk = page[-1][0]
        if model is Customer:
            for pk, *values in page:
                yield pk, values[0], dumps(customer_body(*values)).encode()
        elif model is Product:
            for pk, *values in page:
                yield pk, values[0], dumps(product_body(*values)).encode()
        else:
            items = _items_of(page[0][0], last_pk, since)
            for pk, source_id, status, amount, metadata, customer_source_id in page:
                body = order_body(source_id, status, amount, metadata, customer_source_id, items.pop(pk, []))
                yield pk, source_id, dumps(body).encode()
        if not bound:  # fewer than a page were left: all read
            return


def _items_of(first_pk: int, last_pk: int, since: datetime | None) -> dict[int, list[dict[str, Any]]]:
    """The ``items[]`` bodies of a page of orders (pks ``first_pk`` to ``last_pk``), in item pk
    order, in one query. The page is a pk range (keyset), so its items are read as a closed
    range of the ``order_id`` index rather than ``order_id IN (the page's 2000 pks)``: two
    parameters instead of 2000, and a plan that stays an index range when the table's
    statistics are stale (measured on 20,000 orders: the ten ``IN`` reads took ~2 s of database
    time, the ranges ~0.3 s, one read of every item 0.2-0.3 s; see bench/README.md). With
    ``since``, the range's orders not changed since then are not on the page: their items are
    left out by the same condition."""
    items: defaultdict[int, list[dict[str, Any]]] = defaultdict(list)
    rows = OrderItem.objects.filter(order_id__gte=first_pk, order_id__lte=last_pk)
    if since:
        rows = rows.filter(order__updated_at__gte=since)
    rows = rows.order_by("order_id", "pk")
    for order_id, *values in rows.values_list("order_id", *ITEM_BODY_FIELDS):
        items[order_id].append(item_body(*values))
    return items
