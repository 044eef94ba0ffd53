"""``client.vouchers``: the Vouchers API group."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

from ..endpoints import endpoint
from ..paging import iter_cursor, iter_pages
from ..transport import encode_path as p
from ..types import AsyncActionCreated, Export, Voucher, VoucherTransaction
from ..uploads import CsvSource
from .base import Resource, compact


class Vouchers(Resource):
    namespace = "vouchers"

    @endpoint("create-voucher", "POST", "/v1/vouchers/{code}")
    def create(self, code: str, voucher: Mapping[str, Any]) -> Voucher:
        """Create a voucher with the given code (``POST /v1/vouchers/{code}``)."""
        return cast(Voucher, self._post(p("/v1/vouchers/{}", code), dict(voucher)))

    @endpoint("generate-random-code", "POST", "/v1/vouchers")
    def generate(self, voucher: Mapping[str, Any]) -> Voucher:
        """Create a voucher with a generated code, see ``code_config`` (``POST /v1/vouchers``)."""
        return cast(Voucher, self._post("/v1/vouchers", dict(voucher)))

    @endpoint("get-voucher", "GET", "/v1/vouchers/{code}")
    def get(self, code: str) -> Voucher:
        """``GET /v1/vouchers/{code}``."""
        return cast(Voucher, self._get(p("/v1/vouchers/{}", code)))

    @endpoint("update-voucher", "PUT", "/v1/vouchers/{code}")
    def update(self, code: str, changes: Mapping[str, Any]) -> Voucher:
        """``PUT /v1/vouchers/{code}``; the voucher type cannot change."""
        return cast(Voucher, self._put(p("/v1/vouchers/{}", code), dict(changes)))

    @endpoint("delete-voucher", "DELETE", "/v1/vouchers/{code}")
    def delete(self, code: str, *, force: bool = False) -> None:
        """Move to the bin, or delete for good with ``force=True`` (``DELETE /v1/vouchers/{code}``)."""
        self._delete(p("/v1/vouchers/{}", code), {"force": force} if force else None)

    @endpoint("enable-voucher", "POST", "/v1/vouchers/{code}/enable")
    def enable(self, code: str) -> Voucher:
        """``POST /v1/vouchers/{code}/enable``."""
        return cast(Voucher, self._post(p("/v1/vouchers/{}/enable", code)))

    @endpoint("disable-voucher", "POST", "/v1/vouchers/{code}/disable")
    def disable(self, code: str) -> Voucher:
        """``POST /v1/vouchers/{code}/disable``."""
        return cast(Voucher, self._post(p("/v1/vouchers/{}/disable", code)))

    @endpoint("list-vouchers", "GET", "/v1/vouchers")
    def list(self, **params: Any) -> dict[str, Any]:
        """One page of ``GET /v1/vouchers``: ``limit``, ``page``, ``category``, ``campaign``,
        ``customer``, ``created_at={'before': ..., 'after': ...}``, ``updated_at``, ``order``,
        ``code``, ``ids=[...]``, ``filters={...}``."""
        return cast(dict[str, Any], self._get("/v1/vouchers", params))

    def iterate(self, **params: Any) -> Iterator[Voucher]:
        """Every voucher matching ``params``, walking all pages (past page 99 by date)."""
        return cast(
            Iterator[Voucher], iter_pages(self.list, "vouchers", params=params, date_filter="created_at")
        )

    @endpoint("update-voucher-balance", "POST", "/v1/vouchers/{code}/balance")
    def update_balance(
        self, code: str, amount: int, *, source_id: str | None = None, reason: str | None = None
    ) -> dict[str, Any]:
        """Add (positive) or remove (negative) gift credits or loyalty points, in minor units
        (``POST /v1/vouchers/{code}/balance``). ``source_id`` is your own reference for the
        transaction. Not idempotent: a call whose outcome is unknown must be checked against
        ``list_transactions`` before it is sent again, or the card is credited twice."""
        body = compact(amount=amount, source_id=source_id, reason=reason)
        return cast(dict[str, Any], self._post(p("/v1/vouchers/{}/balance", code), body))

    @endpoint("list-voucher-transactions", "GET", "/v1/vouchers/{code}/transactions")
    def list_transactions(self, code: str, **params: Any) -> dict[str, Any]:
        """One page of ``GET /v1/vouchers/{code}/transactions`` (``limit``, ``order``,
        ``starting_after_id``)."""
        return cast(dict[str, Any], self._get(p("/v1/vouchers/{}/transactions", code), params))

    def iterate_transactions(self, code: str, **params: Any) -> Iterator[VoucherTransaction]:
        """Every transaction of a gift or loyalty card, following the cursor."""

        def fetch(**query: Any) -> dict[str, Any]:
            return self.list_transactions(code, **query)

        return cast(Iterator[VoucherTransaction], iter_cursor(fetch, "data", params=params))

    @endpoint("export-voucher-transactions", "POST", "/v1/vouchers/{code}/transactions/export")
    def export_transactions(self, code: str, parameters: Mapping[str, Any] | None = None) -> Export:
        """Start a CSV export of a card's transactions
        (``POST /v1/vouchers/{code}/transactions/export``); follow it with ``client.exports``."""
        body = {"parameters": dict(parameters or {})}
        return cast(Export, self._post(p("/v1/vouchers/{}/transactions/export", code), body))

    @endpoint("import-vouchers", "POST", "/v1/vouchers/import")
    def import_json(self, vouchers: Sequence[Mapping[str, Any]]) -> AsyncActionCreated:
        """Import standalone vouchers (``POST /v1/vouchers/import``); returns the async action."""
        return cast(AsyncActionCreated, self._post("/v1/vouchers/import", [dict(v) for v in vouchers]))

    @endpoint("import-vouchers-using-csv", "POST", "/v1/vouchers/importCSV")
    def import_csv(self, source: CsvSource, *, filename: str | None = None) -> AsyncActionCreated:
        """Import vouchers from a CSV path, bytes or binary file, streamed
        (``POST /v1/vouchers/importCSV``); returns the async action."""
        return cast(AsyncActionCreated, self._upload_csv("/v1/vouchers/importCSV", source, filename))

    @endpoint("update-vouchers-in-bulk", "POST", "/v1/vouchers/bulk/async")
    def bulk_update(self, updates: Sequence[Mapping[str, Any]]) -> AsyncActionCreated:
        """Update metadata of many vouchers, each ``{"code": ..., "metadata": {...}}``
        (``POST /v1/vouchers/bulk/async``)."""
        return cast(AsyncActionCreated, self._post("/v1/vouchers/bulk/async", [dict(u) for u in updates]))

    @endpoint("update-vouchers-metadata-in-bulk", "POST", "/v1/vouchers/metadata/async")
    def update_metadata(self, codes: Sequence[str], metadata: Mapping[str, Any]) -> AsyncActionCreated:
        """Set the same metadata on many vouchers (``POST /v1/vouchers/metadata/async``)."""
        body = {"codes": list(codes), "metadata": dict(metadata)}
        return cast(AsyncActionCreated, self._post("/v1/vouchers/metadata/async", body))

    @endpoint("release-validation-session", "DELETE", "/v1/vouchers/{code}/sessions/{sessionKey}")
    def release_session(self, code: str, session_key: str) -> None:
        """Release a validation session's lock (``DELETE /v1/vouchers/{code}/sessions/{key}``)."""
        self._delete(p("/v1/vouchers/{}/sessions/{}", code, session_key))
