"""Validate sandbox responses against Voucherify's OpenAPI spec (``openapi.json``).

OpenAPI 3.0 is not JSON Schema: ``nullable: true`` is translated to a ``null`` type (or an
``anyOf`` with null for ``$ref``/``allOf`` nodes), and ``$ref``s resolve inside one document
``{"components": {"schemas": ...}}`` validated with Draft 2020-12 (which honours ``$ref``
siblings, as OpenAPI 3.0 specs tend to need).

Two documented departures, both for defects of the published spec:
- ``oneOf`` is checked as ``anyOf``: Voucherify's alternatives (discount types, async action
  results, export kinds) make every property optional, so a valid body matches several of them
  and a strict ``oneOf`` would reject every real response, the spec's own examples included.
- ``VoucherTransactionsExportFilterConditions`` limits ids to ``maxLength: 1``; its own example
  (``"HRwc0oHz"``) breaks that, so the limit is dropped.
- ``ExportOrderFields`` is an enum without ``metadata.<key>``, yet the description and the
  create-order-export example use ``metadata.payment_mean``; such fields are allowed.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema

SPEC_PATH = Path("/work/shared/voucherify/openapi.json")
_candidates = [
    Path(__file__).resolve().parents[2] / ".." / "shared" / "voucherify" / "openapi.json",
    SPEC_PATH,
]


def _spec_file() -> Path:
    for p in _candidates:
        if p.exists():
            return p
    return SPEC_PATH


def _convert(node: Any) -> Any:
    if isinstance(node, list):
        return [_convert(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _convert(v) for k, v in node.items() if k not in ("nullable", "example", "examples")}
    if "oneOf" in out:
        out["anyOf"] = out.pop("oneOf")
    if k_props := node.get("properties"):
        out["properties"] = {k: _convert(v) for k, v in k_props.items()}
    if node.get("nullable"):
        if "type" in out:
            t = out["type"]
            out["type"] = [*t, "null"] if isinstance(t, list) else [t, "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        else:
            return {"anyOf": [{"type": "null"}, out]}
    return out


@functools.cache
def spec() -> dict[str, Any]:
    return json.loads(_spec_file().read_text())


@functools.cache
def _document() -> dict[str, Any]:
    schemas = _convert(spec()["components"]["schemas"])
    cond = schemas["VoucherTransactionsExportFilterConditions"]["properties"]["voucher_id"]
    ids = cond["properties"]["conditions"]["properties"]["$in"]
    ids["items"].pop("maxLength", None)
    order_fields = schemas["ExportOrderFields"]
    schemas["ExportOrderFields"] = {"anyOf": [order_fields, {"type": "string", "pattern": "^metadata\\."}]}
    return {"components": {"schemas": schemas}}


@functools.cache
def operations() -> dict[str, dict[str, Any]]:
    """operationId -> {"method", "path", "responses": {status: (content_type, schema)}}."""
    ops: dict[str, dict[str, Any]] = {}
    for path, methods in spec()["paths"].items():
        for method, op in methods.items():
            if not isinstance(op, dict) or "operationId" not in op:
                continue
            responses = {}
            for status, r in op.get("responses", {}).items():
                for ctype, media in (r.get("content") or {}).items():
                    responses[status] = (ctype, media.get("schema"))
            ops[op["operationId"]] = {"method": method.upper(), "path": path, "responses": responses}
    return ops


@functools.cache
def _validator(schema_json: str) -> jsonschema.protocols.Validator:
    schema = dict(_convert(json.loads(schema_json)))
    schema["components"] = _document()["components"]
    cls = jsonschema.Draft202012Validator
    return cls(schema)


def validate(operation_id: str, status: int, body: Any, content_type: str) -> list[str]:
    """Problems of ``body`` against the operation's documented response (empty = conforms)."""
    if status >= 400:
        schema: Any = {"$ref": "#/components/schemas/Error"}
    else:
        op = operations().get(operation_id)
        if op is None:
            return [f"unknown operationId {operation_id!r}"]
        documented = op["responses"].get(str(status))
        if documented is None:
            if status == 204 and body in (None, b"", ""):
                return []
            return [f"{operation_id}: status {status} not documented ({sorted(op['responses'])})"]
        ctype, schema = documented
        if ctype.split(";")[0] != content_type.split(";")[0]:
            return [f"{operation_id}: content type {content_type!r}, spec says {ctype!r}"]
        if schema is None:
            return []
    v = _validator(json.dumps(schema, sort_keys=True))
    return [
        f"{operation_id} {status}: {'/'.join(map(str, e.absolute_path))}: {e.message[:300]}"
        for e in v.iter_errors(body)
    ]
