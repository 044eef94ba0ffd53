"""Voucherify's webhook signature: HMAC-SHA256, hex, of the JSON body (issue 15's vector)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from django_voucherify.secret import Secret
from django_voucherify.webhooks import sign, verify

VECTOR = "a17d2ac229d1ebbb5f10e839c7985c4818e5986eab297f7e5979196d4d7d3ed2"


def test_known_vector() -> None:
    assert sign(b'{"a":1}', "secretKey") == VECTOR
    assert verify(b'{"a":1}', VECTOR, [Secret("secretKey")])


def test_forged_truncated_and_wrong_secret_are_refused() -> None:
    secrets = [Secret("secretKey")]
    assert not verify(b'{"a":2}', VECTOR, secrets)  # another body
    assert not verify(b'{"a":1}', VECTOR[:-1], secrets)  # truncated
    assert not verify(b'{"a":1}', VECTOR[:32], secrets)
    assert not verify(b'{"a":1}', "", secrets)
    assert not verify(b'{"a":1}', VECTOR, [Secret("secretkey")])  # wrong secret
    assert not verify(b'{"a":1}', VECTOR, [])  # no secret configured


def test_rotation_accepts_any_configured_secret() -> None:
    body = b'{"a":1}'
    both = [Secret("new"), Secret("secretKey")]
    assert verify(body, VECTOR, both)
    assert verify(body, sign(body, "new"), both)
    assert not verify(body, sign(body, "retired"), both)


def test_reindented_body_verifies_through_its_compact_form() -> None:
    """Voucherify's SDKs check JSON.stringify(body): a body re-indented on the way verifies."""
    pretty = b'{\n  "a": 1\n}'
    assert not verify(pretty, VECTOR, [Secret("secretKey")])
    assert verify(pretty, VECTOR, [Secret("secretKey")], parsed=json.loads(pretty))


def test_upper_case_hex_and_spaces_are_accepted() -> None:
    assert verify(b'{"a":1}', f" {VECTOR.upper()} ", [Secret("secretKey")])


@given(st.binary(max_size=200), st.text(min_size=1, max_size=30), st.text(max_size=70))
def test_only_the_right_signature_verifies(body: bytes, secret: str, forged: str) -> None:
    good = sign(body, secret)
    assert verify(body, good, [Secret(secret)])
    if forged.strip().lower() != good:
        assert not verify(body, forged, [Secret(secret)])
