"""``limits.loads`` (one decoder per thread) reads every body as ``json.loads`` with the hooks did:
the same value, or the same error, for any bytes."""

from __future__ import annotations

import json
import threading
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from django_voucherify.sandbox import limits

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)
ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32-be"])


def _outcome(read: Any, data: bytes | str) -> tuple[str, Any]:
    try:
        return "value", read(data)
    except (ValueError, UnicodeDecodeError) as exc:
        return type(exc).__name__, str(exc)


def _reference(data: bytes | str) -> Any:
    return json.loads(
        data, parse_int=limits.parse_int, parse_float=limits.parse_float, parse_constant=limits.parse_constant
    )


SPACES = st.text(alphabet=" \t\n\r", max_size=3)


@given(JSONISH, ENCODINGS, st.binary(max_size=3), st.booleans(), SPACES, SPACES)
def test_loads_is_json_loads_with_the_hooks(
    value: Any, encoding: str, tail: bytes, as_text: bool, before: str, after: str
) -> None:
    # Whitespace around the document, and a tail of stray bytes: values and errors compared.
    raw = (before + json.dumps(value) + after).encode(encoding) + tail
    data: bytes | str = raw.decode("latin-1") if as_text else raw
    assert _outcome(limits.loads, data) == _outcome(_reference, data)


REFUSED_OR_ODD = ["NaN", "Infinity", "1e999", "9" * 30, "[1, 2", "\ufeff{}", "{}", "", " ", "{} x", " 1 "]


@given(st.sampled_from(REFUSED_OR_ODD))
def test_refusals_are_the_same(text: str) -> None:
    for data in (text, text.encode("utf-8")):
        assert _outcome(limits.loads, data) == _outcome(_reference, data)


def test_threads_parsing_at_once_each_get_their_own_value() -> None:
    bodies = [json.dumps({"k": i, "items": [{"n": str(i)}] * 50}).encode() for i in range(8)]
    wrong: list[int] = []

    def parse(i: int) -> None:
        for _ in range(300):
            if limits.loads(bodies[i])["k"] != i:
                wrong.append(i)

    threads = [threading.Thread(target=parse, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


@given(
    st.sampled_from([b"{", b"{}", b"{\x00}\x00", b"{\x00\x00\x00}\x00\x00\x00", b'{"a":"\xff"}', b"{\x00"])
)
def test_a_body_opening_with_a_brace_is_read_in_the_encoding_json_loads_detects(data: bytes) -> None:
    # "{" then anything but NUL is UTF-8 without detect_encoding's call; UTF-16/32 bodies (a NUL
    # after the brace) and undecodable ones get json.loads' answer all the same.
    assert _outcome(limits.loads, data) == _outcome(_reference, data)
