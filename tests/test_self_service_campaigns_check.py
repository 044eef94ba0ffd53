"""Check E027 refuses every ``SELF_SERVICE_CAMPAIGNS`` entry the publications endpoint's campaign
rule refuses: such an entry can never match a request (the endpoint refuses the request, and a
campaign's id or name Voucherify answers is held to the same rule), so listing it was a silent
misconfiguration: "." and "..", a NUL or a zero-width space, over 200 characters passed."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from django_voucherify import conf
from django_voucherify.checks import check_voucherify_settings
from django_voucherify.rest.serializers import PublishRequestSerializer

GOOD = {"APP_ID": "id", "SECRET_KEY": "key"}


def endpoint_takes(campaign: str) -> bool:
    """Whether ``POST publications/`` accepts ``campaign`` (its request serializer)."""
    return PublishRequestSerializer(data={"campaign": campaign}).is_valid()


def e027(entries: list[str]) -> list[object]:
    with override_settings(VOUCHERIFY={**GOOD, "SELF_SERVICE_CAMPAIGNS": entries}):
        return [m for m in check_voucherify_settings() if m.id == "voucherify.E027"]


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (".", "cannot be addressed in a URL path"),
        ("..", "cannot be addressed in a URL path"),
        ("Wel\x00come", "invisible or control character"),
        ("Welcome\u200b", "invisible or control character"),
        ("Line\u2028break", "invisible or control character"),
        ("W" * 201, "is too long"),
        (" Welcome", "white space"),
        ("", "is empty"),
    ],
)
def test_an_entry_the_endpoint_refuses_is_e027_with_message_and_hint(entry, reason):
    assert not endpoint_takes(entry)
    (error,) = e027(["Welcome", entry])
    assert error.is_serious()
    assert repr(entry) in error.msg and reason in error.msg and "could never match" in error.msg
    assert "'.' or '..'" in error.hint and "200 characters" in error.hint
    with (
        override_settings(VOUCHERIFY={**GOOD, "SELF_SERVICE_CAMPAIGNS": ["Welcome", entry]}),
        pytest.raises(ImproperlyConfigured) as refused,
    ):
        conf.settings()  # enforced at use too, with the check's words
    assert str(refused.value) == f"{error.msg} {error.hint}"


@pytest.mark.parametrize("entry", ["Welcome", "camp_8rTkR0sBQzW", "Frühling 20 %", "a" * 200, "..."])
def test_an_entry_the_endpoint_takes_passes(entry):
    assert endpoint_takes(entry)
    assert e027([entry]) == []


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(codec="utf-8") | st.sampled_from(" .\x00\u200b\u2028\t\ud800"), max_size=8))
def test_the_check_and_the_endpoint_agree_on_every_entry(entry):
    assert (e027([entry]) == []) == endpoint_takes(entry)
