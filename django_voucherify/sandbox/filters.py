"""Voucherify's advanced list filters: ``filters[<field>][conditions][$op]=value`` and
``filters[junction]=and|or`` (the spec's ``FilterConditionsString`` / ``FilterConditionsDateTime``
and ``Junction`` schemas).

A field's conditions must all hold; the junction combines the fields (``and`` by default,
case-insensitive, as the spec's own examples write ``AND``/``OR``). An operator the sandbox does
not know is a 400 rather than a silently ignored filter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django_voucherify.sandbox.errors import SandboxError, invalid_query_params
from django_voucherify.sandbox.state import parse_iso

JSON = dict[str, Any]
Getter = Callable[[JSON], Any]
Predicate = Callable[[JSON], bool]

STRING_OPS = ("$is", "$is_not", "$in", "$not_in", "$has_value", "$is_unknown", "$starts_with", "$ends_with")
DATE_OPS = ("$after", "$before")


def _bad(name: str, why: str) -> SandboxError:
    return invalid_query_params(f"{name}: {why}")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _values(arg: Any) -> list[str]:
    """``$in`` arrives as ``[$in][0]=a&[$in][1]=b`` (a list) or ``[$in]=a,b`` (one string)."""
    if isinstance(arg, list):
        return [str(a) for a in arg]
    if isinstance(arg, dict):  # [$in][0]=a parsed as {"0": "a"}
        return [str(v) for _, v in sorted(arg.items())]
    return [part for part in str(arg).split(",") if part != ""]


def _condition(field: str, op: str, arg: Any) -> Callable[[Any], bool]:
    """One operator as a test on the field's raw value."""
    name = f"filters[{field}][conditions][{op}]"
    if op == "$is":
        want = str(arg[0] if isinstance(arg, list) and arg else arg)
        return lambda v: _text(v) == want
    if op == "$is_not":
        avoid = str(arg[0] if isinstance(arg, list) and arg else arg)
        return lambda v: _text(v) != avoid
    if op == "$in":
        among = set(_values(arg))
        return lambda v: _text(v) in among
    if op == "$not_in":
        outside = set(_values(arg))
        return lambda v: _text(v) not in outside
    if op == "$has_value":
        return lambda v: v is not None and v != ""
    if op == "$is_unknown":
        return lambda v: v is None or v == ""
    if op == "$starts_with":
        prefix = str(arg)
        return lambda v: (_text(v) or "").startswith(prefix) and v is not None
    if op == "$ends_with":
        suffix = str(arg)
        return lambda v: (_text(v) or "").endswith(suffix) and v is not None
    if op in DATE_OPS:
        try:
            bound = parse_iso(str(arg))
        except ValueError:
            raise _bad(name, "must be an ISO 8601 date") from None
        after = op == "$after"

        def test(v: Any) -> bool:
            try:
                moment = parse_iso(v) if isinstance(v, str) else None
            except ValueError:
                return False
            return moment is not None and (moment > bound if after else moment < bound)

        return test
    raise _bad(name, f"unsupported operator; use one of {', '.join(STRING_OPS + DATE_OPS)}")


def conditions_predicate(filters: Any, getters: Mapping[str, Getter], *, any_field: bool) -> Predicate | None:
    """The predicate of a ``filters`` query object, or None when it sets no condition.

    ``getters`` maps a filter field to the value it reads; with ``any_field`` an unlisted field
    reads the object's top-level key of that name (list-vouchers types its filters as a bare
    object), otherwise an unlisted field is a 400.
    """
    if filters is None or filters == "":
        return None
    if not isinstance(filters, dict):
        raise _bad("filters", "must be an object (filters[<field>][conditions][$is]=value)")
    junction = str(filters.get("junction") or "and").lower()
    if junction not in ("and", "or"):
        raise _bad("filters[junction]", "must be and or or")
    tests: list[Predicate] = []
    for field, spec in filters.items():
        if field == "junction":
            continue
        getter = getters.get(field)
        if getter is None:
            if not any_field:
                raise _bad(f"filters[{field}]", f"unknown field; use one of {', '.join(getters)}")
            getter = _top_level(field)
        conds = spec.get("conditions") if isinstance(spec, dict) else None
        if not isinstance(conds, dict) or not conds:
            raise _bad(f"filters[{field}][conditions]", "must be an object ([$is]=value...)")
        checks = [_condition(field, op, arg) for op, arg in conds.items()]
        tests.append(_field_test(getter, checks))
    if not tests:
        return None
    if junction == "or":
        return lambda obj: any(test(obj) for test in tests)
    return lambda obj: all(test(obj) for test in tests)


def _top_level(field: str) -> Getter:
    return lambda obj: obj.get(field)


def _field_test(getter: Getter, checks: list[Callable[[Any], bool]]) -> Predicate:
    return lambda obj: all(check(getter(obj)) for check in checks)


def equality_clauses(filters: Any, buckets: Mapping[str, str]) -> list[list[tuple[str, tuple[str, ...]]]]:
    """What ``filters`` (already accepted by :func:`conditions_predicate`) says about equality,
    as clauses for ``IndexedDict.candidates``: each clause lists ``(bucket field, values)`` of
    which a match has one; a match satisfies every clause. ``buckets`` maps a filter field to
    the stored field its ``$is``/``$in`` compares. No clause: nothing to narrow by.
    """
    if not isinstance(filters, dict):
        return []
    per_field: list[tuple[str, tuple[str, ...]] | None] = []
    for field, spec in filters.items():
        if field == "junction":
            continue
        conds = spec.get("conditions") if isinstance(spec, dict) else None
        found: tuple[str, tuple[str, ...]] | None = None
        if field in buckets and isinstance(conds, dict):
            if "$is" in conds:
                arg = conds["$is"]
                found = (buckets[field], (str(arg[0] if isinstance(arg, list) and arg else arg),))
            elif "$in" in conds:
                found = (buckets[field], tuple(_values(conds["$in"])))
        per_field.append(found)
    if str(filters.get("junction") or "and").lower() == "or":
        if not per_field or any(f is None for f in per_field):
            return []  # a field without an equality: any object may match
        return [[f for f in per_field if f is not None]]
    return [[f] for f in per_field if f is not None]
