"""``client.async_actions``, ``client.validations`` and ``client.exports``."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any, cast

import requests
import urllib3

from ..endpoints import endpoint
from ..errors import TransportError
from ..paging import iter_by_date, iter_pages
from ..transport import encode_path as p
from ..types import AsyncAction, Export, ValidationResult
from .base import Resource

DOWNLOAD_CHUNK = 256 * 1024


class AsyncActions(Resource):
    namespace = "async_actions"

    @endpoint("get-async-action", "GET", "/v1/async-actions/{asyncActionId}")
    def get(self, async_action_id: str) -> AsyncAction:
        """Status, progress and result of a bulk job (``GET /v1/async-actions/{id}``)."""
        return cast(AsyncAction, self._get(p("/v1/async-actions/{}", async_action_id)))

    @endpoint("list-async-actions", "GET", "/v1/async-actions")
    def list(self, **params: Any) -> dict[str, Any]:
        """One page of ``GET /v1/async-actions`` (``limit``, ``end_date``)."""
        return cast(dict[str, Any], self._get("/v1/async-actions", params))

    def iterate(self, **params: Any) -> Iterator[AsyncAction]:
        """Every async action, newest first, moving ``end_date`` back page by page."""
        return cast(
            Iterator[AsyncAction],
            iter_by_date(self.list, "async_actions", cursor_param="end_date", params=params),
        )


class Validations(Resource):
    namespace = "validations"

    @endpoint("validate-stacked-discounts", "POST", "/v1/validations")
    def validate(self, request: Mapping[str, Any]) -> ValidationResult:
        """Check 1 to 30 redeemables against an order without redeeming
        (``POST /v1/validations``); pass ``session={"type": "LOCK"}`` to hold them."""
        return cast(ValidationResult, self._post("/v1/validations", dict(request)))


class Exports(Resource):
    namespace = "exports"

    @endpoint("create-export", "POST", "/v1/exports")
    def create(self, exported_object: str, parameters: Mapping[str, Any] | None = None) -> Export:
        """Start a CSV export of ``voucher``, ``redemption``, ``customer``, ``order``,
        ``voucher_transactions``... (``POST /v1/exports``); ``parameters`` holds ``fields``,
        ``filters`` and ``order``. Poll it with :meth:`get`, then :meth:`download` it."""
        body: dict[str, Any] = {"exported_object": exported_object}
        if parameters is not None:
            body["parameters"] = dict(parameters)
        return cast(Export, self._post("/v1/exports", body))

    @endpoint("list-exports", "GET", "/v1/exports")
    def list(self, **params: Any) -> dict[str, Any]:
        """One page of ``GET /v1/exports`` (``limit``, ``page``, ``order``)."""
        return cast(dict[str, Any], self._get("/v1/exports", params))

    def iterate(self, **params: Any) -> Iterator[Export]:
        """Every export: pages of 100, at most 100 pages (past 10,000 exports this raises
        PaginationLimitError; Voucherify keeps export files for a limited time anyway)."""
        return cast(Iterator[Export], iter_pages(self.list, "exports", params=params, max_page=100))

    @endpoint("delete-export", "DELETE", "/v1/exports/{exportId}")
    def delete(self, export_id: str) -> None:
        """Delete an export and its file (``DELETE /v1/exports/{exportId}``)."""
        self._delete(p("/v1/exports/{}", export_id))

    @endpoint("get-export", "GET", "/v1/exports/{exportId}")
    def get(self, export_id: str) -> Export:
        """An export's status and, when DONE, ``result.url`` (``GET /v1/exports/{exportId}``)."""
        return cast(Export, self._get(p("/v1/exports/{}", export_id)))

    @endpoint("download-export", "GET", "/v1/exports/{export_Id}")
    def download(self, export_id: str, token: str, into: IO[bytes] | None = None) -> bytes | int:
        """Download a finished export's CSV from the download host
        (``GET /v1/exports/{export_Id}?token=...``).

        With ``into``, the file is streamed there in chunks and the byte count is returned;
        otherwise the whole content is returned as bytes.
        """
        transport = self._transport
        response = transport.request(
            "GET",
            p("/v1/exports/{}", export_id),
            params={"token": token},
            base_url=transport.download_url,
            stream=True,
            headers={"Accept": "text/plain"},
        )
        path = p("/v1/exports/{}", export_id)
        with response:
            if into is None:
                return _read(lambda: cast(bytes, response.content), path)
            written = 0
            chunks = response.iter_content(DOWNLOAD_CHUNK)
            while chunk := _read(lambda: next(chunks, b""), path):
                into.write(chunk)  # the caller's file: its errors are the caller's, not mapped
                written += len(chunk)
            return written


def _read(read: Callable[[], bytes], path: str) -> bytes:
    """``read()``; a connection lost mid-body is a :class:`TransportError` raised outside the
    ``except`` block (no chain to requests' and urllib3's frames, as in the transport)."""
    try:
        return read()
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        failure = TransportError(
            f"Voucherify download interrupted: {type(exc).__name__}", method="GET", path=path
        )
    raise failure
