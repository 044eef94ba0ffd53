"""Hypothesis strategies for requests built from the vendored spec's schemas (the fuzzer's).

:func:`schema_values` draws values that conform to a schema (the request schemas as the sandbox
checks them: :mod:`django_voucherify.sandbox.spec_patches` applied, ``oneOf`` as ``anyOf``);
:func:`mutated` then may replace one node of such a value by junk of another type, so the
fuzzer sends both valid and invalid requests. :func:`query_values` renders declared query
parameters the way a client sends them (strings, nested dicts for deepObject members).

Depth and sizes are kept small: the point is to reach every field of every operation quickly,
not to build large documents (the limits have their own tests).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import strategies as st

from django_voucherify.sandbox import request_schema

JSON = dict[str, Any]
MAX_DEPTH = 5
JUNK = st.sampled_from([None, 0, -1, 1.5, "", "junk", True, [], [1], {}, {"x": 1}])


def _resolve(schema: Any) -> JSON:
    document = request_schema._document()
    while isinstance(schema, dict) and "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema if isinstance(schema, dict) else {}


def _merged(schema: JSON) -> JSON:
    """``allOf`` parts folded into one schema (properties and required unioned)."""
    schema = _resolve(schema)
    if "allOf" not in schema:
        return schema
    out: JSON = {k: v for k, v in schema.items() if k != "allOf"}
    properties = dict(out.get("properties") or {})
    required = list(out.get("required") or [])
    for part in schema["allOf"]:
        part = _merged(part)
        for key, value in part.items():
            if key == "properties":
                for name, prop in value.items():
                    properties.setdefault(name, prop)
            elif key == "required":
                required += value
            else:
                out.setdefault(key, value)
    if properties:
        out["properties"] = properties
    if required:
        out["required"] = required
    return out


def schema_values(schema: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values valid against ``schema`` (as far as it can tell; ``format`` is not honoured)."""
    node = _merged(schema)
    if "const" in node:
        return st.just(node["const"])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    for combinator in ("anyOf", "oneOf"):
        if combinator in node:
            rest = {k: v for k, v in node.items() if k != combinator}
            return st.one_of(
                [schema_values({**rest, **_merged(alt)} if rest else alt, depth) for alt in node[combinator]]
            )
    kind = node.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind else []
    if not kinds:
        kinds = ["object"] if "properties" in node else ["string", "integer", "boolean", "null"]
    return st.one_of([_typed(node, k, depth) for k in kinds])


def _typed(node: JSON, kind: str, depth: int) -> st.SearchStrategy[Any]:
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        low = node.get("minimum", -1000)
        high = node.get("maximum", 100_000)
        return st.integers(int(low), int(max(low, high)))
    if kind == "number":
        return st.integers(-1000, 100_000) | st.floats(-1e6, 1e6, allow_nan=False)
    if kind == "string":
        if node.get("format") == "date-time":
            return st.datetimes().map(lambda d: d.isoformat() + "Z")
        if node.get("format") == "date":
            return st.dates().map(str)
        if "pattern" in node:
            return st.from_regex(node["pattern"])
        low, high = node.get("minLength", 0), node.get("maxLength", 12)
        return st.text(min_size=low, max_size=max(low, min(high, 12)))
    if kind == "array":
        low = node.get("minItems", 0)
        high = min(node.get("maxItems", 3), 3)
        if depth >= MAX_DEPTH:
            return st.just([]) if low == 0 else st.nothing()
        items = schema_values(node.get("items", {}), depth + 1)
        return st.lists(items, min_size=low, max_size=max(low, high))
    # object
    properties = node.get("properties") or {}
    required = list(dict.fromkeys(node.get("required", [])))
    if depth >= MAX_DEPTH:
        return st.just({}) if not required else st.nothing()
    free = st.dictionaries(st.text(min_size=1, max_size=6), st.text(max_size=6) | st.integers(), max_size=2)
    if not properties:
        return free if node.get("additionalProperties", True) is not False else st.just({})
    return st.fixed_dictionaries(
        {name: schema_values(properties.get(name, {}), depth + 1) for name in required},
        optional={
            name: schema_values(prop, depth + 1) for name, prop in properties.items() if name not in required
        },
    )


def node_paths(value: Any) -> list[tuple[Any, ...]]:
    """The path (keys and indexes) of every node of a JSON value, the root's ``()`` first."""
    paths: list[tuple[Any, ...]] = []

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        paths.append(path)
        if isinstance(node, dict):
            for key, child in node.items():
                walk(child, (*path, key))
        elif isinstance(node, list):
            for index, child in enumerate(node):
                walk(child, (*path, index))

    walk(value, ())
    return paths


def node_at(value: Any, path: tuple[Any, ...]) -> Any:
    """The node of a JSON value at ``path`` (one of :func:`node_paths`)."""
    for key in path:
        value = value[key]
    return value


@st.composite
def mutated(draw: st.DrawFn, value: Any) -> Any:
    """``value`` with one node (maybe the root) replaced by junk."""
    path = draw(st.sampled_from(node_paths(value)))
    junk = draw(JUNK)
    if not path:
        return junk
    node_at(value, path[:-1])[path[-1]] = junk
    return value


def _as_query(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return {k: _as_query(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_as_query(v) for v in value if v is not None and not isinstance(v, dict | list)]
    return "" if value is None else str(value)


@st.composite
def query_values(draw: st.DrawFn, operation_id: str) -> JSON:
    """Some of the operation's declared query parameters, valid or not, as a client sends them."""
    from django_voucherify.sandbox.query_shapes import declared_parameters

    query: JSON = {}
    for path, schema in declared_parameters(operation_id):
        if not draw(st.booleans()):
            continue
        value = draw(schema_values(schema) | st.text(max_size=6))
        node = query
        for key in path[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                break
        else:
            node[path[-1]] = _as_query(value)
    return query


def encode_query(query: JSON) -> list[tuple[str, str]]:
    """``{"a": {"b": "1"}, "ids": ["x", "y"]}`` -> ``[("a[b]", "1"), ("ids", "x"), ("ids", "y")]``."""
    pairs: list[tuple[str, str]] = []

    def add(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                add(f"{prefix}[{key}]", child)
        elif isinstance(value, list):
            for child in value:
                add(prefix, child)
        else:
            pairs.append((prefix, str(value)))

    for name, value in query.items():
        add(name, value)
    return pairs


# ---- hostile input: what a careless or malicious client sends ----------------------------------
# Used by tests/sandbox/test_fuzz_state.py. Bodies are built as text by :func:`json_text`, so
# numbers JSON can spell but Python cannot hold (``1e400``) and lone surrogates can be sent.


class Raw(str):
    """A JSON token sent as is (``1e400``): :func:`json_text` writes it without quotes."""


HOSTILE_STRINGS = [
    "\ud800",  # a lone high surrogate: valid JSON (escaped), not Unicode text
    "x\udfffy",  # a lone low one inside text
    "\ud83d\ude00",  # a pair as two code points: still not text in a Python str
    "\x00",
    "a\x00b",
    "",
    " ",
    "x" * 1000,
    "\U0001f600 ü €",
    "\u202e\u200b",  # bidi override, zero-width space
    "../..",
    "null",
    "2020-13-45T25:61:00Z",
    "-1",
    "1e400",
]
HOSTILE_NUMBERS = [
    0,
    -1,
    -(2**63) + 1,
    2**63 - 1,
    2**53 + 1,
    10**19,  # past the signed 64-bit range: refused when parsed
    Raw("1e400"),  # overflows a float
    Raw("-1e400"),
    Raw("1e-400"),  # underflows to 0.0
    Raw("-0"),
    0.5,
    -0.000001,
    1e308,
]
# Copied on each draw: JUNK's lists and dicts are shared objects, and a mutation that adds to
# one of them (or puts it inside itself) would change it for every later example.
HOSTILE = (st.sampled_from(HOSTILE_STRINGS) | st.sampled_from(HOSTILE_NUMBERS) | JUNK).map(copy.deepcopy)


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for level in range(depth):
        value = [value] if level % 2 else {"a": value}
    return value


HOSTILE_INTEGERS = [n for n in HOSTILE_NUMBERS if isinstance(n, int)]


def _same_kind(draw: st.DrawFn, node: Any, known: tuple[str, ...]) -> Any:
    """A hostile value of ``node``'s own JSON type, which the schema may well let through."""
    if isinstance(node, bool):
        return not node
    if isinstance(node, int):
        return draw(st.sampled_from(HOSTILE_INTEGERS) | st.integers(-3, 3))
    if isinstance(node, float):
        return draw(st.sampled_from(HOSTILE_NUMBERS))
    if isinstance(node, str):
        return draw(st.sampled_from(HOSTILE_STRINGS + list(known)))
    if isinstance(node, list):
        return node + copy.deepcopy(node) if node and draw(st.booleans()) else []
    if isinstance(node, dict):
        return {**node, "__fuzz__": draw(HOSTILE)}  # an unknown field
    return draw(HOSTILE)


@st.composite
def hostile(draw: st.DrawFn, value: Any, known: tuple[str, ...] = ()) -> Any:
    """``value`` (a valid body, changed in place) broken at one to three nodes: mostly a hostile
    value of the node's own type (a surrogate or NUL in a string, zero, a negative or a 64-bit
    edge in an integer, an unknown field in an object), else junk of another type, nesting past
    the limit (or just under it), or a hostile key added to an object. A string may also
    become one of ``known`` (ids and codes that exist), to reach the objects they name."""
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(node_paths(value)))
        parent: Any = None
        node = value
        for key in path:
            parent, node = node, node[key]
        how = draw(st.sampled_from(["same", "same", "same", "other", "nest", "hostile-key"]))
        if how == "hostile-key" and isinstance(node, dict):
            node[draw(st.sampled_from(HOSTILE_STRINGS))] = draw(HOSTILE)
            continue
        if how == "same":
            junk = _same_kind(draw, node, known)
        elif how == "nest":
            junk = _nested(draw(st.sampled_from([3, 30, 40])))
        else:
            junk = draw(HOSTILE)
        if parent is None:
            value = junk
        else:
            parent[path[-1]] = junk
    return value


def json_text(value: Any, ascii_only: bool = True) -> str:
    """``value`` as JSON text, :class:`Raw` tokens as they are. Lone surrogates are escaped
    (``"\\ud800"``) when ``ascii_only``, else kept as characters (encode with surrogatepass)."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(
                f"{json_text(str(k), ascii_only)}:{json_text(v, ascii_only)}" for k, v in value.items()
            )
            + "}"
        )
    if isinstance(value, list):
        return "[" + ",".join(json_text(v, ascii_only) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only)
