"""One validator for every door: the checkout service, the REST serializers, the admin voucher
form, CSV and JSON imports accept exactly the same codes and source ids (property-based), and
the values NUL, control, zero-width, bidi and surrogate characters make are refused by all."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import MappingProxyType

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from django_voucherify import validation
from django_voucherify.admin.voucher_forms import VoucherForm
from django_voucherify.checkout import cart
from django_voucherify.checkout.errors import InvalidCheckoutInput
from django_voucherify.jobs import csvfiles
from django_voucherify.jobs import service as jobs_service
from django_voucherify.rest.serializers import CodeField, SourceIdField
from tests.support import properties

BAD = ["A\x00B", "A\u200bB", "A\u202eB", "A\ud800B", "A\x1bB", "A\u2028B", "A\ufeffB", "A\x7fB"]

# Text biased towards the characters that matter: controls, format, surrogates, separators.
tricky = st.characters(codec=None, categories=("Cc", "Cf", "Cs", "Zl", "Zp", "Zs", "Lu", "Nd", "Po"))
texts = st.one_of(st.text(tricky, max_size=12), st.text(max_size=120)).map(str.strip)


def _checkout_accepts(code: str) -> bool:
    try:
        cart.redeemables([code])
    except InvalidCheckoutInput:
        return False
    return True


def _rest_accepts(field: object, value: str) -> bool:
    from rest_framework.exceptions import ValidationError

    try:
        field.run_validation(value)  # type: ignore[attr-defined]
    except ValidationError:
        return False
    return True


def _admin_accepts(code: str) -> bool:
    form = VoucherForm(data={"code": code})
    form.is_valid()
    return "code" not in form.errors


def _code_doors(code: str) -> dict[str, bool]:
    return {
        "checkout": _checkout_accepts(code),
        "rest": _rest_accepts(CodeField(), code),
        "admin": _admin_accepts(code),
        "csv": csvfiles.voucher_row_problem({"code": code}) is None,
        "json import": jobs_service._voucher_problem({"code": code}) is None,
        "json bulk update": jobs_service._has("code", "code")({"code": code}) is None,
        "json metadata update": jobs_service._code_problem(code) is None,
    }


@pytest.mark.django_db
@settings(
    max_examples=properties.examples(150, 3000),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(code=texts)
@example(code="A\x00B")
@example(code="A\u200bB")
@example(code="..")
@example(code="x" * 101)
@example(code="CAFÉ-2024")
def test_every_door_accepts_exactly_the_codes_the_validator_accepts(code):
    expected = validation.code_problem(code) is None
    doors = _code_doors(code)
    assert doors == dict.fromkeys(doors, expected), (ascii(code), doors)


def _order_accepts(source_id: str) -> bool:
    try:
        cart.order_source_id_of({"source_id": source_id})
    except InvalidCheckoutInput:
        return False
    return True


@settings(max_examples=properties.examples(150, 3000), deadline=None)
@given(source_id=texts)
@example(source_id="o\x00-1")
@example(source_id="o\u202e-1")
@example(source_id="x" * 201)
@example(source_id=".")
@example(source_id="..")
def test_every_door_accepts_exactly_the_source_ids_the_validator_accepts(source_id):
    expected = validation.source_id_problem(source_id) is None
    doors = {
        "checkout order": _order_accepts(source_id),
        "rest": _rest_accepts(SourceIdField(), source_id),
        "csv customers": csvfiles.customer_row_problem({"sourceid": source_id}) is None,
        "json customers": jobs_service._has("source_id", "source_id")({"source_id": source_id}) is None,
        "json orders": jobs_service._has("source_id", "source_id")({"source_id": source_id}) is None,
        "json metadata update": jobs_service._source_id_problem(source_id) is None,
    }
    if source_id:  # an empty order source id is its own message, refused all the same
        assert doors == dict.fromkeys(doors, expected), (ascii(source_id), doors)
    else:
        assert not any(doors.values())


@pytest.mark.parametrize("value", BAD)
def test_invisible_and_control_characters_are_refused_in_codes_ids_and_metadata_keys(value):
    assert validation.code_problem(value)
    assert validation.source_id_problem(value)
    assert validation.metadata_key_problem(value)
    assert validation.metadata_problem({value: 1})


@pytest.mark.parametrize("value", ["SPRING-10", "café", "Ünïcødé", "代码", "a b", "x" * 100])
def test_ordinary_codes_of_any_script_pass(value):
    assert validation.code_problem(value) is None


@pytest.mark.parametrize(
    "metadata",
    [
        {"a": "x\x00y"},
        {"a": {"b": ["ok", "n\x00"]}},
        {"a": "\ud800"},
        {"ok": {"k\x00": 1}},
    ],
)
def test_nul_and_surrogates_are_refused_at_any_depth_of_metadata(metadata):
    problem = validation.metadata_problem(metadata)
    assert problem and ("NUL" in problem or "surrogate" in problem)


def test_metadata_values_may_hold_newlines_and_any_script():
    assert validation.metadata_problem({"note": "line 1\nline 2\ttab", "name": "Zoë 名"}) is None


def test_visible_escapes_what_it_cannot_show():
    assert validation.visible("A\x00B\u200bC") == "A\\x00B\\u200bC"
    assert validation.visible("plain é") == "plain é"


def test_rest_and_checkout_keep_no_copy_of_the_rules():
    import inspect

    from django_voucherify.rest import serializers

    for module in (cart, serializers):
        source = inspect.getsource(module)
        assert "unicodedata" not in source and "FORBIDDEN_CATEGORIES" not in source


@pytest.mark.parametrize("source_id", [".", ".."])
def test_a_source_id_the_client_cannot_put_in_a_url_path_is_refused(source_id):
    """Review 17: "." and ".." passed the source id rule, then the sync's get/delete by source id
    was refused by the client (api/encoding.py): the client's own rule now applies here."""
    from django_voucherify.api.encoding import encode_path

    with pytest.raises(ValueError):
        encode_path("/v1/products/{}", source_id)
    assert "cannot be a source id" in (validation.source_id_problem(source_id) or "")


def _nested(depth: int, leaf: object) -> object:
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(tricky, max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(tricky, max_size=4), children, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=properties.examples(300, 5000), deadline=None)
@given(value=json_values, depth=st.sampled_from([0, 1, 62, 63, 64, 65, 66]))
@example(value="a\x00", depth=0)
@example(value="a\ud800", depth=0)
@example(value={"\ud800": 1}, depth=0)
@example(value=[], depth=64)
@example(value=1, depth=64)
@example(value=1, depth=65)
def test_the_fast_storability_check_agrees_with_the_reporting_walk(value, depth):
    """storable_json's fast walk (hostile review of checkout: the reporting walk, building a
    path string per key and scanning text character by character, cost about 1 ms per redeem
    answer checkout stores) answers exactly as text_problem's walk does, depth limit included."""
    nested = _nested(depth, value)
    assert validation._storable(nested, 0) == (validation._unstorable_path(nested, "", 0) is None)


@settings(max_examples=properties.examples(300, 5000), deadline=None)
@given(value=json_values, depth=st.sampled_from([0, 1, 63, 64, 65]))
@example(value=float("inf"), depth=0)
@example(value={"a": [float("nan")]}, depth=0)
def test_storable_json_is_always_what_the_database_takes(value, depth):
    """Whatever the answer holds, storable_json's result passes both walks and is strict JSON:
    ``1e999`` (valid JSON, read as infinity) and a ``NaN`` token were kept as they were, then
    written as ``Infinity``/``NaN``, which PostgreSQL refuses (the redeem's answer unrecorded,
    the redemption made)."""
    stored = validation.storable_json(_nested(depth, value))
    assert validation._storable(stored, 0) and validation._unstorable_path(stored, "", 0) is None
    json.dumps(stored, allow_nan=False)


@settings(max_examples=properties.examples(300, 5000), deadline=None)
@given(value=json_values, depth=st.sampled_from([0, 1, 62, 63, 64, 65]))
@example(value="a\x00", depth=0)
@example(value="a\\u0000", depth=0)  # a backslash, then "u0000": storable as it is
@example(value={"\ud800": 1}, depth=0)
@example(value="\U0001f600", depth=0)  # a pair's code point, not a lone surrogate
@example(value=[float("nan")], depth=0)
@example(value=[], depth=64)
@example(value=[1], depth=63)
@example(value=[[] for _ in range(70)], depth=0)  # more brackets than the depth, all shallow
def test_the_stored_text_is_storable_json_encoded_once(value, depth):
    """storable_json_text (checkout's success UPDATE writes the text itself) gives what
    storable_json gives, the very object when nothing had to be replaced, and its JSON text."""
    nested = _nested(depth, value)
    expected = validation.storable_json(nested)
    stored, text = validation.storable_json_text(nested)
    assert (stored is nested) == (expected is nested)
    assert json.dumps(stored, allow_nan=False) == json.dumps(expected, allow_nan=False)
    loaded = json.loads(text, parse_constant=pytest.fail)  # strict JSON: no NaN, no Infinity
    assert loaded == json.loads(json.dumps(expected)) and validation._storable(loaded, 0)


class _Str(str):
    pass


class _Int(int):
    pass


class _Float(float):
    pass


class _Dict(dict):  # type: ignore[type-arg]
    pass


class _List(list):  # type: ignore[type-arg]
    pass


_texts = st.text(tricky, max_size=5) | st.sampled_from(["\\u0000", "a\\", "\U0001f600", "é\u2028"])
_nasty_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | _texts
    | _texts.map(_Str)
    | st.integers().map(_Int)
    | st.floats().map(_Float)
    | st.sampled_from([-(2**64), float("-inf")])
    | st.integers(4300, 4400).map(lambda digits: 10**digits)  # too long for int -> str
)
_nasty_keys = _texts | _texts.map(_Str) | st.integers() | st.floats() | st.booleans() | st.none()
nasty_values = st.recursive(
    _nasty_leaves,
    lambda children: (
        st.lists(children, max_size=3)
        | st.lists(children, max_size=3).map(tuple)
        | st.lists(children, max_size=3).map(_List)
        | st.dictionaries(_nasty_keys, children, max_size=3)
        | st.dictionaries(_nasty_keys, children, max_size=3).map(_Dict)
        | st.dictionaries(_texts, children, max_size=2).map(MappingProxyType)
    ),
    max_leaves=20,
)


def _parsed_or_refusal(encode: Callable[[], str]) -> object:
    try:
        return json.loads(encode())
    except (TypeError, ValueError) as exc:  # what JSON cannot encode, a number too long
        return type(exc)


@settings(max_examples=properties.examples(300, 5000), deadline=None)
@given(value=nasty_values, depth=st.sampled_from([0, 1, 62, 63, 64, 65]))
@example(value=MappingProxyType({"a": "\x00"}), depth=0)  # not a dict: storable_json makes one
@example(value={float("nan"): "\x00", True: 1, None: [()]}, depth=1)
def test_the_stored_text_parses_to_what_the_field_stores_whatever_the_value(value, depth):
    """Values no JSON answer holds but a caller may pass (subclasses of str, int, float, dict
    and list; tuples; keys that are not text, a NaN key; a mapping that is not a dict; an int
    too long to write): storable_json_text's text parses to what the JSONField's own encoding
    of storable_json's value parses to (the value jsonb stores), and a value one refuses the
    other refuses with the same exception."""
    nested = _nested(depth, value)
    field_text = _parsed_or_refusal(lambda: json.dumps(validation.storable_json(nested)))
    assert _parsed_or_refusal(lambda: validation.storable_json_text(nested)[1]) == field_text
