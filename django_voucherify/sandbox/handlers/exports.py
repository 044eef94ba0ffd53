"""Exports: creation helper, the export job, GET /v1/exports/{id} and the CSV download.

An export is created SCHEDULED (``result: null``), moves to IN_PROGRESS then DONE in the
background (see :mod:`~django_voucherify.sandbox.jobs`); when DONE, ``result.url`` is
``<download base>/v1/exports/<id>?token=<token>``. The same path with ``token`` serves the CSV
(the spec documents ``text/plain``) without API keys, as Voucherify's download links do.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
from collections.abc import Callable
from typing import Any

from django_voucherify.sandbox import jobs
from django_voucherify.sandbox.errors import not_found
from django_voucherify.sandbox.routing import SandboxRequest, SandboxResponse, ok, route
from django_voucherify.sandbox.state import SandboxState

JSON = dict[str, Any]

DEFAULT_FIELDS: dict[str, list[str]] = {
    "order": ["id", "source_id", "status"],
    "voucher_transactions": ["id", "type", "source_id", "reason", "balance", "amount",
                             "created_at", "voucher_id", "campaign_id", "source", "details",
                             "related_transaction_id"],
}  # fmt: skip

# exported_object -> function(state, parameters) returning rows as flat dicts.
ROW_SOURCES: dict[str, Callable[[SandboxState, JSON], list[JSON]]] = {}


def create_export(state: SandboxState, exported_object: str, parameters: JSON) -> JSON:
    """Store a SCHEDULED export of ``exported_object`` and start its job; return the record."""
    record: JSON = {
        "id": state.new_id("exp_"),
        "object": "export",
        "created_at": state.now_iso(),
        "status": "SCHEDULED",
        "channel": "API",
        "exported_object": exported_object,
        "parameters": parameters,
        "result": None,
        "user_id": None,
    }
    jobs.enqueue(state, record, "export", {})
    return record


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


@jobs.job("export")
def run_export(state: SandboxState, record: JSON, payload: JSON) -> None:
    params = record.get("parameters") or {}
    kind = record["exported_object"]
    rows = ROW_SOURCES[kind](state, params)
    order = params.get("order")
    if isinstance(order, str) and order.lstrip("-") in ("created_at", "updated_at", "status"):
        key = order.lstrip("-")
        rows.sort(key=lambda r: str(r.get(key) or ""), reverse=order.startswith("-"))
    fields = params.get("fields") or DEFAULT_FIELDS.get(kind) or sorted({k for r in rows for k in r})
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(fields)
    for row in rows:
        writer.writerow([_cell(row.get(f)) for f in fields])
    token = secrets.token_urlsafe(24)
    state.extra.setdefault("export_files", {})[record["id"]] = {"token": token, "csv": buf.getvalue()}
    base = state.extra.get("download_url", "https://download.voucherify.io")
    record["status"] = "DONE"
    record["result"] = {"url": f"{base}/v1/exports/{record['id']}?token={token}"}


@route("GET", "/v1/exports/{exportId}", operation_id="get-export", public_with_query="token")
def get_export(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    export_id = req.path_params["exportId"]
    record = state.exports.get(export_id)
    if record is None:
        raise not_found("export", export_id)
    if "token" not in req.query:
        return ok(record)
    stored = state.extra.get("export_files", {}).get(export_id)
    token = str(req.query.get("token"))
    if stored is None or not secrets.compare_digest(token.encode(), stored["token"].encode()):
        raise not_found("export", export_id)
    return SandboxResponse(
        200, stored["csv"], content_type="text/plain; charset=utf-8", operation_id="download-export"
    )
