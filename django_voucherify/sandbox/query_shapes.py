"""Query parameters must have the shape the spec declares for their operation.

A qs-style query string can nest anything anywhere (``created_at[before][x]=1``,
``limit[]=5``), while handlers and the list helpers read a declared parameter in its declared
shape: a string where the spec says ``string``/``integer``/``boolean``, a dict where it says
``object`` (deepObject), a list where it says ``array``. :func:`check_query_shapes` compares a
parsed query with the operation's declared parameters once, before the handler runs, so no
endpoint meets a dict where it expects a string: 400 ``invalid_query_params`` instead of a 500.

Shapes only: values, formats and ranges stay the handlers' business. A top-level parameter
may be repeated (``result=SUCCESS&result=FAILURE``: "you can provide multiple values by
repeating the param", the spec says of list filters); a member of an object
(``created_at[after]``) is one value. Parameters the spec does not declare are left alone, and
a schema that allows several shapes (``oneOf``, no ``type``) accepts any.
"""

from __future__ import annotations

import functools
from typing import Any

from django_voucherify.sandbox.errors import invalid_query_params
from django_voucherify.sandbox.openapi import voucherify_spec

JSON = dict[str, Any]
SCALAR_TYPES = frozenset({"string", "integer", "number", "boolean"})


def check_query_shapes(operation_id: str, query: JSON) -> None:
    """400 ``invalid_query_params`` when a declared parameter of ``operation_id`` is misshapen."""
    for path, schema in declared_parameters(operation_id):
        node: Any = query
        for key in path:
            if not isinstance(node, dict) or key not in node:
                break
            node = node[key]
        else:
            _check(node, schema, _bracketed(path), repeatable=len(path) == 1)


@functools.cache
def declared_parameters(operation_id: str) -> tuple[tuple[tuple[str, ...], JSON], ...]:
    """``(name split at its brackets, schema)`` of each query parameter the operation declares.

    The spec names some deepObject members flat (``created_at[before]``), others as one object
    parameter (``created_at`` with ``before``/``after`` properties); both become paths into the
    parsed query.
    """
    for item in voucherify_spec()["paths"].values():
        for operation in item.values():
            if not isinstance(operation, dict) or operation.get("operationId") != operation_id:
                continue
            params = [_deref(p) for p in [*item.get("parameters", []), *operation.get("parameters", [])]]
            return tuple(
                (tuple(p["name"].replace("]", "").split("[")), p.get("schema", {}))
                for p in params
                if p.get("in") == "query"
            )
    return ()


def _check(value: Any, schema: JSON, name: str, *, repeatable: bool = False) -> None:
    schema = _deref(schema)
    kind = schema.get("type")
    if kind == "object" or (kind is None and "properties" in schema):
        if not isinstance(value, dict):
            raise invalid_query_params(f"{name}: must be an object ({name}[key]=value)")
        properties = schema.get("properties", {})
        for key, member in value.items():
            if key in properties:
                _check(member, properties[key], f"{name}[{key}]")
    elif kind == "array":
        if isinstance(value, dict):
            raise invalid_query_params(f"{name}: must be a list of values, not nested keys")
        for i, element in enumerate(value if isinstance(value, list) else [value]):
            _check(element, schema.get("items", {}), f"{name}[{i}]")
    elif kind in SCALAR_TYPES:
        repeated = repeatable and isinstance(value, list) and all(isinstance(v, str) for v in value)
        if not (isinstance(value, str) or repeated):
            raise invalid_query_params(f"{name}: must be a single value")


def _deref(node: JSON) -> JSON:
    while "$ref" in node:
        target: Any = voucherify_spec()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _bracketed(path: tuple[str, ...]) -> str:
    return path[0] + "".join(f"[{key}]" for key in path[1:])
