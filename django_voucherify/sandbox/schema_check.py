"""A JSON Schema (2020-12) schema compiled into one yes/no function, for the request check's
common case: a valid request.

``jsonschema``'s ``is_valid`` walks the schema anew for every instance, building a validator
object per level of the schema it descends into (``evolve``), resolving keywords by name and
checking types through a registry: about 100 µs for a redeem body, more than routing, pricing
and recording the redeem. :func:`compile_check` turns a schema into nested closures once, and
each of them does only what its keywords say (a redeem body: a few µs).

It answers exactly what ``Draft202012Validator(schema, format_checker=...).is_valid`` answers,
or it does not answer at all: a schema using a keyword it does not implement (``if``,
``uniqueItems``, ``patternProperties``, ``unevaluated*``, ``$id``...; none of the spec's request
schemas does) compiles to ``None`` and the caller keeps ``jsonschema``. Each keyword below
mirrors ``jsonschema._keywords`` (same type rules: a bool is not a number, ``1.0`` is an
integer; the same equality for ``enum``/``const``: ``True`` is not ``1``), and
tests/sandbox/test_schema_check.py compares the two on generated valid and broken requests of
every operation. Errors (which rule, where) are still ``jsonschema``'s to report: the caller
runs it when this says no.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema._utils import equal

Check = Callable[[Any], bool]

#: Keywords jsonschema validates in this dialect; any other key is an annotation it ignores.
VALIDATING = frozenset(Draft202012Validator.VALIDATORS)
#: Keywords that change how references resolve (or the dialect): never compiled.
RESOLVING = frozenset({"$id", "$anchor", "$dynamicAnchor", "$schema", "$vocabulary"})


class Unsupported(Exception):
    """The schema uses something :func:`compile_check` does not implement."""


def compile_check(root: Any, format_checker: FormatChecker | None = None) -> Check | None:
    """``root``'s check, or None when it cannot be compiled exactly (see the module docstring).

    ``$ref``s are JSON pointers into ``root`` (``#/components/schemas/X``); a reference cycle
    compiles to a function that looks its target up when called.
    """
    try:
        return _Compiler(root, format_checker).node(root)
    except Unsupported:
        return None


def _yes(value: Any) -> bool:
    return True


def _no(value: Any) -> bool:
    return False


def _is_number(value: Any) -> bool:
    kind = type(value)
    if kind is int or kind is float:
        return True
    return not isinstance(value, bool) and isinstance(value, numbers.Number)


def _is_integer(value: Any) -> bool:
    kind = type(value)
    if kind is int:
        return True
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


#: jsonschema's types (draft 6 and later: a float without a fraction is an integer).
TYPES: dict[str, Check] = {
    "array": lambda value: isinstance(value, list),
    "boolean": lambda value: isinstance(value, bool),
    "integer": _is_integer,
    "null": lambda value: value is None,
    "number": _is_number,
    "object": lambda value: isinstance(value, dict),
    "string": lambda value: isinstance(value, str),
}
#: Types that are exactly one Python class (and its subclasses), checked with ``isinstance``.
CLASSES: dict[str, type] = {"array": list, "boolean": bool, "null": type(None), "object": dict, "string": str}


class _Compiler:
    def __init__(self, root: Any, format_checker: FormatChecker | None) -> None:
        self.root = root
        self.formats = format_checker
        self.refs: dict[str, Check | None] = {}  # pointer -> check (None while compiling it)

    def node(self, schema: Any) -> Check:
        if schema is True:
            return _yes
        if schema is False:
            return _no
        if not isinstance(schema, dict):
            raise Unsupported(f"schema {schema!r}")
        checks: list[Check] = []
        for key, value in schema.items():
            if key in RESOLVING:
                raise Unsupported(key)
            if key not in VALIDATING:
                continue  # an annotation (title, description, default, x-...): ignored
            build = getattr(self, "k_" + key.lstrip("$"), None)
            if build is None:
                raise Unsupported(key)
            if key == "type" and _classes(value) is not None:
                continue  # tested in front of the others (see _typed)
            check = build(value, schema)
            if check is not _yes:
                checks.append(check)
        classes = _classes(schema["type"]) if "type" in schema else None
        return _all(checks) if classes is None else _typed(classes, checks)

    # ---- keywords: each returns a check of the instance for its keyword alone ---------------

    def k_type(self, value: Any, schema: dict[str, Any]) -> Check:
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not all(isinstance(n, str) and n in TYPES for n in names):
            raise Unsupported(f"type {value!r}")  # jsonschema raises UnknownType
        if all(name in CLASSES for name in names):
            classes = tuple(CLASSES[name] for name in names)
            return lambda instance: isinstance(instance, classes)
        tests = tuple(TYPES[name] for name in names)
        if len(tests) == 1:
            return tests[0]
        return lambda instance: any(test(instance) for test in tests)

    def k_enum(self, value: Any, schema: dict[str, Any]) -> Check:
        if not isinstance(value, list):
            raise Unsupported("enum")
        if value and all(isinstance(each, str) for each in value):
            # equal() compares strings with ==, and a string equals nothing but a string.
            allowed = frozenset(value)
            return lambda instance: isinstance(instance, str) and instance in allowed
        options = list(value)
        return lambda instance: any(equal(each, instance) for each in options)

    def k_const(self, value: Any, schema: dict[str, Any]) -> Check:
        return lambda instance: bool(equal(instance, value))

    def k_properties(self, value: Any, schema: dict[str, Any]) -> Check:
        if not isinstance(value, dict):
            raise Unsupported("properties")
        pairs = tuple((name, self.node(sub)) for name, sub in value.items())
        pairs = tuple((name, check) for name, check in pairs if check is not _yes)
        if not pairs:
            return _yes

        def properties(instance: Any) -> bool:
            if not isinstance(instance, dict):
                return True
            for name, check in pairs:  # noqa: SIM110 - a loop costs less than all() over a generator
                # (the same for the loops below: ~0.3 us per check on every request)
                if name in instance and not check(instance[name]):
                    return False
            return True

        properties.pairs = pairs  # type: ignore[attr-defined]  # for _typed's object check
        return properties

    def k_required(self, value: Any, schema: dict[str, Any]) -> Check:
        if not isinstance(value, list):
            raise Unsupported("required")
        names = tuple(value)
        if not names:
            return _yes

        def required(instance: Any) -> bool:
            if isinstance(instance, dict):
                for name in names:
                    if name not in instance:
                        return False
            return True

        return required

    def k_additionalProperties(self, value: Any, schema: dict[str, Any]) -> Check:
        if "patternProperties" in schema:
            raise Unsupported("additionalProperties with patternProperties")
        known = frozenset(schema.get("properties", {}))
        if isinstance(value, dict):
            check = self.node(value)

            def additional(instance: Any) -> bool:
                if isinstance(instance, dict):
                    for key, item in instance.items():
                        if key not in known and not check(item):
                            return False
                return True

            return additional
        if not value:  # jsonschema: any falsy value forbids extra properties

            def no_additional(instance: Any) -> bool:
                if isinstance(instance, dict):
                    for key in instance:
                        if key not in known:
                            return False
                return True

            return no_additional
        return _yes

    def k_items(self, value: Any, schema: dict[str, Any]) -> Check:
        if "prefixItems" in schema:
            raise Unsupported("items with prefixItems")
        if value is False:
            return lambda instance: not isinstance(instance, list) or not instance
        check = self.node(value)
        if check is _yes:
            return _yes

        def items(instance: Any) -> bool:
            if isinstance(instance, list):
                for item in instance:
                    if not check(item):
                        return False
            return True

        return items

    def k_minItems(self, value: Any, schema: dict[str, Any]) -> Check:
        return lambda instance: not isinstance(instance, list) or not len(instance) < value

    def k_maxItems(self, value: Any, schema: dict[str, Any]) -> Check:
        return lambda instance: not isinstance(instance, list) or not len(instance) > value

    def k_minLength(self, value: Any, schema: dict[str, Any]) -> Check:
        return lambda instance: not isinstance(instance, str) or not len(instance) < value

    def k_maxLength(self, value: Any, schema: dict[str, Any]) -> Check:
        return lambda instance: not isinstance(instance, str) or not len(instance) > value

    def k_minProperties(self, value: Any, schema: dict[str, Any]) -> Check:
        return lambda instance: not isinstance(instance, dict) or not len(instance) < value

    def k_maxProperties(self, value: Any, schema: dict[str, Any]) -> Check:
        return lambda instance: not isinstance(instance, dict) or not len(instance) > value

    def k_pattern(self, value: Any, schema: dict[str, Any]) -> Check:
        search = re.compile(value).search  # jsonschema: re.search(pattern, instance)
        return lambda instance: not isinstance(instance, str) or search(instance) is not None

    def k_minimum(self, value: Any, schema: dict[str, Any]) -> Check:
        return lambda instance: not _is_number(instance) or not instance < value

    def k_maximum(self, value: Any, schema: dict[str, Any]) -> Check:
        return lambda instance: not _is_number(instance) or not instance > value

    def k_exclusiveMinimum(self, value: Any, schema: dict[str, Any]) -> Check:
        return lambda instance: not _is_number(instance) or not instance <= value

    def k_exclusiveMaximum(self, value: Any, schema: dict[str, Any]) -> Check:
        return lambda instance: not _is_number(instance) or not instance >= value

    def k_format(self, value: Any, schema: dict[str, Any]) -> Check:
        if self.formats is None or value not in self.formats.checkers:
            return _yes  # jsonschema asserts only the formats its checker knows
        conforms = self.formats.conforms
        return lambda instance: bool(conforms(instance, value))

    def k_allOf(self, value: Any, schema: dict[str, Any]) -> Check:
        return _all([self.node(sub) for sub in self._list(value, "allOf")])

    def k_anyOf(self, value: Any, schema: dict[str, Any]) -> Check:
        checks = tuple(self.node(sub) for sub in self._list(value, "anyOf"))
        if _yes in checks:
            return _yes

        def any_of(instance: Any) -> bool:
            for check in checks:  # noqa: SIM110 - see properties
                if check(instance):
                    return True
            return False

        return any_of

    def k_oneOf(self, value: Any, schema: dict[str, Any]) -> Check:
        checks = tuple(self.node(sub) for sub in self._list(value, "oneOf"))
        return lambda instance: sum(1 for check in checks if check(instance)) == 1

    def k_not(self, value: Any, schema: dict[str, Any]) -> Check:
        check = self.node(value)
        return lambda instance: not check(instance)

    def k_ref(self, value: Any, schema: dict[str, Any]) -> Check:
        if not isinstance(value, str) or not value.startswith("#/") or "%" in value:
            raise Unsupported(f"$ref {value!r}")  # only plain pointers into the root
        if value not in self.refs:
            self.refs[value] = None  # a cycle back to here finds it being compiled
            self.refs[value] = self.node(self._target(value))
        check = self.refs[value]
        if check is not None:
            return check
        refs = self.refs
        return lambda instance: refs[value](instance)  # type: ignore[misc] # compiled by then

    # ---- helpers ---------------------------------------------------------------------------

    def _target(self, pointer: str) -> Any:
        node = self.root
        for token in pointer[2:].split("/"):
            token = token.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                raise Unsupported(f"$ref {pointer!r}")
        return node

    @staticmethod
    def _list(value: Any, keyword: str) -> list[Any]:
        if not isinstance(value, list) or not value:
            raise Unsupported(keyword)
        return value


def _classes(names: Any) -> tuple[type, ...] | None:
    """The classes a ``type`` keyword stands for when each of its types is exactly one class
    (``object``, ``string``, ``["string", "null"]``...), else None (``integer``, ``number``)."""
    names = [names] if isinstance(names, str) else names
    if (
        not isinstance(names, list)
        or not names
        or not all(isinstance(n, str) and n in CLASSES for n in names)
    ):
        return None
    return tuple(CLASSES[name] for name in names)


def _typed(classes: tuple[type, ...], checks: list[Check]) -> Check:
    """A node's check whose ``type`` is ``classes``: the type tested first, in the same call as
    the node's other keywords (one call per node instead of one per keyword; a request body's
    check is mostly typed nodes). Each keyword's check is a pure yes/no of the instance, so the
    order they run in changes no answer. An ``object`` whose other keyword is ``properties``
    alone (the usual request object) is one loop: the ``properties`` check's own."""
    if not checks:
        return lambda instance: isinstance(instance, classes)
    pairs = getattr(checks[0], "pairs", None) if len(checks) == 1 else None
    if pairs is not None and classes == (dict,):

        def object_properties(instance: Any) -> bool:
            if not isinstance(instance, dict):
                return False
            for name, check in pairs:  # noqa: SIM110 - see k_properties
                if name in instance and not check(instance[name]):
                    return False
            return True

        return object_properties
    others = _all(checks)
    return lambda instance: isinstance(instance, classes) and others(instance)


def _all(checks: list[Check]) -> Check:
    if not checks:
        return _yes
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda instance: first(instance) and second(instance)
    frozen = tuple(checks)

    def all_of(instance: Any) -> bool:
        for check in frozen:  # noqa: SIM110 - a loop costs less than all() over a generator
            if not check(instance):
                return False
        return True

    return all_of
