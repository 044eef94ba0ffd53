"""Checkout options in ``settings.VOUCHERIFY`` (read at use, never frozen at import time).

They live beside the feature rather than in :mod:`django_voucherify.conf`, which keeps unknown
keys for add-ons; :mod:`.checks` reports bad values at start-up with ids ``voucherify.E02x``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured

#: Refuse the codes with a clear message when Voucherify is unreachable or slow.
REFUSE = "refuse"
#: Let the order go through at full price (the codes are not applied) during an outage.
PROCEED_WITHOUT_DISCOUNT = "proceed_without_discount"
OUTAGE_POLICIES = (REFUSE, PROCEED_WITHOUT_DISCOUNT)

CHECKOUT_DEFAULTS: dict[str, Any] = {
    # What checkout does when Voucherify cannot answer (see docs/checkout.md).
    "CHECKOUT_OUTAGE_POLICY": REFUSE,
    # Read timeout (s) of validate/redeem/rollback calls made during checkout, and the budget of
    # their retries: with CONNECT_TIMEOUT it bounds how long an order placement can wait.
    "CHECKOUT_TIMEOUT": 5.0,
    # How long (s) after an unanswered redeem reconciliation waits before trusting what
    # Voucherify lists: a request still in flight must have landed by then.
    "CHECKOUT_RECONCILE_GRACE": 60.0,
    # How long (s) after reconciliation concluded "not redeemed" it reads Voucherify's
    # redemptions once more (a request held past the grace period by a load balancer or the
    # network): must exceed CHECKOUT_RECONCILE_GRACE. None: 3600, or twice the grace if longer.
    "CHECKOUT_LATE_CHECK_AFTER": None,
    # First and longest delay (s) between two attempts of a failed rollback (Celery).
    "CHECKOUT_ROLLBACK_BACKOFF": 5.0,
    "CHECKOUT_ROLLBACK_BACKOFF_MAX": 900.0,
    # Reconcile attempts (reading redemptions back) before a row still UNKNOWN is flagged for
    # staff (``needs_attention``, visible in the admin); flagged rows are then re-read every
    # CHECKOUT_ATTENTION_INTERVAL seconds by the periodic sweep.
    "CHECKOUT_RECONCILE_MAX_ATTEMPTS": 10,
    "CHECKOUT_ATTENTION_INTERVAL": 3600.0,
    # How long (s) past its due time a ledger row's task holds the row: a task lost with its
    # message (broker, killed worker) is sent again by the sweep once that is over. Far above
    # CHECKOUT_TIMEOUT: a task makes a few short calls.
    "CHECKOUT_TASK_LEASE": 300.0,
    # Codes one anonymous validate request of the REST API may name (1 to 30): few, so that one
    # request cannot test many guesses; signed-in users may send up to 30.
    "CHECKOUT_ANONYMOUS_MAX_CODES": 5,
}


@dataclass(frozen=True)
class CheckoutSettings:
    outage_policy: str = REFUSE
    timeout: float = 5.0
    reconcile_grace: float = 60.0
    late_check_after: float = 3600.0
    rollback_backoff: float = 5.0
    rollback_backoff_max: float = 900.0
    reconcile_max_attempts: int = 10
    attention_interval: float = 3600.0
    task_lease: float = 300.0
    anonymous_max_codes: int = 5


#: The late check's delay when ``CHECKOUT_LATE_CHECK_AFTER`` is unset (unless the grace is longer).
DEFAULT_LATE_CHECK_AFTER = 3600.0


def late_check_after(values: dict[str, Any]) -> float:
    """``CHECKOUT_LATE_CHECK_AFTER``, or when unset (None) 3600 s or twice the grace if longer
    (so that a long grace set before the option existed stays valid)."""
    value = values.get("CHECKOUT_LATE_CHECK_AFTER")
    if value is not None:
        return float(value)
    return max(DEFAULT_LATE_CHECK_AFTER, 2 * float(values["CHECKOUT_RECONCILE_GRACE"]))


def raw_checkout_settings() -> dict[str, Any]:
    from ..conf import raw_settings

    values = raw_settings()
    return {key: values.get(key, default) for key, default in CHECKOUT_DEFAULTS.items()}


def checkout_settings() -> CheckoutSettings:
    """The validated checkout options; raises ``ImproperlyConfigured`` naming the bad one."""
    from .checks import checkout_settings_problems

    values = raw_checkout_settings()
    errors = [p for p in checkout_settings_problems(values) if p.is_serious()]
    if errors:
        raise ImproperlyConfigured(f"{errors[0].msg} {errors[0].hint or ''}".strip())
    return CheckoutSettings(
        outage_policy=str(values["CHECKOUT_OUTAGE_POLICY"]),
        timeout=float(values["CHECKOUT_TIMEOUT"]),
        reconcile_grace=float(values["CHECKOUT_RECONCILE_GRACE"]),
        late_check_after=late_check_after(values),
        rollback_backoff=float(values["CHECKOUT_ROLLBACK_BACKOFF"]),
        rollback_backoff_max=float(values["CHECKOUT_ROLLBACK_BACKOFF_MAX"]),
        reconcile_max_attempts=int(values["CHECKOUT_RECONCILE_MAX_ATTEMPTS"]),
        attention_interval=float(values["CHECKOUT_ATTENTION_INTERVAL"]),
        task_lease=float(values["CHECKOUT_TASK_LEASE"]),
        anonymous_max_codes=int(values["CHECKOUT_ANONYMOUS_MAX_CODES"]),
    )
