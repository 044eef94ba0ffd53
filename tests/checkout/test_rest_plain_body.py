"""The redeem endpoint's plain-body check (issue 13): an ordinary body is validated without
building ``RedeemRequestSerializer``, and whatever it accepts, the serializer accepts with the
same validated data; anything else is the serializer's to answer (its field messages)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError

from django_voucherify.rest import serializers as s

#: Characters where the two could disagree: spaces (trimmed), controls, NUL, a lone surrogate,
#: a no-break space, non-ASCII letters, and plain ones.
ODD = st.sampled_from([" ", "\t", "\n", "\x00", "\x7f", "\ud800", "\u00a0", "\u200b", "é", "/", ".", "%"])
ODD_TEXT = st.sampled_from(["", ".", "..", "a" * 201])
TEXT = st.text(st.sampled_from("abcXYZ019-_") | ODD, max_size=12) | ODD_TEXT
VALUE = TEXT | st.integers(-2, 2) | st.none() | st.booleans() | st.floats(allow_nan=False)
MANY = st.lists(st.integers(0, 99).map("C{}".format), min_size=29, max_size=32, unique=True)
BODY = st.fixed_dictionaries(
    {},
    optional={
        "codes": st.lists(TEXT | VALUE, max_size=4) | VALUE | MANY,
        "order_source_id": TEXT | VALUE,
        "session_key": TEXT | VALUE,
        "extra": VALUE,
    },
)

#: Bodies close to an ordinary one, so the plain check accepts many of them.
PLAIN = st.text(st.sampled_from("abcXYZ019-_"), min_size=1, max_size=12)
PADDED = PLAIN.map(" {}".format) | PLAIN.map("{}\t".format)  # what the serializer trims
NEAR = st.fixed_dictionaries(
    {
        "codes": st.lists(PLAIN, min_size=1, max_size=3) | st.lists(PLAIN | PADDED | TEXT, max_size=3) | MANY,
        "order_source_id": PLAIN | PADDED | TEXT,
    },
    optional={"session_key": PLAIN | PADDED | TEXT},
)


def _serializer(data: Any) -> dict[str, Any] | None:
    serializer = s.RedeemRequestSerializer(data=data)
    return dict(serializer.validated_data) if serializer.is_valid() else None


@settings(max_examples=600, deadline=None)
@given(data=st.one_of(NEAR, NEAR, NEAR, BODY, VALUE, st.lists(VALUE, max_size=2)))
def test_what_the_plain_check_accepts_the_serializer_accepts_the_same(data):
    plain = s.plain_redeem_request(data)
    event("plain" if plain is not None else "to the serializer")
    if plain is not None:
        assert _serializer(data) == plain
    try:
        answer: dict[str, Any] | None = s.redeem_request(data)
    except ValidationError:
        answer = None
    assert answer == _serializer(data)


@pytest.mark.parametrize(
    "data",
    [
        {"codes": ["SUMMER-10"], "order_source_id": "ORD-1"},
        {"codes": ["A", "B 2", "c_3"], "order_source_id": "order 7", "session_key": "ssn_1"},
    ],
)
def test_an_ordinary_body_is_checked_without_the_serializer(monkeypatch, data):
    def built(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("RedeemRequestSerializer built for an ordinary body")

    monkeypatch.setattr(s.RedeemRequestSerializer, "__init__", built)
    assert s.redeem_request(data) == data


def test_a_body_with_a_problem_gets_the_serializers_field_messages():
    with pytest.raises(ValidationError) as raised:
        s.redeem_request({"codes": ["A", "A"], "order_source_id": " "})
    assert set(raised.value.detail) == {"codes", "order_source_id"}
