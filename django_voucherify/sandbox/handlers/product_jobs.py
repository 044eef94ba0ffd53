"""The catalog's asynchronous operations: products' bulk and metadata updates, CSV imports of
products and SKUs (async actions, like the voucher and customer ones).

- ``POST /v1/products/bulk/async``: ``[{"source_id", ...product fields}]``, each upserted by
  ``source_id`` (the spec: "If a product object is not found, it is upserted"). Given metadata
  is merged key by key into the stored one. Result: ``done_count``, ``failed_count``, ``errors``
  (``message``, ``details``, ``key``, ``source_id``).
- ``POST /v1/products/metadata/async``: ``{"source_ids", "metadata"}``, merged into each
  product, an unknown source id being created with that metadata (the same upsert).
- ``POST /v1/products/importCSV``: headers ``name, source_id, price, attributes, image_url``
  (case, spaces and underscores ignored), other columns metadata. ``name`` is required. A row
  whose ``source_id`` is known updates that product's name only (the spec: "No other data can
  be updated other than the product name"). ``attributes`` is a comma-separated list.
- ``POST /v1/skus/importCSV``: headers ``product_id, sku, source_id, price, currency,
  image_url, attributes``, other columns the SKU's metadata. ``source_id`` and ``product_id``
  (the product's id or source id) are required; a known source id updates ``sku`` and
  ``price`` only. ``attributes`` is a JSON object, single quotes allowed (the spec's
  ``"{'color':'blue'}"``), whose keys the product must define.
Failed CSV rows are reported as ``{"row", "source_id", "reason"}``, rows counted from 1 after
the header line.
"""

from __future__ import annotations

import json
from typing import Any

from django_voucherify.sandbox import jobs
from django_voucherify.sandbox.catalog import catalog
from django_voucherify.sandbox.errors import SandboxError, invalid_payload, not_found
from django_voucherify.sandbox.handlers.async_actions import accepted, finish, start_async_action
from django_voucherify.sandbox.handlers.imports import multipart_file, read_csv
from django_voucherify.sandbox.handlers.products import upsert_product, upsert_sku, validate_product
from django_voucherify.sandbox.limits import MAX_INTEGER
from django_voucherify.sandbox.routing import SandboxRequest, SandboxResponse, route
from django_voucherify.sandbox.state import SandboxState

JSON = dict[str, Any]


def _error(err: SandboxError, **ident: str) -> JSON:
    return {"message": err.message, "details": err.details or err.message, "key": err.key, **ident}


def _merged(state: SandboxState, source_id: str, metadata: Any) -> JSON:
    existing = catalog(state).find_product(source_id)
    if existing is None or not isinstance(metadata, dict):
        return metadata if isinstance(metadata, dict) else {}
    return {**(existing.get("metadata") or {}), **metadata}


@jobs.job("products_bulk")
def _run_bulk(state: SandboxState, action: JSON, payload: JSON) -> None:
    """Chunked (review 17: one hold of the lock for the whole list) and resumable."""
    progress = jobs.cursor(payload)
    errors: list[JSON] = progress.setdefault("errors", [])
    for _, item, progress in jobs.resumable(state, payload, payload["items"]):
        source_id = str(item.get("source_id") or "") if isinstance(item, dict) else ""
        try:
            if not isinstance(item, dict):
                raise invalid_payload("each item must be an object")
            if not source_id:
                raise invalid_payload("source_id: property is required")
            data = {k: v for k, v in validate_product(item).items() if k != "id"}
            if "metadata" in data:
                data["metadata"] = _merged(state, source_id, data["metadata"])
            upsert_product(state, data)
            progress["done"] = progress.get("done", 0) + 1
        except SandboxError as err:
            errors.append(_error(err, source_id=source_id))
    done = int(progress.get("done", 0))
    finish(action, {"done_count": done, "failed_count": len(errors), "errors": errors})


@jobs.job("products_metadata")
def _run_metadata(state: SandboxState, action: JSON, payload: JSON) -> None:
    progress = jobs.cursor(payload)
    errors: list[JSON] = progress.setdefault("errors", [])
    for _, source_id, progress in jobs.resumable(state, payload, payload["source_ids"]):
        try:
            if not isinstance(source_id, str) or not source_id:
                raise invalid_payload("source_ids: each must be a non-empty string")
            upsert_product(
                state, {"source_id": source_id, "metadata": _merged(state, source_id, payload["metadata"])}
            )
            progress["done"] = progress.get("done", 0) + 1
        except SandboxError as err:
            errors.append(_error(err))  # this result's errors carry no source id (the spec)
    done = int(progress.get("done", 0))
    finish(action, {"done_count": done, "failed_count": len(errors), "errors": errors})


@route("POST", "/v1/products/bulk/async", operation_id="update-products-in-bulk")
def products_bulk(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    body = req.json()
    if not isinstance(body, list):  # the request schema refuses it first; kept for safety
        raise invalid_payload("Request body must be an array")
    action = start_async_action(
        state, "PRODUCTS.BULK_UPDATE", "products_bulk", {"items": body}, req.request_id
    )
    return accepted(action)


@route("POST", "/v1/products/metadata/async", operation_id="update-products-metadata-in-bulk")
def products_metadata(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    body = req.json_object()
    ids, metadata = body.get("source_ids") or [], body.get("metadata") or {}
    if not isinstance(ids, list) or not isinstance(metadata, dict):
        raise invalid_payload("source_ids must be an array and metadata an object")
    payload = {"source_ids": ids, "metadata": metadata}
    action = start_async_action(
        state, "PRODUCTS.METADATA_UPDATE", "products_metadata", payload, req.request_id
    )
    return accepted(action)


# ---- CSV imports ------------------------------------------------------------------------------


def _norm(header: str) -> str:
    return header.strip().lower().replace(" ", "").replace("_", "")


def _columns(row: JSON, known: tuple[str, ...]) -> tuple[JSON, JSON]:
    """``(fields, metadata)`` of a CSV row: known columns by normalised name, others metadata."""
    fields: JSON = {}
    metadata: JSON = {}
    names = {_norm(k).replace("_", ""): k for k in known}
    for header, raw in row.items():
        if header is None:
            continue  # values beyond the header line's columns
        value = (raw or "").strip()
        if value == "":
            continue
        key = names.get(_norm(header))
        if key is None:
            metadata[header.strip()] = value
        else:
            fields[key] = value
    return fields, metadata


def _price(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise invalid_payload(f"price: must be an integer (actual value is '{text[:40]}')") from None
    if abs(value) > MAX_INTEGER:
        raise invalid_payload(f"price: out of range (actual value is '{text[:40]}')")
    return value


def _import_product(state: SandboxState, row: JSON) -> None:
    fields, metadata = _columns(row, ("name", "source_id", "price", "attributes", "image_url"))
    source_id = fields.get("source_id", "")
    if not fields.get("name"):
        raise invalid_payload("name: property is required")
    existing = catalog(state).find_product(source_id) if source_id else None
    if existing is not None:
        upsert_product(state, {"id": existing["id"], "name": fields["name"]})
        return
    data: JSON = {"name": fields["name"], "metadata": metadata}
    if source_id:
        data["source_id"] = source_id
    if "price" in fields:
        data["price"] = _price(fields["price"])
    if "attributes" in fields:
        data["attributes"] = [a.strip() for a in fields["attributes"].split(",") if a.strip()]
    if "image_url" in fields:
        data["image_url"] = fields["image_url"]
    upsert_product(state, data)


def _attributes(text: str) -> JSON:
    for candidate in (text, text.replace("'", '"')):
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    raise invalid_payload(f"attributes: must be a JSON object (actual value is '{text[:40]}')")


def _import_sku(state: SandboxState, row: JSON) -> None:
    known = ("product_id", "sku", "source_id", "price", "currency", "image_url", "attributes")
    fields, metadata = _columns(row, known)
    source_id = fields.get("source_id", "")
    if not source_id:
        raise invalid_payload("source_id: property is required")
    if not fields.get("product_id"):
        raise invalid_payload("product_id: property is required")
    cat = catalog(state)
    product = cat.find_product(fields["product_id"])
    if product is None:
        raise not_found("product", fields["product_id"])
    existing = cat.find_sku(source_id)
    data: JSON = {}
    if "sku" in fields:
        data["sku"] = fields["sku"]
    if "price" in fields:
        data["price"] = _price(fields["price"])
    if existing is not None:  # "update the following parameters in bulk: sku and the sku price"
        upsert_sku(state, product, {"id": existing["id"], **data})
        return
    data["source_id"] = source_id
    data["metadata"] = metadata
    for key in ("currency", "image_url"):
        if key in fields:
            data[key] = fields[key]
    if "attributes" in fields:
        data["attributes"] = _attributes(fields["attributes"])
    upsert_sku(state, product, data)


@jobs.job("catalog_import")
def _run_import(state: SandboxState, action: JSON, payload: JSON) -> None:
    skus = payload["kind"] == "skus"
    progress = jobs.cursor(payload)
    failed: list[JSON] = progress.setdefault("failed", [])
    for number, row, progress in jobs.resumable(state, payload, payload["rows"]):
        try:
            (_import_sku if skus else _import_product)(state, row)
            progress["done"] = progress.get("done", 0) + 1
        except SandboxError as err:
            fields, _ = _columns(row, ("source_id",))
            failed.append(
                {
                    "row": number,
                    "source_id": str(fields.get("source_id", "")),
                    "reason": err.details or err.message,
                }
            )
    done = int(progress.get("done", 0))
    noun = "sku(s)" if skus else "product(s)"
    message = f"{done} {noun} imported successfully, {len(failed)} failed."
    finish(action, {"message": message, "done_count": done, "failed_count": len(failed), "failed": failed})


@route("POST", "/v1/products/importCSV", operation_id="import-products-using-csv")
def import_products_csv(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    rows = read_csv(multipart_file(req))
    payload = {"kind": "products", "rows": rows}
    action = start_async_action(state, "PRODUCTS.IMPORT_CSV", "catalog_import", payload, req.request_id)
    return accepted(action, 200)  # the spec documents 200 for both catalog imports


@route("POST", "/v1/skus/importCSV", operation_id="import-SKUs-using-csv")
def import_skus_csv(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    rows = read_csv(multipart_file(req))
    payload = {"kind": "skus", "rows": rows}
    action = start_async_action(state, "SKUS.IMPORT_CSV", "catalog_import", payload, req.request_id)
    return accepted(action, 200)
