"""Bulk and metadata updates of vouchers and customers (asynchronous).

- ``POST /v1/vouchers/bulk/async``: ``[{"code", "metadata"}]``; only metadata is updated
  (the spec: "Currently, only metadata updates are supported"; "Upserts are not supported").
- ``POST /v1/vouchers/metadata/async``: ``{"codes": [...], "metadata": {...}}``.
- ``POST /v1/customers/bulk/async``: ``[{"source_id", ...customer fields}]``, upsert by
  source_id (the spec does not forbid upserts here, unlike for vouchers).
- ``POST /v1/customers/metadata/async``: ``{"source_ids": [...], "metadata": {...}}``.
Metadata is merged key by key into the existing metadata. Results carry ``done_count``,
``failed_count`` and ``errors`` (``message``, ``details``, ``key`` and the code/source_id).
"""

from __future__ import annotations

from typing import Any

from django_voucherify.sandbox import jobs
from django_voucherify.sandbox.errors import SandboxError, invalid_payload, not_found
from django_voucherify.sandbox.handlers.async_actions import accepted, finish, start_async_action
from django_voucherify.sandbox.handlers.customers import validate_customer_payload
from django_voucherify.sandbox.routing import SandboxRequest, SandboxResponse, route
from django_voucherify.sandbox.state import SandboxState

JSON = dict[str, Any]


def _error(err: SandboxError, **ident: str) -> JSON:
    return {"message": err.message, "details": err.details or err.message, "key": err.key, **ident}


def _merge_voucher_metadata(state: SandboxState, code: Any, metadata: Any) -> None:
    if not isinstance(metadata, dict):
        raise invalid_payload("metadata must be an object")
    voucher = state.vouchers.get(str(code))
    if voucher is None:
        raise not_found("voucher", str(code))
    voucher["metadata"] = {**(voucher.get("metadata") or {}), **metadata}
    voucher["updated_at"] = state.now_iso()
    state.vouchers.touch(voucher["code"])


def _merge_customer_metadata(state: SandboxState, source_id: Any, metadata: Any) -> None:
    if not isinstance(metadata, dict):
        raise invalid_payload("metadata must be an object")
    cust = state.find_customer(str(source_id))
    if cust is None:
        raise not_found("customer", str(source_id))
    merged = {**(cust.get("metadata") or {}), **metadata}
    state.upsert_customer({"id": cust["id"], "metadata": merged})


@jobs.job("bulk_update")
def _run_bulk(state: SandboxState, action: JSON, payload: JSON) -> None:
    done, errors = 0, []
    kind = payload["kind"]
    for item in payload["items"]:
        ident_key = "code" if kind.startswith("vouchers") else "source_id"
        ident = str(item.get(ident_key) or "") if isinstance(item, dict) else ""
        try:
            if not isinstance(item, dict):
                raise invalid_payload("each item must be an object")
            if kind == "vouchers":
                _merge_voucher_metadata(state, item.get("code"), item.get("metadata") or {})
            elif kind == "vouchers_metadata":
                _merge_voucher_metadata(state, item["code"], payload["metadata"])
            elif kind == "customers":
                if not item.get("source_id"):
                    raise invalid_payload("source_id: property is required")
                data = dict(validate_customer_payload(item))
                existing = state.find_customer(str(item["source_id"]))
                if existing and isinstance(data.get("metadata"), dict):
                    data["metadata"] = {**(existing.get("metadata") or {}), **data["metadata"]}
                state.upsert_customer(data)
            else:
                _merge_customer_metadata(state, item["source_id"], payload["metadata"])
            done += 1
        except SandboxError as err:
            errors.append(_error(err, **{ident_key: ident}))
    finish(action, {"done_count": done, "failed_count": len(errors), "errors": errors})


def _start(req: SandboxRequest, state: SandboxState, type_: str, payload: JSON) -> SandboxResponse:
    return accepted(start_async_action(state, type_, "bulk_update", payload, req.request_id))


def _array(req: SandboxRequest) -> list[Any]:
    body = req.json()
    if not isinstance(body, list):  # the request schema refuses it first; kept for safety
        raise invalid_payload("Request body must be an array")
    return body  # empty is allowed (the spec sets no minItems): an action with nothing to do


@route("POST", "/v1/vouchers/bulk/async", operation_id="update-vouchers-in-bulk")
def vouchers_bulk(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    return _start(req, state, "VOUCHERS.BULK_UPDATE", {"kind": "vouchers", "items": _array(req)})


def _metadata_update(
    req: SandboxRequest, state: SandboxState, *, ids_key: str, item_key: str, kind: str, action_type: str
) -> SandboxResponse:
    """Start a metadata update: the same ``metadata`` on every object named in ``ids_key``."""
    body = req.json_object()
    # Both are nullable and optional in the spec: no ids updates nothing, no metadata merges
    # nothing (the request schema has refused any other type already).
    ids, metadata = body.get(ids_key) or [], body.get("metadata") or {}
    if not isinstance(ids, list) or not isinstance(metadata, dict):
        raise invalid_payload(f"{ids_key} must be an array and metadata an object")
    payload = {"kind": kind, "items": [{item_key: i} for i in ids], "metadata": metadata}
    return _start(req, state, action_type, payload)


@route("POST", "/v1/vouchers/metadata/async", operation_id="update-vouchers-metadata-in-bulk")
def vouchers_metadata(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    return _metadata_update(
        req,
        state,
        ids_key="codes",
        item_key="code",
        kind="vouchers_metadata",
        action_type="VOUCHERS.METADATA_UPDATE",
    )


@route("POST", "/v1/customers/bulk/async", operation_id="update-customers-in-bulk")
def customers_bulk(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    return _start(req, state, "CUSTOMERS.BULK_UPDATE", {"kind": "customers", "items": _array(req)})


@route("POST", "/v1/customers/metadata/async", operation_id="update-customers-metadata-in-bulk")
def customers_metadata(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    return _metadata_update(
        req,
        state,
        ids_key="source_ids",
        item_key="source_id",
        kind="customers_metadata",
        action_type="CUSTOMERS.METADATA_UPDATE",
    )
