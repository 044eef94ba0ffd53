"""System checks of the checkout options (``voucherify.E020``-``E026``, ``W020``)."""

from __future__ import annotations

from typing import Any

from django.core import checks

from ..checks import number_problem
from .conf import OUTAGE_POLICIES
from .payloads import MAX_REDEEMABLES

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
        problems.append(
            checks.Error(
                f"{SETTING}['CHECKOUT_OUTAGE_POLICY'] must be one of {', '.join(OUTAGE_POLICIES)} "
                f"(got {policy!r}).",
                hint="'refuse' shows the customer that codes cannot be checked right now; "
                "'proceed_without_discount' lets the order go through at full price.",
                id="voucherify.E020",
            )
        )
    timeout = _seconds(values.get("CHECKOUT_TIMEOUT"))
    if timeout is None or timeout <= 0:
        problems.append(
            checks.Error(
                f"{SETTING}['CHECKOUT_TIMEOUT'] must be a positive number of seconds "
                f"(got {values.get('CHECKOUT_TIMEOUT')!r}).",
                hint="The default, 5, keeps a slow Voucherify from holding up order placement.",
                id="voucherify.E021",
            )
        )
    elif timeout > 30:
        problems.append(
            checks.Warning(
                f"{SETTING}['CHECKOUT_TIMEOUT'] is {timeout} seconds: customers would wait that long "
                "at checkout when Voucherify is slow.",
                hint="Keep it under 10 seconds.",
                id="voucherify.W020",
            )
        )
    for key in (
        "CHECKOUT_RECONCILE_GRACE",
        "CHECKOUT_ROLLBACK_BACKOFF",
        "CHECKOUT_ROLLBACK_BACKOFF_MAX",
        "CHECKOUT_ATTENTION_INTERVAL",
        "CHECKOUT_TASK_LEASE",
    ):
        problem = number_problem(
            values,
            key,
            check_id="voucherify.E022",
            hint="A number of seconds; leave it unset to use the default.",
        )
        if problem:
            problems.append(problem)
    problem = number_problem(
        values,
        "CHECKOUT_RECONCILE_MAX_ATTEMPTS",
        minimum=1,
        integer=True,
        check_id="voucherify.E023",
        hint="After that many reads the row is flagged for staff; the default is 10.",
    )
    if problem:
        problems.append(problem)
    grace = _seconds(values.get("CHECKOUT_RECONCILE_GRACE"))
    late = _seconds(values.get("CHECKOUT_LATE_CHECK_AFTER"))
    if values.get("CHECKOUT_LATE_CHECK_AFTER") is not None:  # None: derived from the grace
        problem = number_problem(
            values,
            "CHECKOUT_LATE_CHECK_AFTER",
            check_id="voucherify.E022",
            hint="A number of seconds above CHECKOUT_RECONCILE_GRACE; leave it unset to use the default.",
        )
        if problem:
            problems.append(problem)
    if grace is not None and late is not None and late <= grace:
        problems.append(
            checks.Error(
                f"{SETTING}['CHECKOUT_LATE_CHECK_AFTER'] ({late:g} s) must exceed "
                f"CHECKOUT_RECONCILE_GRACE ({grace:g} s).",
                hint="The late check reads Voucherify's redemptions once more after reconciliation "
                "concluded 'not redeemed', to catch a request processed past the grace period; "
                "unset, it is 3600 s (or twice the grace if longer).",
                id="voucherify.E026",
            )
        )
    anonymous = values.get("CHECKOUT_ANONYMOUS_MAX_CODES")
    if isinstance(anonymous, bool) or not isinstance(anonymous, int) or not 1 <= anonymous <= MAX_REDEEMABLES:
        problems.append(
            checks.Error(
                f"{SETTING}['CHECKOUT_ANONYMOUS_MAX_CODES'] must be a whole number from 1 to "
                f"{MAX_REDEEMABLES} (got {anonymous!r}).",
                hint="The codes one anonymous validate request may name; the default, 5, keeps "
                "one request from testing many guessed codes. Signed-in users may send up to 30.",
                id="voucherify.E025",
            )
        )
    return problems


def longest_request_seconds(values: dict[str, Any]) -> float | None:
    """The longest a checkout request can take (None while a number involved is invalid).

    - The redeem is sent once, and must start leaving within connect + read timeout of its
      ledger row's creation (later it is never sent: ``checkout.sender``); Voucherify then
      answers within the read timeout or the caller gives up: ``connect + 2 * read``.
    - Retried calls (reads, rollbacks): each attempt at most ``connect + read``, attempts
      ``1 + MAX_RETRIES`` with backoff delays between them (each at most the doubling ceiling
      and ``BACKOFF_MAX``); and no attempt starts after the retry budget (``min(RETRY_BUDGET,
      CHECKOUT_TIMEOUT)`` for checkout's client): the smaller of the two bounds.
    """
    connect, read = _seconds(values.get("CONNECT_TIMEOUT")), _seconds(values.get("CHECKOUT_TIMEOUT"))
    budget, retries = _seconds(values.get("RETRY_BUDGET")), values.get("MAX_RETRIES")
    base, ceiling = _seconds(values.get("BACKOFF_BASE")), _seconds(values.get("BACKOFF_MAX"))
    if None in (connect, read, budget, base, ceiling) or not isinstance(retries, int):
        return None
    assert connect is not None and read is not None and budget is not None
    assert base is not None and ceiling is not None
    attempt, extra = connect + read, max(int(retries), 0)
    backoffs = sum(min(ceiling, base * 2**n) for n in range(extra))
    retried = min(attempt * (1 + extra) + backoffs, min(budget, read) + attempt)
    return float(max(connect + 2 * read, retried))


def grace_problems(values: dict[str, Any]) -> list[checks.CheckMessage]:
    """``CHECKOUT_RECONCILE_GRACE`` must exceed the longest request: past the grace period,
    reconciliation concludes "not redeemed" from an empty list, which is only true if no
    request of the attempt can still be in flight."""
    grace, longest = _seconds(values.get("CHECKOUT_RECONCILE_GRACE")), longest_request_seconds(values)
    if grace is None or longest is None or grace > longest:
        return []
    return [
        checks.Error(
            f"{SETTING}['CHECKOUT_RECONCILE_GRACE'] ({grace:g} s) does not exceed the longest "
            f"possible checkout request ({longest:g} s, from CONNECT_TIMEOUT, CHECKOUT_TIMEOUT, "
            "MAX_RETRIES, RETRY_BUDGET and the backoff).",
            hint="Raise CHECKOUT_RECONCILE_GRACE well above it (the default is 60 s, also covering "
            "clock skew between hosts), or shorten the timeouts; otherwise a redeem still in "
            "flight could be concluded 'not redeemed'.",
            id="voucherify.E024",
        )
    ]


def check_checkout_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Report invalid checkout options with a hint."""
    from ..conf import raw_settings
    from .conf import raw_checkout_settings

    try:
        values = raw_checkout_settings()
        merged = {**raw_settings(), **values}
    except Exception:  # VOUCHERIFY is not a dict: voucherify.E000 already says so
        return []
    return [*checkout_settings_problems(values), *grace_problems(merged)]
