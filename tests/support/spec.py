"""Validate sandbox responses against Voucherify's OpenAPI spec (``openapi.json``).

OpenAPI 3.0 is not JSON Schema: ``nullable: true`` is translated to a ``null`` type (or an
``anyOf`` with null for ``$ref``/``allOf`` nodes), and ``$ref``s resolve inside one document
``{"components": {"schemas": ...}}`` validated with Draft 2020-12 (which honours ``$ref``
siblings, as OpenAPI 3.0 specs tend to need).

``oneOf`` is where the published spec is weakest: its alternatives (discount types, async action
results, export kinds...) make every property optional, so a real body matches several of them
and JSON Schema's "exactly one" rejects everything, the spec's own examples included. A plain
``anyOf`` would accept nonsense instead (``{"failed": "x"}`` is a fine ``CAMPAIGN.VOUCHERS_UPDATE``
result, which has no ``failed``). So ``oneOf`` is checked like this (``_one_of``):

1. When the alternatives are told apart by a ``const``/``enum`` property (``object``, ``type``,
   ``status``, ``key``, ``exported_object``...) and the body carries it, only the alternatives
   whose values include the body's are tried, and a value naming no alternative is an error.
2. Otherwise (or among the picked alternatives) the body must match at least one of them.
3. Where the spec documents one schema per value of a *sibling* field, the sibling picks it:
   an async action's ``result`` by its ``type`` (``AsyncAction``: each result schema's title is
   the type, e.g. ``VOUCHERS.IMPORT``) and a customer activity's ``data.data`` by its ``type``
   (``CustomerActivityData``: each event schema's description names it, e.g.
   ```customer.created```). See ``TYPED_BY_SIBLING``. An async action's result is also closed:
   a key its type's schema does not document (``failed`` on a bulk update, ``errors`` on an
   import) is an error, so each type's result has exactly the documented shape.

Error bodies (status >= 400) are checked against ``Error``, which has no required field in the
spec; Voucherify sends ``code`` (the HTTP status), ``key``, ``message`` and ``request_id`` in
every error (each error example in the spec has them, and its error-handling guide lists them),
so they are required here, non-null, and ``code`` must equal the status.

Workarounds for defects of the published spec live in ``django_voucherify.sandbox.spec_patches``
(one table, shared with the sandbox's request validation); the schemas used here are its
patched copy.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError, best_match

from django_voucherify.sandbox.openapi import voucherify_spec
from django_voucherify.sandbox.spec_patches import patched_schemas, to_json_schema

#: component -> (the sibling property naming the type, path from the component to the oneOf
#: whose alternatives each document one type, whether that schema is closed: no property
#: beyond those it documents).
TYPED_BY_SIBLING: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "AsyncAction": ("type", ("result",), True),
    "CustomerActivity": ("type", ("data", "data"), False),
}

#: What the check requires of every error body (see the module docstring).
ERROR_REQUIRED = ("code", "key", "message", "request_id")


def spec() -> dict[str, Any]:
    return voucherify_spec()


def _raw(name: str) -> dict[str, Any]:
    return patched_schemas()[name]  # type: ignore[no-any-return]


def _deref(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = _raw(node["$ref"].rsplit("/", 1)[-1])
    return node


def _property_values(alternative: Any) -> dict[str, frozenset[Any] | None]:
    """property -> the values its ``const``/``enum`` allows (None: unconstrained), allOf merged."""
    node = _deref(alternative)
    out: dict[str, frozenset[Any] | None] = {}
    for part in node.get("allOf", []):
        for key, values in _property_values(part).items():
            if out.get(key) is None:
                out[key] = values
    for key, prop in (node.get("properties") or {}).items():
        prop = _deref(prop)
        values = None
        if "const" in prop:
            values = frozenset([prop["const"]])
        elif "enum" in prop:
            values = frozenset(v for v in prop["enum"] if v is not None)
        if values is not None or key not in out:
            out[key] = values
    return out


def _discriminator(alternatives: list[Any]) -> dict[str, Any] | None:
    """The property telling ``alternatives`` apart best, with its value -> alternatives groups.

    A property qualifies when every alternative constrains it and any two alternatives allow
    either the same values or disjoint ones (so a value picks one group); the one making the
    most groups wins.
    """
    per_alt = [_property_values(a) for a in alternatives]
    best: tuple[int, str, list[tuple[frozenset[Any], list[int]]]] | None = None
    for key in sorted(set.intersection(*(set(p) for p in per_alt))):
        sets = [p[key] for p in per_alt]
        if any(s is None or not s for s in sets):
            continue
        groups: dict[frozenset[Any], list[int]] = {}
        for i, s in enumerate(sets):
            groups.setdefault(s, []).append(i)  # type: ignore[arg-type]
        distinct = list(groups)
        if any(a & b for n, a in enumerate(distinct) for b in distinct[n + 1 :]):
            continue
        if len(groups) > 1 and (best is None or len(groups) > best[0]):
            best = (len(groups), key, list(groups.items()))
    if best is None:
        return None
    return {"property": best[1], "groups": [[sorted(v), idx] for v, idx in best[2]]}


def _annotate(original: dict[str, Any], converted: dict[str, Any]) -> None:
    if "oneOf" in original and (disc := _discriminator(original["oneOf"])):
        converted["x-discriminator"] = disc


def _convert(node: Any) -> Any:
    return to_json_schema(node, _annotate)


def _names_of(alternative: dict[str, Any]) -> set[str]:
    """The type names an alternative documents: its title and ```quoted``` words of its
    descriptions (also those of its allOf parts)."""
    node = _deref(alternative)
    names = {str(node.get("title", ""))}
    for part in [node, *node.get("allOf", [])]:
        names |= set(re.findall(r"`([^`\s]+)`", str(_deref(part).get("description", ""))))
    return names


def _sibling_rules(component: str) -> list[dict[str, Any]]:
    """``if type == T then <path> is T's schema`` for each type T with a documented schema."""
    sibling, path, closed = TYPED_BY_SIBLING[component]
    node = _raw(component)
    parts = [node, *[_deref(p) for p in node.get("allOf", [])]]
    types = next(p["properties"][sibling]["enum"] for p in parts if sibling in p.get("properties", {}))
    holder = next(p for p in parts if path[0] in p.get("properties", {}))
    one_of = holder
    for key in path:
        one_of = _deref(one_of["properties"][key])
    rules = []
    for alternative in one_of["oneOf"]:
        for type_ in sorted(set(types) & _names_of(alternative)):
            then: dict[str, Any] = {"$ref": alternative["$ref"]}
            if closed:
                then["unevaluatedProperties"] = False
            for key in reversed(path):
                then = {"properties": {key: then}}
            rules.append(
                {"if": {"properties": {sibling: {"const": type_}}, "required": [sibling]}, "then": then}
            )
    return rules


@functools.cache
def _document() -> dict[str, Any]:
    schemas = _convert(patched_schemas())
    for component in TYPED_BY_SIBLING:
        schemas[component] = {"allOf": [schemas[component], *_sibling_rules(component)]}
    return {"components": {"schemas": schemas}}


def _one_of(
    validator: Any, alternatives: list[Any], instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    """``oneOf`` as described in the module docstring: pick by discriminator, match one."""
    candidates = list(range(len(alternatives)))
    disc = schema.get("x-discriminator")
    if disc and isinstance(instance, dict) and instance.get(disc["property"]) is not None:
        value = instance[disc["property"]]
        candidates = [i for values, idx in disc["groups"] if value in values for i in idx]
        if not candidates:
            known = sorted(v for values, _ in disc["groups"] for v in values)
            yield ValidationError(
                f"{disc['property']}={value!r} names none of the documented alternatives {known}"
            )
            return
    failures: list[ValidationError] = []
    for index in candidates:
        errors = list(validator.descend(instance, alternatives[index], schema_path=index))
        if not errors:
            return
        if len(candidates) == 1:
            yield from errors
            return
        failures.extend(errors)
    best = best_match(failures)
    yield ValidationError(
        f"matches none of the {len(candidates)} alternatives; closest: {best.message if best else '?'}",
        context=failures,
    )


_Validator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"oneOf": _one_of})


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


def _error_schema(status: int) -> dict[str, Any]:
    return {
        "allOf": [{"$ref": "#/components/schemas/Error"}],
        "required": list(ERROR_REQUIRED),
        "properties": {
            "code": {"const": status},
            "key": {"type": "string", "minLength": 1},
            "message": {"type": "string"},
            "request_id": {"type": "string", "minLength": 1},
        },
    }


@functools.cache
def _validator(operation_id: str, status: int) -> Any:
    """The compiled validator of one operation's response at one status (errors: any op)."""
    if status >= 400:
        schema: Any = _error_schema(status)
    else:
        schema = _convert(operations()[operation_id]["responses"][str(status)][1])
    schema = dict(schema)
    schema["components"] = _document()["components"]
    return _Validator(schema)


def _describe(operation_id: str, status: int, error: ValidationError) -> str:
    where = "/".join(map(str, error.absolute_path)) or "(body)"
    schema_path = "/".join(map(str, error.absolute_schema_path))
    return f"{operation_id or '?'} {status}: at {where}: {error.message[:300]} [schema path: {schema_path}]"


def validate(operation_id: str, status: int, body: Any, content_type: str) -> list[str]:
    """Problems of ``body`` against the operation's documented response (empty = conforms)."""
    if status < 400:
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
    return [_describe(operation_id, status, e) for e in _validator(operation_id, status).iter_errors(body)]


#: Operations seen by :func:`check_exchange` (the conformance tour checks it covers them all).
SEEN_OPERATIONS: set[str] = set()


def check_exchange(exchange: Any) -> list[str]:
    """Problems of one sandbox request/response pair (a ``Sandbox.response_listeners`` entry)."""
    resp = exchange.response
    for op in (exchange.request.operation_id, resp.operation_id):
        if op:
            SEEN_OPERATIONS.add(op)
    body = resp.body
    if resp.content_type.startswith("application/json") and isinstance(body, bytes | str):
        try:
            body = json.loads(body)
        except ValueError as exc:
            return [f"{exchange.operation_id} {resp.status}: body is not JSON: {exc}"]
    if not exchange.operation_id and resp.status < 400:
        return []
    return validate(exchange.operation_id, resp.status, body, resp.content_type)
