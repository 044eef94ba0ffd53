"""``SandboxState.new_id``: prefix + lower-case alphanumerics, every character equally likely."""

from __future__ import annotations

import string
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from django_voucherify.sandbox import state as state_module
from django_voucherify.sandbox.state import SandboxState

ALNUM = set(string.ascii_lowercase + string.digits)


@given(length=st.integers(min_value=1, max_value=64))
def test_an_id_is_its_prefix_and_length_alphanumerics(length: int) -> None:
    new = SandboxState.new_id("r_", length)
    assert new.startswith("r_")
    assert len(new) == 2 + length
    assert set(new[2:]) <= ALNUM


def test_bytes_that_would_bias_the_alphabet_are_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bytes 252..255 would make a..d likelier (256 is not a multiple of 36): never used."""
    draws = iter([bytes([252, 253, 254, 255]) * 8, bytes(range(36)) * 2])
    monkeypatch.setattr(state_module.secrets, "token_bytes", lambda n: next(draws)[:n])
    # The first draw is all biased bytes: the id comes from the second, byte b -> ALNUM[b % 36].
    assert SandboxState.new_id("x_", 10) == "x_abcdefghij"


def test_every_character_is_about_equally_likely() -> None:
    counts = Counter("".join(SandboxState.new_id("x_")[2:] for _ in range(4000)))  # 72,000 chars
    assert set(counts) == ALNUM
    expected = 72_000 / 36
    # Chi-square, 35 degrees of freedom: 80 is far beyond the 99.99th percentile (~70), while
    # a byte-mod-36 mapping (a..d 8/7 as likely) scores ~140 on this many characters.
    chi2 = sum((n - expected) ** 2 / expected for n in counts.values())
    assert chi2 < 80
