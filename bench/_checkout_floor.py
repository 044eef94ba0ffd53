"""The floor of ``checkout_round_trips.py``: the least a Django view redeeming an order can do.

A plain Django function view (no DRF, no ORM, no serializer, no throttle), served by the same
WSGI handler and middleware as the real endpoint, that makes the same round trips as the real
endpoint with a token: the token joined to its user (1 query), the order with its customer and
items (1 query), a PENDING row inserted and committed durably before the request leaves
(1 query, synchronous commit), the same ``POST /v1/redemptions`` through this package's client,
then the success written without waiting for the WAL flush (1 query, as the ledger's success
does). Its table (``bench_floor``, made by :func:`create_table`) has a partial unique index per
order like the ledger's. What separates the real endpoint from this is Django REST framework,
the ORM and checkout's own checks; what separates this from the bare client is Django's request
handling plus the four database round trips.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

TABLE = "bench_floor"


def create_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {TABLE} (id bigserial PRIMARY KEY, reference uuid NOT NULL UNIQUE, "
            "order_source_id varchar(200) NOT NULL, state varchar(16) NOT NULL, codes jsonb NOT NULL, "
            "amount bigint, response jsonb NOT NULL, created_at timestamptz NOT NULL, "
            "updated_at timestamptz NOT NULL)"
        )
        cursor.execute(
            f"CREATE UNIQUE INDEX {TABLE}_live ON {TABLE} (order_source_id) "
            "WHERE state IN ('PENDING', 'SUCCEEDED', 'UNKNOWN')"
        )


def _order_sql() -> str:
    from django_voucherify.models import Customer, Order, OrderItem

    order, item, customer = Order._meta.db_table, OrderItem._meta.db_table, Customer._meta.db_table
    return (
        f"SELECT o.amount, c.source_id, c.user_id, i.product_source_id, i.quantity, i.price, i.amount "
        f"FROM {order} o LEFT JOIN {customer} c ON c.id = o.customer_id "
        f"JOIN {item} i ON i.order_id = o.id WHERE o.source_id = %s ORDER BY i.id"
    )


TOKEN_SQL = (
    "SELECT u.id FROM authtoken_token t JOIN auth_user u ON u.id = t.user_id WHERE t.key = %s AND u.is_active"
)
INSERT_SQL = (
    f"INSERT INTO {TABLE} (reference, order_source_id, state, codes, amount, response, created_at, "
    "updated_at) VALUES (%s, %s, 'PENDING', %s, %s, '{}', now(), now()) RETURNING id"
)
SUCCESS_SQL = (
    f"UPDATE {TABLE} SET state = 'SUCCEEDED', response = %s, updated_at = now() "
    "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS no_flush_wait "
    "WHERE id = %s AND state = 'PENDING'"
)
_order_statement: list[str] = []


@csrf_exempt
def floor_redeem(request: HttpRequest) -> HttpResponse:
    from django_voucherify.checkout.cart import checkout_client

    body = json.loads(request.body)
    codes, source_id = body["codes"], body["order_source_id"]
    if not _order_statement:
        _order_statement.append(_order_sql())
    with connection.cursor() as cursor:
        cursor.execute(TOKEN_SQL, [request.headers["Authorization"].removeprefix("Token ")])
        user = cursor.fetchone()
        cursor.execute(_order_statement[0], [source_id])
        rows = cursor.fetchall()
        if user is None or not rows or rows[0][2] != user[0]:
            return JsonResponse({"error": "not yours"}, status=403)
        amount, customer = rows[0][0], rows[0][1]
        reference = uuid.uuid4()
        cursor.execute(INSERT_SQL, [reference, source_id, json.dumps(codes), amount])
        row_id = cursor.fetchone()[0]
    items = [
        {"quantity": q, "price": p, "amount": a, "source_id": product, "related_object": "product"}
        for _a, _c, _u, product, q, p, a in rows
    ]
    redeem: dict[str, Any] = {
        "redeemables": [{"object": "voucher", "id": code} for code in codes],
        "order": {"source_id": source_id, "amount": amount, "items": items, "metadata": {}},
        "customer": {"source_id": customer},
        "metadata": {"django_voucherify_ledger": str(reference)},
    }
    answer = checkout_client().redemptions.redeem(redeem)
    with connection.cursor() as cursor:
        cursor.execute(SUCCESS_SQL, [json.dumps(answer), row_id])
    order = answer.get("order") or {}
    result = {"applied": True, "id": row_id, "total_amount": order.get("total_amount")}
    return HttpResponse(json.dumps(result), content_type="application/json", status=201)
