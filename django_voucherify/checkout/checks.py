"""System checks of the checkout options (``voucherify.E020``-``E023``, ``W020``)."""

from __future__ import annotations

from typing import Any

from django.core import checks

from ..checks import number_problem
from .conf import OUTAGE_POLICIES

SETTING = "settings.VOUCHERIFY"


def _seconds(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None


def checkout_settings_problems(values: dict[str, Any]) -> list[checks.CheckMessage]:
    """Problems in the checkout keys of a merged VOUCHERIFY dict (shared with ``conf``)."""
    problems: list[checks.CheckMessage] = []
    policy = values.get("CHECKOUT_OUTAGE_POLICY")
    if policy not in OUTAGE_POLICIES:
        problems.append(checks.Error(
            f"{SETTING}['CHECKOUT_OUTAGE_POLICY'] must be one of {', '.join(OUTAGE_POLICIES)} "
            f"(got {policy!r}).",
            hint="'refuse' shows the customer that codes cannot be checked right now; "
                 "'proceed_without_discount' lets the order go through at full price.",
            id="voucherify.E020",
        ))  # fmt: skip
    timeout = _seconds(values.get("CHECKOUT_TIMEOUT"))
    if timeout is None or timeout <= 0:
        problems.append(checks.Error(
            f"{SETTING}['CHECKOUT_TIMEOUT'] must be a positive number of seconds "
            f"(got {values.get('CHECKOUT_TIMEOUT')!r}).",
            hint="The default, 5, keeps a slow Voucherify from holding up order placement.",
            id="voucherify.E021",
        ))  # fmt: skip
    elif timeout > 30:
        problems.append(checks.Warning(
            f"{SETTING}['CHECKOUT_TIMEOUT'] is {timeout} seconds: customers would wait that long "
            "at checkout when Voucherify is slow.",
            hint="Keep it under 10 seconds.",
            id="voucherify.W020",
        ))  # fmt: skip
    for key in ("CHECKOUT_RECONCILE_GRACE", "CHECKOUT_ROLLBACK_BACKOFF", "CHECKOUT_ROLLBACK_BACKOFF_MAX",
                "CHECKOUT_ATTENTION_INTERVAL"):
        problem = number_problem(values, key, check_id="voucherify.E022",
                                 hint="A number of seconds; leave it unset to use the default.")
        if problem:
            problems.append(problem)
    problem = number_problem(values, "CHECKOUT_RECONCILE_MAX_ATTEMPTS", minimum=1, integer=True,
                             check_id="voucherify.E023",
                             hint="After that many reads the row is flagged for staff; the default is 10.")
    if problem:
        problems.append(problem)
    return problems


def check_checkout_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Report invalid checkout options with a hint."""
    from .conf import raw_checkout_settings

    try:
        values = raw_checkout_settings()
    except Exception:  # VOUCHERIFY is not a dict: voucherify.E000 already says so
        return []
    return checkout_settings_problems(values)
