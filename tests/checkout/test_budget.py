"""The unknown-codes budget over several identities (user and address): a reservation is all
or nothing, so a refusal by one identity leaves nothing taken from the others."""

from __future__ import annotations

import uuid
from typing import Any

from django.test import override_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from django_voucherify.checkout.budget import UnknownCodesBudget, WindowCounter

IDENTS = ["user:1", "user:2", "addr:10.0.0.1", "addr:10.0.0.2"]
LIMIT = 5
ATTEMPTS = st.lists(
    st.tuples(st.sets(st.sampled_from(IDENTS), min_size=1, max_size=2), st.integers(1, 3)), max_size=25
)


@settings(max_examples=60, deadline=None)
@given(ATTEMPTS)
def test_each_identity_pays_exactly_the_reservations_it_allowed(attempts) -> None:
    cache = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": str(uuid.uuid4())}
    }
    rates = {"DEFAULT_THROTTLE_RATES": {"voucherify_validate_failures": f"{LIMIT}/day"}}
    with override_settings(CACHES=cache, REST_FRAMEWORK=rates):
        spent = dict.fromkeys(IDENTS, 0)
        for idents, amount in attempts:
            allowed = all(spent[i] + amount <= LIMIT for i in idents)
            assert UnknownCodesBudget(sorted(idents)).reserve(amount) == allowed
            if allowed:
                for ident in idents:
                    spent[ident] += amount
        for ident in IDENTS:  # what is left: exactly the limit minus what was allowed
            counter = WindowCounter("voucherify_validate_failures", ident, LIMIT, 86400)
            left = LIMIT - spent[ident]
            assert (counter.take(left) if left else True) and not counter.take(1)


def test_a_count_in_an_existing_window_is_one_cache_operation(monkeypatch) -> None:
    # Issue 13: every count was ``add`` then ``incr`` (two round trips on Redis), five counts per
    # redeem. Now the increment goes first; the key is created only when missing.
    from django.core.cache import caches

    cache = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "ops"}}
    with override_settings(CACHES=cache):
        default, calls = caches["default"], list[str]()
        for name in ("get", "set", "add", "incr", "get_many", "delete"):
            monkeypatch.setattr(default, name, counted(calls, name, getattr(default, name)))
        counter = WindowCounter("voucherify_redeem", "user:1", 100, 86400)
        assert counter.take(1)  # the window's first count creates its key
        calls.clear()
        assert counter.take(2)
        assert calls == ["incr", "get"]  # the count, then the previous window's weight
        calls.clear()
        counter.give_back(2)
        assert calls == ["incr"]
        left = WindowCounter("voucherify_redeem", "user:1", 100, 86400)
        assert left.take(99) and not left.take(1)  # 1 + 2 - 2 counted before: 100 is the limit


def counted(calls: list[str], name: str, method: Any) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return method(*args, **kwargs)

    return call
