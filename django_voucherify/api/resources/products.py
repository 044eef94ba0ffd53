"""``client.products``: the Products API group, products and their SKUs (variants).

Validation rules and discounts limited to products match the items of an order by product and
SKU ids or ``source_id``s, so a shop keeps its catalogue here under its own ids.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

from ..batching import EncodedJSON
from ..endpoints import endpoint
from ..paging import iter_pages
from ..transport import encode_path as p
from ..types import AsyncActionCreated, Product, Sku
from ..uploads import CsvSource
from .base import Resource


class Products(Resource):
    namespace = "products"

    @endpoint("list-products", "GET", "/v1/products")
    def list(self, **params: Any) -> dict[str, Any]:
        """One page of ``GET /v1/products``: ``limit``, ``page``, ``order``, ``start_date``,
        ``end_date``."""
        return cast(dict[str, Any], self._get("/v1/products", params))

    def iterate(self, **params: Any) -> Iterator[Product]:
        """Every product matching ``params``: pages of 100, at most 100 pages (the API has no
        ``created_at`` window to slide with; past 10,000 this raises PaginationLimitError)."""
        return cast(Iterator[Product], iter_pages(self.list, "products", params=params, max_page=100))

    @endpoint("create-product", "POST", "/v1/products")
    def create(self, product: Mapping[str, Any]) -> Product:
        """Create, or update the product with the same ``id`` or ``source_id``
        (``POST /v1/products``): ``name``, ``price``, ``attributes``, ``image_url``,
        ``metadata``."""
        return cast(Product, self._post("/v1/products", dict(product)))

    @endpoint("get-product", "GET", "/v1/products/{productId}")
    def get(self, product_id: str) -> Product:
        """By Voucherify id or ``source_id`` (``GET /v1/products/{productId}``)."""
        return cast(Product, self._get(p("/v1/products/{}", product_id)))

    @endpoint("update-product", "PUT", "/v1/products/{productId}")
    def update(self, product_id: str, changes: Mapping[str, Any]) -> Product:
        """``PUT /v1/products/{productId}`` (id or ``source_id``)."""
        return cast(Product, self._put(p("/v1/products/{}", product_id), dict(changes)))

    @endpoint("delete-product", "DELETE", "/v1/products/{productId}")
    def delete(self, product_id: str, *, force: bool = False) -> None:
        """Move a product and its SKUs to the bin, or delete them for good with ``force=True``
        (``DELETE /v1/products/{productId}``)."""
        self._delete(p("/v1/products/{}", product_id), {"force": force} if force else None)

    @endpoint("update-products-in-bulk", "POST", "/v1/products/bulk/async")
    def bulk_update(self, products: Sequence[Mapping[str, Any]] | EncodedJSON) -> AsyncActionCreated:
        """Create or update many products by ``source_id`` (``POST /v1/products/bulk/async``);
        returns the async action. An :class:`~..batching.EncodedJSON` array is sent as it is."""
        body = products if isinstance(products, EncodedJSON) else [dict(product) for product in products]
        return cast(AsyncActionCreated, self._post("/v1/products/bulk/async", body))

    @endpoint("update-products-metadata-in-bulk", "POST", "/v1/products/metadata/async")
    def update_metadata(self, source_ids: Sequence[str], metadata: Mapping[str, Any]) -> AsyncActionCreated:
        """Set the same metadata on many products (``POST /v1/products/metadata/async``)."""
        body = {"source_ids": list(source_ids), "metadata": dict(metadata)}
        return cast(AsyncActionCreated, self._post("/v1/products/metadata/async", body))

    @endpoint("import-products-using-csv", "POST", "/v1/products/importCSV")
    def import_csv(self, source: CsvSource, *, filename: str | None = None) -> AsyncActionCreated:
        """Import products from a CSV path, bytes or binary file, streamed
        (``POST /v1/products/importCSV``); returns the async action."""
        return cast(AsyncActionCreated, self._upload_csv("/v1/products/importCSV", source, filename))

    # --- SKUs ----------------------------------------------------------------------------------

    @endpoint("get-sku", "GET", "/v1/skus/{skuId}")
    def get_sku(self, sku_id: str) -> Sku:
        """By Voucherify id or ``source_id`` (``GET /v1/skus/{skuId}``)."""
        return cast(Sku, self._get(p("/v1/skus/{}", sku_id)))

    @endpoint("list-SKUs-in-product", "GET", "/v1/products/{productId}/skus")
    def list_skus(self, product_id: str, **params: Any) -> dict[str, Any]:
        """One page of a product's SKUs (``GET /v1/products/{productId}/skus``: ``limit``,
        ``page``, ``order``, ``start_date``, ``end_date``)."""
        return cast(dict[str, Any], self._get(p("/v1/products/{}/skus", product_id), params))

    def iterate_skus(self, product_id: str, **params: Any) -> Iterator[Sku]:
        """Every SKU of a product: pages of 100, at most 100 pages."""

        def fetch(**query: Any) -> dict[str, Any]:
            return self.list_skus(product_id, **query)

        return cast(Iterator[Sku], iter_pages(fetch, "skus", params=params, max_page=100))

    @endpoint("create-sku", "POST", "/v1/products/{productId}/skus")
    def create_sku(self, product_id: str, sku: Mapping[str, Any]) -> Sku:
        """Add a SKU to a product, or update the SKU with the same ``id`` or ``source_id``
        (``POST /v1/products/{productId}/skus``): ``sku`` (its name), ``price``,
        ``currency``, ``attributes``, ``image_url``, ``metadata``."""
        return cast(Sku, self._post(p("/v1/products/{}/skus", product_id), dict(sku)))

    @endpoint("update-sku", "PUT", "/v1/products/{productId}/skus/{skuId}")
    def update_sku(self, product_id: str, sku_id: str, changes: Mapping[str, Any]) -> Sku:
        """``PUT /v1/products/{productId}/skus/{skuId}`` (ids or ``source_id``s)."""
        path = p("/v1/products/{}/skus/{}", product_id, sku_id)
        return cast(Sku, self._put(path, dict(changes)))

    @endpoint("delete-sku", "DELETE", "/v1/products/{productId}/skus/{skuId}")
    def delete_sku(self, product_id: str, sku_id: str, *, force: bool = False) -> None:
        """Move a SKU to the bin, or delete it for good with ``force=True``
        (``DELETE /v1/products/{productId}/skus/{skuId}``)."""
        path = p("/v1/products/{}/skus/{}", product_id, sku_id)
        self._delete(path, {"force": force} if force else None)

    @endpoint("import-SKUs-using-csv", "POST", "/v1/skus/importCSV")
    def import_skus_csv(self, source: CsvSource, *, filename: str | None = None) -> AsyncActionCreated:
        """Import SKUs from a CSV path, bytes or binary file, streamed
        (``POST /v1/skus/importCSV``); returns the async action."""
        return cast(AsyncActionCreated, self._upload_csv("/v1/skus/importCSV", source, filename))
