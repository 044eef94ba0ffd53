"""Exports: creation helper, the export job, create/list/get/delete and the CSV download.

``POST /v1/exports`` (create-export) exports ``voucher``, ``redemption``, ``customer``, ``order``
and ``voucher_transactions`` (the objects a shop has; ``publication``, ``points_expiration``,
``product`` and ``sku`` are refused with 400, as the sandbox has none). Parameters are checked
and filters applied by :mod:`.export_params`; the rows come from :mod:`.export_rows`.

An export is created SCHEDULED (``result: null``), moves to IN_PROGRESS then DONE in the
background (see :mod:`~django_voucherify.sandbox.jobs`); when DONE, ``result.url`` is
``<download base>/v1/exports/<id>?token=<token>``. The same path with ``token`` serves the CSV
(the spec documents ``text/plain``) without API keys, as Voucherify's download links do.
Files live in memory only (not in ``--data``), the newest ``MAX_EXPORT_FILES`` of them; an
evicted or pre-restart file answers 404, like an expired link.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
from collections.abc import Callable
from typing import Any

from django_voucherify.sandbox import jobs
from django_voucherify.sandbox.compact import jsonable
from django_voucherify.sandbox.errors import invalid_payload, not_found
from django_voucherify.sandbox.handlers import export_params
from django_voucherify.sandbox.listing import int_param, parse_order
from django_voucherify.sandbox.query_shapes import check_query_shapes
from django_voucherify.sandbox.routing import SandboxRequest, SandboxResponse, no_content, ok, route
from django_voucherify.sandbox.state import SandboxState

JSON = dict[str, Any]

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


#: Export files are kept in memory only (``state.transient``: not written to ``--data``), the
#: newest ones up to these bounds; older links answer 404, as expired download links do.
MAX_EXPORT_FILES = 50
MAX_EXPORT_BYTES = 64 * 1024 * 1024


def _keep_file(state: SandboxState, export_id: str, token: str, text: str) -> None:
    files: dict[str, JSON] = state.transient.setdefault("export_files", {})
    files[export_id] = {"token": token, "csv": text}
    total = sum(len(f["csv"]) for f in files.values())
    while len(files) > MAX_EXPORT_FILES or (total > MAX_EXPORT_BYTES and len(files) > 1):
        oldest = next(iter(files))
        total -= len(files.pop(oldest)["csv"])


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):  # create-export's tables show `true`, `false`
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=jsonable)
    return str(value)


@jobs.job("export")
def run_export(state: SandboxState, record: JSON, payload: JSON) -> None:
    params = record.get("parameters") or {}
    kind = record["exported_object"]
    rows = [
        row for row in ROW_SOURCES[kind](state, params) if export_params.matches(row, params.get("filters"))
    ]
    order = params.get("order")
    if isinstance(order, str) and order:
        key = order.lstrip("-")
        rows.sort(
            key=lambda r: (r.get(key) is not None, str(r.get(key) or "")), reverse=order.startswith("-")
        )
    fields = params.get("fields") or export_params.DEFAULT_FIELDS[kind]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(fields)
    for row in rows:
        writer.writerow([_cell(row.get(f)) for f in fields])
    token = secrets.token_urlsafe(24)
    _keep_file(state, record["id"], token, buf.getvalue())
    base = state.extra.get("download_url", "https://download.voucherify.io")
    record["status"] = "DONE"
    record["result"] = {"url": f"{base}/v1/exports/{record['id']}?token={token}"}


@route("GET", "/v1/exports/{exportId}", operation_id="get-export", public_with_query="token")
def get_export(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    if "token" in req.query:  # a download: the app checked get-export's parameters (none)
        check_query_shapes("download-export", req.query)
    export_id = req.path_params["exportId"]
    record = state.exports.get(export_id)
    if record is None:
        raise not_found("export", export_id)
    if "token" not in req.query:
        return ok(record)
    stored = state.transient.get("export_files", {}).get(export_id)
    token = str(req.query.get("token"))
    if stored is None or not secrets.compare_digest(token.encode(), stored["token"].encode()):
        raise not_found("export", export_id)
    return SandboxResponse(
        200, stored["csv"], content_type="text/plain; charset=utf-8", operation_id="download-export"
    )


@route("POST", "/v1/exports", operation_id="create-export")
def create_generic_export(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    body = req.json_object()
    kind = body.get("exported_object")
    if kind not in export_params.SCHEMA_NAMES:
        known = ", ".join(export_params.SCHEMA_NAMES)
        raise invalid_payload(f"exported_object must be one of {known} (the sandbox exports no other)")
    params = export_params.check_parameters(str(kind), body.get("parameters"))
    return ok(create_export(state, str(kind), params))


@route("GET", "/v1/exports", operation_id="list-exports")
def list_exports(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    limit = int_param(req.query, "limit", 10, 1, 100)
    page = int_param(req.query, "page", 1, 1, 100)
    allowed = ("created_at", "-created_at", "status", "-status")
    field, descending = parse_order(req.query.get("order"), allowed, "-created_at")
    # A handful of exports: a plain sort (ties in creation order, reversed when descending).
    items = sorted(state.exports.values(), key=lambda e: str(e.get(field) or ""))
    if descending:
        items.reverse()
    start = (page - 1) * limit
    return ok(
        {
            "object": "list",
            "data_ref": "exports",
            "exports": items[start : start + limit],
            "total": len(items),
        }
    )


@route("DELETE", "/v1/exports/{exportId}", operation_id="delete-export")
def delete_export(req: SandboxRequest, state: SandboxState) -> SandboxResponse:
    export_id = req.path_params["exportId"]
    if export_id not in state.exports:
        raise not_found("export", export_id)
    del state.exports[export_id]
    # Its file goes with it (the download link answers 404 from now on), and so does a job not
    # run yet, which would otherwise stay queued, and be resumed after a restart, for nothing.
    state.transient.get("export_files", {}).pop(export_id, None)
    state.extra.get("jobs", {}).pop(export_id, None)
    return no_content()
