"""``SandboxState.new_id``: prefix + lower-case alphanumerics, every character equally likely."""

from __future__ import annotations

import string
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from django_voucherify.sandbox import ids
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
    monkeypatch.setattr(ids.secrets, "token_bytes", lambda n: next(draws)[:n])
    ids.ALNUM_POOL.reset()  # characters left from earlier draws would come first
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


def test_ids_drawn_in_blocks_never_repeat_a_character_run() -> None:
    """One OS draw serves many ids: consecutive ids are disjoint slices of it, never reused."""
    ids.ALNUM_POOL.reset()
    made = [SandboxState.new_id("x_")[2:] for _ in range(2000)]  # several draws' worth
    assert len(set(made)) == len(made)


@given(st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=40))
def test_the_pool_hands_out_the_drawn_characters_in_order_once(sizes: list[int]) -> None:
    """Whatever the sizes asked (longer than what is left, longer than a draw), the ids are
    the drawn characters cut in order: nothing repeated, nothing skipped."""
    stream = iter(range(10**9))
    drawn: list[str] = []

    def make(raw: bytes) -> str:
        chunk = "".join(chr(0x4E00 + next(stream) % 20000) for _ in range(97))  # distinct chars
        drawn.append(chunk)
        return chunk

    pool = ids.CharPool(make)
    taken = [pool.take(n) for n in sizes]
    assert [len(t) for t in taken] == sizes
    assert "".join(taken) == "".join(drawn)[: sum(sizes)]


def test_request_ids_are_v_and_18_hex_digits() -> None:
    made = {ids.request_id() for _ in range(1000)}
    assert len(made) == 1000
    assert all(len(r) == 20 and r.startswith("v-") and int(r[2:], 16) >= 0 for r in made)
