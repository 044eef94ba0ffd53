"""``client.customers``: the Customers API group."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

from ..batching import EncodedJSON
from ..endpoints import endpoint
from ..paging import iter_cursor, iter_pages
from ..transport import encode_path as p
from ..types import AsyncActionCreated, Customer
from ..uploads import CsvSource
from .base import Resource


class Customers(Resource):
    namespace = "customers"

    @endpoint("create-customer", "POST", "/v1/customers")
    def create(self, customer: Mapping[str, Any]) -> Customer:
        """Create, or update the customer with the same ``source_id`` (``POST /v1/customers``)."""
        return cast(Customer, self._post("/v1/customers", dict(customer)))

    @endpoint("get-customer", "GET", "/v1/customers/{customerId}")
    def get(self, customer_id: str) -> Customer:
        """By Voucherify id or ``source_id`` (``GET /v1/customers/{customerId}``)."""
        return cast(Customer, self._get(p("/v1/customers/{}", customer_id)))

    @endpoint("update-customer", "PUT", "/v1/customers/{customerId}")
    def update(self, customer_id: str, changes: Mapping[str, Any]) -> Customer:
        """``PUT /v1/customers/{customerId}`` (id or ``source_id``)."""
        return cast(Customer, self._put(p("/v1/customers/{}", customer_id), dict(changes)))

    @endpoint("delete-customer", "DELETE", "/v1/customers/{customerId}")
    def delete(self, customer_id: str) -> None:
        """``DELETE /v1/customers/{customerId}``."""
        self._delete(p("/v1/customers/{}", customer_id))

    @endpoint("customer-permanently-deletion", "POST", "/v1/customers/{customerId}/permanent-deletion")
    def delete_permanently(self, customer_id: str) -> dict[str, Any]:
        """Erase a customer and their data, e.g. for a GDPR request
        (``POST /v1/customers/{customerId}/permanent-deletion``)."""
        return cast(dict[str, Any], self._post(p("/v1/customers/{}/permanent-deletion", customer_id)))

    @endpoint("list-customers", "GET", "/v1/customers")
    def list(self, **params: Any) -> dict[str, Any]:
        """One page of ``GET /v1/customers``: ``limit``, ``page``, ``email``, ``city``, ``name``,
        ``segment_id``, ``created_at={'before':..., 'after':...}``, ``updated_at``, ``order``,
        ``starting_after``."""
        return cast(dict[str, Any], self._get("/v1/customers", params))

    def iterate(self, **params: Any) -> Iterator[Customer]:
        """Every customer matching ``params``, oldest first: pages of 100 within a
        ``created_at[after]`` window that slides on past page 99 (as for vouchers)."""
        return cast(
            Iterator[Customer], iter_pages(self.list, "customers", params=params, date_filter="created_at")
        )

    @endpoint("list-customer-activity", "GET", "/v1/customers/{customerId}/activity")
    def list_activity(self, customer_id: str, **params: Any) -> dict[str, Any]:
        """One page of ``GET /v1/customers/{customerId}/activity``."""
        return cast(dict[str, Any], self._get(p("/v1/customers/{}/activity", customer_id), params))

    def iterate_activity(self, customer_id: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every activity of a customer, following ``starting_after_id``."""

        def fetch(**query: Any) -> dict[str, Any]:
            return self.list_activity(customer_id, **query)

        return iter_cursor(fetch, "data", params=params)

    @endpoint("list-customer-redeemables", "GET", "/v1/customers/{customerId}/redeemables")
    def list_redeemables(self, customer_id: str, **params: Any) -> dict[str, Any]:
        """One page of ``GET /v1/customers/{customerId}/redeemables``."""
        path = p("/v1/customers/{}/redeemables", customer_id)
        return cast(dict[str, Any], self._get(path, params))

    def iterate_redeemables(self, customer_id: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every redeemable a customer holds, following ``starting_after_id``."""

        def fetch(**query: Any) -> dict[str, Any]:
            return self.list_redeemables(customer_id, **query)

        return iter_cursor(fetch, "data", params=params)

    @endpoint("list-customer-segments", "GET", "/v1/customers/{customerId}/segments")
    def list_segments(self, customer_id: str) -> dict[str, Any]:
        """``GET /v1/customers/{customerId}/segments``."""
        return cast(dict[str, Any], self._get(p("/v1/customers/{}/segments", customer_id)))

    @endpoint("import-customers-using-csv", "POST", "/v1/customers/importCSV")
    def import_csv(self, source: CsvSource, *, filename: str | None = None) -> AsyncActionCreated:
        """Import or update customers from a CSV path, bytes or binary file, streamed
        (``POST /v1/customers/importCSV``); returns the async action."""
        return cast(AsyncActionCreated, self._upload_csv("/v1/customers/importCSV", source, filename))

    @endpoint("update-customers-in-bulk", "POST", "/v1/customers/bulk/async")
    def bulk_update(self, customers: Sequence[Mapping[str, Any]] | EncodedJSON) -> AsyncActionCreated:
        """Upsert many customers by ``source_id`` (``POST /v1/customers/bulk/async``); an
        :class:`~..batching.EncodedJSON` array is sent as it is."""
        body = customers if isinstance(customers, EncodedJSON) else [dict(c) for c in customers]
        return cast(AsyncActionCreated, self._post("/v1/customers/bulk/async", body))

    @endpoint("update-customers-metadata-in-bulk", "POST", "/v1/customers/metadata/async")
    def update_metadata(self, source_ids: Sequence[str], metadata: Mapping[str, Any]) -> AsyncActionCreated:
        """Set the same metadata on many customers (``POST /v1/customers/metadata/async``)."""
        body = {"source_ids": list(source_ids), "metadata": dict(metadata)}
        return cast(AsyncActionCreated, self._post("/v1/customers/metadata/async", body))
