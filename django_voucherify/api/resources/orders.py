"""``client.orders``: the Orders API group."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

from ..batching import MAX_ORDERS_PER_IMPORT, EncodedJSON
from ..endpoints import endpoint
from ..paging import iter_pages
from ..transport import encode_path as p
from ..types import AsyncActionCreated, Export, Order
from .base import Resource


class Orders(Resource):
    namespace = "orders"

    @endpoint("create-order", "POST", "/v1/orders")
    def create(self, order: Mapping[str, Any]) -> Order:
        """Create, or update the order with the same ``source_id`` (``POST /v1/orders``)."""
        return cast(Order, self._post("/v1/orders", dict(order)))

    @endpoint("get-order", "GET", "/v1/orders/{orderId}")
    def get(self, order_id: str) -> Order:
        """By Voucherify id or ``source_id`` (``GET /v1/orders/{orderId}``)."""
        return cast(Order, self._get(p("/v1/orders/{}", order_id)))

    @endpoint("update-order", "PUT", "/v1/orders/{orderId}")
    def update(self, order_id: str, changes: Mapping[str, Any]) -> Order:
        """``PUT /v1/orders/{orderId}``: status, items, amounts, metadata."""
        return cast(Order, self._put(p("/v1/orders/{}", order_id), dict(changes)))

    @endpoint("list-orders", "GET", "/v1/orders")
    def list(self, **params: Any) -> dict[str, Any]:
        """One page of ``GET /v1/orders`` (``limit``, ``page``, ``order``)."""
        return cast(dict[str, Any], self._get("/v1/orders", params))

    def iterate(self, **params: Any) -> Iterator[Order]:
        """Every order, walking pages (the API serves at most 100 pages of 100 orders)."""
        return cast(Iterator[Order], iter_pages(self.list, "orders", params=params, max_page=100))

    @endpoint("import-orders", "POST", "/v1/orders/import")
    def import_json(self, orders: Sequence[Mapping[str, Any]] | EncodedJSON) -> AsyncActionCreated:
        """Import historical orders, at most 2000 per call (``POST /v1/orders/import``); an
        :class:`~..batching.EncodedJSON` array (its caller kept it under 2000) is sent as it is."""
        if isinstance(orders, EncodedJSON):
            return cast(AsyncActionCreated, self._post("/v1/orders/import", orders))
        if len(orders) > MAX_ORDERS_PER_IMPORT:
            raise ValueError(
                f"Voucherify accepts at most {MAX_ORDERS_PER_IMPORT} orders per import, "
                f"got {len(orders)}; split them (django_voucherify.jobs does)."
            )
        return cast(AsyncActionCreated, self._post("/v1/orders/import", [dict(o) for o in orders]))

    @endpoint("create-order-export", "POST", "/v1/orders/export")
    def export(self, parameters: Mapping[str, Any] | None = None) -> Export:
        """Start a CSV export of orders (``POST /v1/orders/export``); follow it with
        ``client.exports``."""
        return cast(Export, self._post("/v1/orders/export", {"parameters": dict(parameters or {})}))
