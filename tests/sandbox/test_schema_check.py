"""The compiled request check (sandbox/schema_check.py) answers exactly what jsonschema answers.

Three angles: every request schema of the spec on generated valid and broken requests; random
schemas made of every keyword the compiler implements on random JSON (the type corners
included: bools next to numbers, ``1.0``, NaN, infinities); and the keywords it does not
implement, which must leave the schema to jsonschema (no compiled check at all).
"""

from __future__ import annotations

import copy
import math
import sys
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_voucherify.sandbox import request_schema
from django_voucherify.sandbox.handlers import load_all
from django_voucherify.sandbox.query_shapes import declared_parameters
from django_voucherify.sandbox.routing import ROUTES
from django_voucherify.sandbox.schema_check import compile_check
from tests.support import fuzz

load_all()
OPERATIONS = sorted({route.operation_id for route in ROUTES})
BODY_OPERATIONS = [op for op in OPERATIONS if request_schema._body_validator(op) is not None]
QUERY_OPERATIONS = [op for op in OPERATIONS if declared_parameters(op)]
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)


def agree(checked: request_schema.Validator, value: Any) -> None:
    assert checked.accepts is not None
    expected = checked.validator.is_valid(value)
    assert checked.accepts(value) is expected, (value, expected)


def test_every_request_schema_of_the_spec_compiles() -> None:
    """Otherwise the request check silently falls back to jsonschema's walk (~100 µs a body)."""
    assert len(BODY_OPERATIONS) >= 15
    for operation_id in BODY_OPERATIONS:
        assert request_schema._body_validator(operation_id).accepts is not None, operation_id  # type: ignore[union-attr]
    for operation_id in QUERY_OPERATIONS:
        for path, checked in request_schema._query_validators(operation_id):
            assert checked.accepts is not None, (operation_id, path)


@pytest.mark.parametrize("operation_id", BODY_OPERATIONS)
@SETTINGS
@given(data=st.data())
def test_bodies_valid_or_broken_get_jsonschemas_answer(operation_id: str, data: st.DataObject) -> None:
    checked = request_schema._body_validator(operation_id)
    assert checked is not None
    body = data.draw(fuzz.schema_values(checked.schema))
    agree(checked, body)
    agree(checked, data.draw(fuzz.mutated(copy.deepcopy(body))))


@pytest.mark.parametrize("operation_id", QUERY_OPERATIONS)
@SETTINGS
@given(data=st.data())
def test_query_values_get_jsonschemas_answer(operation_id: str, data: st.DataObject) -> None:
    for _path, checked in request_schema._query_validators(operation_id):
        agree(checked, data.draw(fuzz.schema_values(checked.schema) | JSON))


# ---- random schemas -----------------------------------------------------------------------

SCALARS = st.sampled_from(
    [
        None,
        True,
        False,
        0,
        1,
        -1,
        1.0,
        0.0,
        -0.0,
        2.5,
        10**20,
        1e300,
        math.inf,
        -math.inf,
        math.nan,
        "",
        "a",
        "1",
    ]
)
TEXT = st.text(alphabet="ab1-:TZ .", max_size=6) | st.sampled_from(
    ["2024-02-29", "2023-02-29", "2024-13-01", "2024-01-01T10:00:00Z", "2024-01-01 10:00", "x@y"]
)
JSON = st.recursive(
    SCALARS | TEXT | st.integers(-5, 5) | st.floats(-5, 5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.sampled_from("abcd"), children, max_size=3)
    ),
    max_leaves=8,
)
TYPES = st.sampled_from(["array", "boolean", "integer", "null", "number", "object", "string"])
NAMES = st.sampled_from("abcd")


def _keywords(children: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    number = st.integers(-3, 3) | st.sampled_from([0.5, 1.0, -1.5])
    size = st.integers(0, 3)
    one = st.one_of(
        st.builds(lambda t: {"type": t}, TYPES | st.lists(TYPES, min_size=1, max_size=3)),
        st.builds(
            lambda v: {"enum": v}, st.lists(SCALARS | TEXT | st.just([1]) | st.just({"a": 1}), max_size=4)
        ),
        st.builds(lambda v: {"const": v}, SCALARS | st.just([True]) | st.just({"a": 1.0})),
        st.builds(lambda p: {"properties": p}, st.dictionaries(NAMES, children, max_size=3)),
        st.builds(lambda r: {"required": r}, st.lists(NAMES, max_size=3)),
        st.builds(
            lambda p, a: {"properties": p, "additionalProperties": a},
            st.dictionaries(NAMES, children, max_size=2),
            st.booleans() | children | st.sampled_from([None, 0]),
        ),
        st.builds(lambda s: {"items": s}, children | st.booleans()),
        st.builds(
            lambda k, n: {k: n}, st.sampled_from(["minItems", "maxItems", "minLength", "maxLength"]), size
        ),
        st.builds(lambda k, n: {k: n}, st.sampled_from(["minProperties", "maxProperties"]), size),
        st.builds(
            lambda k, n: {k: n},
            st.sampled_from(["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]),
            number,
        ),
        st.builds(lambda p: {"pattern": p}, st.sampled_from(["^a", "b$", "[0-9]", "^$", "a|b"])),
        st.builds(lambda f: {"format": f}, st.sampled_from(["date", "date-time", "email", "time"])),
        st.builds(
            lambda k, s: {k: s},
            st.sampled_from(["allOf", "anyOf", "oneOf"]),
            st.lists(children, min_size=1, max_size=3),
        ),
        st.builds(lambda s: {"not": s}, children),
        st.just({"$ref": "#/$defs/node"}),
        st.just(
            {"title": "annotation", "description": "ignored", "default": 3, "x-extra": {"type": "string"}}
        ),
    )
    return st.lists(one, min_size=0, max_size=3).map(
        lambda parts: {k: v for part in parts for k, v in part.items()}
    )


SCHEMAS = st.recursive(st.booleans() | _keywords(st.just({})), _keywords, max_leaves=6)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(schema=SCHEMAS, node=SCHEMAS, instances=st.lists(JSON, min_size=1, max_size=5))
def test_random_schemas_on_random_json_agree_with_jsonschema(
    schema: Any, node: Any, instances: list[Any]
) -> None:
    """``$ref`` points at ``$defs/node``, which may refer to itself (a recursive schema)."""
    root = {"allOf": [schema], "$defs": {"node": node}} if not isinstance(schema, bool) else schema
    reference = jsonschema.Draft202012Validator(root, format_checker=request_schema.FORMATS)
    check = compile_check(root, request_schema.FORMATS)
    assert check is not None, root
    for instance in instances:
        try:
            expected = reference.is_valid(instance)
        except RecursionError:
            continue  # a schema that refers to itself without consuming input: both loop
        assert check(instance) is expected, (root, instance)


@pytest.mark.parametrize(
    ("schema", "instances"),
    [
        ({"type": "integer"}, [1, 1.0, 1.5, True, False, -0.0, math.inf, math.nan, 10**30, "1", None]),
        ({"type": "number"}, [1, 1.0, True, math.nan, math.inf, "1"]),
        ({"type": ["string", "null"]}, ["", None, 0, False]),
        ({"enum": [1, "a", None]}, [1, 1.0, True, "a", None, "1", [1]]),
        ({"enum": [True, 0]}, [True, 1, 0, False, 0.0]),
        ({"enum": ["A", "B"]}, ["A", "a", 1, None, ["A"]]),
        ({"const": [1, {"a": False}]}, [[1, {"a": False}], [True, {"a": False}], [1.0, {"a": 0}]]),
        ({"minimum": 0, "maximum": 10}, [-1, 0, 10, 11, 10.5, True, "5", math.nan, -math.inf]),
        ({"exclusiveMinimum": 0}, [0, 0.0, 1e-9, False]),
        ({"items": False}, [[], [1], {}, "ab"]),
        (
            {"properties": {"a": {"type": "string"}}, "additionalProperties": False},
            [{}, {"a": "x"}, {"b": 1}, []],
        ),
        ({"properties": {"a": {}}, "additionalProperties": None}, [{"a": 1}, {"b": 1}]),
        ({"additionalProperties": {"type": "integer"}}, [{"a": 1}, {"a": "1"}, {"a": True}]),
        ({"format": "date"}, ["2024-02-29", "2023-02-29", "2024-2-1", 5, None]),
        ({"format": "date-time"}, ["2024-01-01T10:00:00Z", "2024-01-01T25:00:00Z", "yesterday"]),
        ({"oneOf": [{"type": "integer"}, {"minimum": 0}]}, [1, -1, 0.5, "x"]),
        ({"not": {"type": "object"}}, [{}, [], None]),
        ({"required": ["a", "b"]}, [{"a": 1}, {"a": 1, "b": 2}, ["a", "b"], "ab"]),
        ({"type": "object", "properties": {"a": {"type": "string"}}}, [{}, {"a": 1}, {"a": "x"}, [], None]),
        ({"properties": {"a": {}}, "type": ["object", "null"], "required": ["a"]}, [{}, {"a": 1}, None, []]),
        ({"type": [], "properties": {"a": {}}}, [{}, None, 1]),
        ({"minLength": 2, "type": ["string", "array"], "minItems": 2}, ["a", "ab", [1], [1, 2], {}, None]),
    ],
)
def test_type_and_equality_corners(schema: dict[str, Any], instances: list[Any]) -> None:
    reference = jsonschema.Draft202012Validator(schema, format_checker=request_schema.FORMATS)
    check = compile_check(schema, request_schema.FORMATS)
    assert check is not None
    for instance in instances:
        assert check(instance) is reference.is_valid(instance), instance


@pytest.mark.parametrize(
    "schema",
    [
        {"uniqueItems": True},
        {"if": {"type": "string"}, "then": {"minLength": 2}},
        {"patternProperties": {"^x": {"type": "string"}}},
        {"properties": {"a": {"$id": "https://example.com/a", "type": "string"}}},
        {"unevaluatedProperties": False},
        {"prefixItems": [{"type": "string"}], "items": False},
        {"$ref": "https://example.com/elsewhere"},
        {"$ref": "#/$defs/missing"},
        {"type": "bogus"},
        {"multipleOf": 2},
        {"anyOf": [{"type": "string"}, {"contains": {"type": "string"}}]},
    ],
)
def test_what_it_does_not_implement_is_left_to_jsonschema(schema: dict[str, Any]) -> None:
    assert compile_check(schema, request_schema.FORMATS) is None


def test_a_typed_node_is_checked_in_one_call() -> None:
    # A request body is mostly typed nodes: each is one call (its type tested in front of its
    # other keywords), and an object with properties one loop, not a call per keyword.
    check = compile_check({"type": "object", "properties": {"a": {"type": ["string", "null"]}}})
    assert check is not None
    calls: list[str] = []

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            calls.append(frame.f_code.co_name)

    sys.setprofile(profile)
    try:
        valid = check({"a": "x"})
    finally:
        sys.setprofile(None)
    assert valid is True
    assert len(calls) == 2, calls  # the object's loop, then the string's type test
