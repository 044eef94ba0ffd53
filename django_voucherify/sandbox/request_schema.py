"""Requests are checked against the operation's documented request schema, like responses.

Voucherify refuses input its schema does not allow (a number where it says string, a list where
it says object, a value outside an enum) instead of storing it; so does the sandbox, before the
handler runs, so nothing schema-invalid is ever stored and later echoed in a response that
breaks the response schema. :func:`check_request` is called by the app for every routed request:

- **JSON bodies** are validated against the operation's ``requestBody`` schema: 400
  ``invalid_payload``, ``details`` naming the place and the rule (``customer.address.city:
  5 is not of type 'string', 'null'``). Multipart bodies (CSV imports) are the handlers' to
  read. An empty body counts as ``{}``, as handlers read it.
- **Query parameters** the operation declares are validated against their schemas, after
  :mod:`~django_voucherify.sandbox.query_shapes` has made sure of their shapes: a query value
  is a string, so it is read as the declared type first (``limit=5`` is the integer 5,
  ``force=true`` the boolean true; ``limit=abc`` stays a string and fails as one). 400
  ``invalid_query_params``.

The schemas are the spec's, corrected by :mod:`~django_voucherify.sandbox.spec_patches` and
translated to JSON Schema 2020-12. Two choices, both lenient where the spec cannot be trusted:
``oneOf`` is checked as ``anyOf`` (the spec's alternatives make every property optional, so a
real body matches several of them, the spec's own examples included), and ``format`` is asserted
for ``date`` and ``date-time`` only. Validators are compiled once
per operation and cached, with their ``$ref``s inlined (resolving references while validating
cost more than the rest of the check), and each is also compiled into one yes/no function
(:mod:`~django_voucherify.sandbox.schema_check`): a valid request costs that call alone, and
``jsonschema`` runs only to tell what is wrong with a refused one.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError, best_match

from django_voucherify.sandbox.errors import SandboxError, invalid_payload, invalid_query_params
from django_voucherify.sandbox.openapi import voucherify_spec
from django_voucherify.sandbox.query_shapes import declared_parameters
from django_voucherify.sandbox.routing import SandboxRequest
from django_voucherify.sandbox.schema_check import Check, compile_check
from django_voucherify.sandbox.spec_patches import patched_schemas, to_json_schema

JSON = dict[str, Any]
INTEGER = re.compile(r"-?\d{1,18}")
NUMBER = re.compile(r"-?\d{1,18}(\.\d{1,18})?")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})?")
MAX_DETAIL = 300  # a refused value can be long; details quote it, truncated


def validate_request(req: SandboxRequest) -> None:
    """:func:`check_request` for a routed request (its JSON body parsed when the operation
    documents one; malformed JSON is 400 ``invalid_payload`` here already)."""
    body = req.json() if is_json_operation(req.operation_id) else None
    check_request(req.operation_id, req.query, body)


def check_request(operation_id: str, query: JSON, body: Any | None) -> None:
    """400 when ``query`` or the parsed JSON ``body`` (None: not JSON) breaks the schema."""
    if query:
        for path, validator in _query_validators(operation_id):
            node: Any = query
            for key in path:
                if not isinstance(node, dict) or key not in node:
                    break
                node = node[key]
            else:
                typed = _typed(node, validator.schema)
                # A repeated top-level parameter (``result=A&result=B``) is several values.
                repeated = isinstance(typed, list) and _kinds(validator.schema) != {"array"}
                for value in typed if repeated else [typed]:
                    _check(validator, value, _bracketed(path), invalid_query_params)
    if body is not None:
        body_validator = _body_validator(operation_id)
        if body_validator is not None:
            _check(body_validator, body, "", invalid_payload)


def check_component(name: str, value: Any, where: str) -> None:
    """400 ``invalid_payload`` when ``value`` breaks the spec's component schema ``name``: for a
    field an operation's request schema leaves free (a ``oneOf`` alternative that does not name
    it lets anything through) but that is stored and answered in that component's shape."""
    _check(_component_validator(name), value, where, invalid_payload)


@functools.cache
def _component_validator(name: str) -> Validator:
    return _compile({"$ref": SCHEMA_REF + name})


def is_json_operation(operation_id: str) -> bool:
    """Whether the operation's documented request body is JSON (validated here)."""
    return _body_validator(operation_id) is not None


@dataclass(frozen=True)
class Validator:
    """An operation's schema: its ``jsonschema`` validator, and the same schema compiled into
    one yes/no function (None if it could not be: then ``jsonschema`` answers alone)."""

    validator: Any  # a jsonschema validator instance (jsonschema ships no precise protocol)
    accepts: Check | None

    @property
    def schema(self) -> JSON:
        schema: JSON = self.validator.schema
        return schema

    def is_valid(self, value: Any) -> bool:
        if self.accepts is not None:
            return self.accepts(value)
        return bool(self.validator.is_valid(value))


def _check(checked: Validator, value: Any, name: str, error: Any) -> None:
    if checked.is_valid(value):
        return
    validator = checked.validator
    problem: ValidationError | None = best_match(validator.iter_errors(value))
    if problem is None:  # the compiled check and jsonschema disagree: jsonschema is the rule
        return
    raise _refusal(problem, name, error)


def _refusal(problem: ValidationError, name: str, error: Any) -> SandboxError:
    problem, message = _deepest(problem)
    where = name + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in problem.absolute_path)
    if len(message) > MAX_DETAIL:
        message = message[:MAX_DETAIL] + "..."
    return error(f"{where.lstrip('.') or 'body'}: {message}")  # type: ignore[no-any-return]


def _deepest(problem: ValidationError) -> tuple[ValidationError, str]:
    """The most telling error under an ``anyOf`` that no alternative matched: the deepest one
    (``type: 'BOGUS' is not one of ...`` rather than "the body is not valid under any of the
    given schemas"), with the values every alternative allows there when they are enums."""
    while problem.validator == "anyOf" and problem.context:
        depth = max(len(e.absolute_path) for e in problem.context)
        if depth <= len(problem.absolute_path):
            break
        deepest = [e for e in problem.context if len(e.absolute_path) == depth]
        if all(e.validator in ("enum", "const") for e in deepest):
            allowed: list[Any] = []
            for e in deepest:
                values: Any = e.validator_value
                for value in values if e.validator == "enum" else [values]:
                    if value not in allowed:
                        allowed.append(value)
            return deepest[0], f"{deepest[0].instance!r} is not one of {allowed!r}"
        problem = deepest[0]
    return problem, problem.message


@functools.cache
def _document() -> JSON:
    """The shared ``{"components": {"schemas": ...}}`` every validator resolves ``$ref`` in."""
    return {"components": {"schemas": to_json_schema(patched_schemas(), _any_of)}}


def _any_of(original: JSON, converted: JSON) -> None:
    """``oneOf`` -> ``anyOf`` (see the module docstring)."""
    if "oneOf" in converted:
        converted["anyOf"] = converted.pop("oneOf")


#: ``format`` values asserted: the dates a handler would otherwise store as they came (a
#: customer's ``birthdate: "not-a-date"`` was stored and echoed back).
FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True  # the type keyword reports a non-string
    if not DATE.fullmatch(value):
        raise ValueError("must be a date, YYYY-MM-DD")
    date.fromisoformat(value)  # 1990-02-31 raises
    return True


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not DATE_TIME.fullmatch(value):
        raise ValueError("must be an ISO 8601 date-time")
    datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    return True


def _compile(schema: Any) -> Validator:
    root = _inlined(to_json_schema(schema, _any_of)) if isinstance(schema, dict) else {}
    root["components"] = _document()["components"]  # for the recursive references left
    return Validator(
        jsonschema.Draft202012Validator(root, format_checker=FORMATS), compile_check(root, FORMATS)
    )


#: Keywords whose values are data, not schemas (nothing to inline inside them).
DATA_KEYWORDS = frozenset({"enum", "const", "required", "default", "examples", "x-discriminator"})
SCHEMA_REF = "#/components/schemas/"


def _inlined(node: Any, stack: tuple[str, ...] = ()) -> Any:
    """``node`` with its ``$ref``s replaced by their targets (a reference back into one of its
    own ancestors stays a ``$ref``): resolving a reference at validation time costs more than
    the rest of the check, and an operation's schema is compiled once."""
    if isinstance(node, list):
        return [_inlined(x, stack) for x in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(SCHEMA_REF):
        name = ref.removeprefix(SCHEMA_REF)
        if name in stack:
            return node
        target = _inlined(_document()["components"]["schemas"][name], (*stack, name))
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        return {"allOf": [target], **_inlined(siblings, stack)} if siblings else target
    return {k: v if k in DATA_KEYWORDS else _inlined(v, stack) for k, v in node.items()}


@functools.cache
def _operation(operation_id: str) -> JSON:
    for item in voucherify_spec()["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                return operation
    return {}


@functools.cache
def _body_validator(operation_id: str) -> Validator | None:
    body = _operation(operation_id).get("requestBody") or {}
    media = (body.get("content") or {}).get("application/json")
    if media is None or "schema" not in media:
        return None
    return _compile(media["schema"])


@functools.cache
def _query_validators(operation_id: str) -> tuple[tuple[tuple[str, ...], Validator], ...]:
    return tuple((path, _compile(_resolved(schema))) for path, schema in declared_parameters(operation_id))


def _resolved(schema: JSON) -> JSON:
    """A parameter's schema with its top ``$ref`` resolved, so its ``type`` can be read."""
    while "$ref" in schema:
        schema = patched_schemas()[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _typed(value: Any, schema: JSON) -> Any:
    """A query value (strings, nested in dicts/lists) read as the types ``schema`` declares."""
    kinds = _kinds(schema)
    if isinstance(value, list):
        items = schema.get("items", {}) if "array" in kinds else schema
        return [_typed(v, _resolved(items)) for v in value]
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        return {k: _typed(v, _resolved(properties.get(k, {}))) for k, v in value.items()}
    if "integer" in kinds and INTEGER.fullmatch(value):
        return int(value)
    if "number" in kinds and NUMBER.fullmatch(value):
        return float(value)
    if "boolean" in kinds and value in ("true", "false"):
        return value == "true"
    return value


def _kinds(schema: JSON) -> set[str]:
    kind = _resolved(schema).get("type")
    return set(kind) - {"null"} if isinstance(kind, list) else {str(kind)}


def _bracketed(path: tuple[str, ...]) -> str:
    return path[0] + "".join(f"[{key}]" for key in path[1:])
