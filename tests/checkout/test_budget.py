"""The unknown-codes budget over several identities (user and address): a reservation is all
or nothing, so a refusal by one identity leaves nothing taken from the others."""

from __future__ import annotations

import uuid

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
