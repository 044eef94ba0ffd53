"""How many examples the property-based tests run: bounded by default, many more on demand.

``HYPOTHESIS_PROFILE=thorough`` selects every property test's long profile (the checkout and
sync state machines, the REST fuzz, the validator's door-by-door equivalence);
``VOUCHERIFY_PROPERTY_EXAMPLES=N`` sets the number of examples of each exactly.
"""

from __future__ import annotations

import os

from hypothesis import settings


def thorough() -> bool:
    return os.environ.get("HYPOTHESIS_PROFILE") == "thorough"


def chosen(normal: str, long: str) -> settings:
    """The registered profile ``normal``, or ``long`` when a thorough run is asked for (also
    ``VOUCHERIFY_PROPERTY_PROFILE=<name>``), with ``VOUCHERIFY_PROPERTY_EXAMPLES`` applied."""
    name = long if thorough() else os.environ.get("VOUCHERIFY_PROPERTY_PROFILE", normal)
    profile = settings.get_profile(name)
    examples = os.environ.get("VOUCHERIFY_PROPERTY_EXAMPLES")
    return settings(profile, max_examples=int(examples)) if examples else profile


def examples(normal: int, long: int) -> int:
    """A plain example count: ``normal``, ``long`` on a thorough run, or the explicit number."""
    explicit = os.environ.get("VOUCHERIFY_PROPERTY_EXAMPLES")
    return int(explicit) if explicit else (long if thorough() else normal)
