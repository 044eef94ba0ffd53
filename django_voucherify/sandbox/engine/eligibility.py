"""Voucher state checks, in Voucherify's documented order, as pure functions.

Contract: :func:`check_voucher` returns ``None`` when the voucher may be used
at ``now`` or the first :class:`Failure` found, checking (as listed in the
``list-redemptions`` "Failed Redemptions" section) disabled
(``voucher_disabled``), not yet active (``voucher_not_active``), expired
(``voucher_expired``), outside ``validity_timeframe`` / ``validity_day_of_week``
/ ``validity_hours`` (``voucher_not_active``: the spec lists no dedicated key,
so the sandbox reuses the "not active" key, see docs/sandbox-redemptions.md)
and the quantity limit (``quantity_exceeded``).  Not-found is the caller's job
(it has no voucher to pass).  Amount checks for gift cards live in
:func:`check_gift`.

``held`` arguments are the quantity/credits reserved by other live LOCK
sessions: they are unavailable to everybody else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

MESSAGES: dict[str, str] = {
    "not_found": "Resource not found",
    "voucher_disabled": "voucher is disabled",
    "voucher_not_active": "voucher not active",
    "voucher_expired": "voucher expired",
    "quantity_exceeded": "quantity exceeded",
    "gift_amount_exceeded": "gift amount exceeded",
    "missing_amount": "missing amount",
    "missing_reward": "missing reward",
    "invalid_amount": "invalid amount",
    # Validation rules (engine/rules.py), keys from list-redemptions' "Failed Redemptions".
    "order_rules_violated": "order does not match validation rules",
    "customer_rules_violated": "customer does not match validation rules",
}


@dataclass(frozen=True)
class Failure:
    """A business failure: ``key`` is both the error key and the redemption's
    ``failure_code``; ``code`` the HTTP status Voucherify answers with."""

    key: str
    details: str
    code: int = 400
    #: A validation rule's own message (the Error's ``error.message``), when a rule failed.
    error_message: str | None = None

    @property
    def message(self) -> str:
        return MESSAGES.get(self.key, self.key.replace("_", " "))

    def error(
        self,
        request_id: str | None = None,
        resource_id: str | None = None,
        resource_type: str | None = "voucher",
    ) -> dict[str, Any]:
        """The spec's ``Error`` object for this failure."""
        error: dict[str, Any] = {
            "code": self.code,
            "key": self.key,
            "message": self.message,
            "details": self.details,
            "request_id": request_id,
            "resource_id": resource_id,
            "resource_type": resource_type,
        }
        if self.error_message is not None:
            error["error"] = {"message": self.error_message}
        return error


def parse_datetime(value: Any) -> datetime | None:
    """Parse an ISO 8601 timestamp or date (naive values are taken as UTC)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        text = str(value).replace("Z", "+00:00")
        dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


_DURATION = re.compile(
    r"^P(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<mi>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


#: The longest duration the sandbox reads (Voucherify documents no bound; a ``timedelta`` ends
#: near 2.7 million years, past which the arithmetic raises instead of answering).
MAX_DURATION = timedelta(days=100 * 365)


def parse_duration(value: str) -> timedelta:
    """ISO 8601 duration to timedelta.  Years and months are taken as 365 and
    30 days (the sandbox has no calendar arithmetic for recurring windows).
    ``ValueError`` for anything else, and for more than :data:`MAX_DURATION`."""
    m = _DURATION.match(value) if isinstance(value, str) else None
    if not m or value in ("P", "PT"):
        raise ValueError(f"invalid ISO 8601 duration: {value!r}")
    g = {k: float(v) if v else 0.0 for k, v in m.groupdict().items()}
    try:
        parsed = timedelta(
            days=g["y"] * 365 + g["mo"] * 30 + g["w"] * 7 + g["d"],
            hours=g["h"],
            minutes=g["mi"],
            seconds=g["s"],
        )
    except OverflowError:
        parsed = timedelta.max
    if parsed > MAX_DURATION:
        raise ValueError(f"ISO 8601 duration longer than {MAX_DURATION.days // 365} years: {value!r}")
    return parsed


def timeframe_problem(frame: Any) -> str | None:
    """Why ``frame`` cannot be a ``validity_timeframe`` (its ``interval`` and ``duration`` are
    ISO 8601 durations), or None. Every door that stores one asks (vouchers, campaigns, tiers):
    a frame :func:`in_timeframe` cannot read is a 400 where it is given."""
    if frame is None:
        return None
    if not isinstance(frame, Mapping):
        return "validity_timeframe must be an object"
    for name in ("interval", "duration"):
        value = frame.get(name)
        if value is None:
            continue
        try:
            parse_duration(value)
        except ValueError:
            return f"validity_timeframe.{name} must be an ISO 8601 duration (P2D, PT1H; 100 years at most)"
    return None


_HH_MM = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$")


def hours_problem(hours: Any) -> str | None:
    """Why ``hours`` cannot be a ``validity_hours`` whose times :func:`in_validity_hours` can
    compare (``HH:mm``, the spec's format: ``"9:00"`` would sort after ``"10:00"``), or None.
    ``expiration_time`` may also be ``24:00`` (the end of the day, the engine's default)."""
    daily = hours.get("daily") if isinstance(hours, Mapping) else None
    for index, period in enumerate(daily if isinstance(daily, list) else []):
        if not isinstance(period, Mapping):
            continue  # the request schema's to refuse
        for name in ("start_time", "expiration_time"):
            value = period.get(name)
            if value is None or (name == "expiration_time" and value == "24:00"):
                continue
            if not isinstance(value, str) or not _HH_MM.match(value):
                return f"validity_hours.daily[{index}].{name} must be a time of day as HH:mm (00:00 to 23:59)"
    return None


def validity_problem(payload: Mapping[str, Any]) -> str | None:
    """:func:`timeframe_problem` or :func:`hours_problem` of a payload's validity fields."""
    return timeframe_problem(payload.get("validity_timeframe")) or hours_problem(
        payload.get("validity_hours")
    )


def voucherify_weekday(now: datetime) -> int:
    """Voucherify numbers days 0=Sunday..6=Saturday (Python: 0=Monday)."""
    return (now.weekday() + 1) % 7


def in_timeframe(voucher: Mapping[str, Any], now: datetime) -> bool:
    """Whether ``now`` falls in the recurring ``validity_timeframe`` window:
    every ``interval`` from ``start_date``, active for ``duration``."""
    frame = voucher.get("validity_timeframe") or {}
    if not frame.get("interval") and not frame.get("duration"):
        return True
    start = parse_datetime(voucher.get("start_date"))
    if start is None or now < start:
        return start is None
    try:
        duration = parse_duration(frame["duration"]) if frame.get("duration") else None
        interval = parse_duration(frame["interval"]) if frame.get("interval") else None
    except ValueError:
        # Stored before the doors checked it (timeframe_problem): a window nobody can read
        # admits no moment, rather than failing every request that looks at the code.
        return False
    elapsed = now - start
    if interval is not None and interval.total_seconds() > 0:
        elapsed = timedelta(seconds=elapsed.total_seconds() % interval.total_seconds())
    return duration is None or elapsed < duration


def in_validity_hours(voucher: Mapping[str, Any], now: datetime) -> bool:
    """``validity_hours.daily``: any period whose day and HH:mm window contain now."""
    daily = (voucher.get("validity_hours") or {}).get("daily") or []
    if not daily:
        return True
    day = voucherify_weekday(now)
    hhmm = now.strftime("%H:%M")
    for period in daily:
        days = period.get("days_of_week")
        if days is not None and day not in days:
            continue
        if period.get("start_time", "00:00") <= hhmm < period.get("expiration_time", "24:00"):
            return True
    return False


def check_voucher(voucher: Mapping[str, Any], now: datetime, held_quantity: int = 0) -> Failure | None:
    """First failing state check for ``voucher`` at ``now`` or ``None``."""
    code = voucher.get("code", "")
    if voucher.get("active") is False:
        return Failure("voucher_disabled", f"{code} is disabled")
    start = parse_datetime(voucher.get("start_date"))
    if start is not None and now < start:
        return Failure("voucher_not_active", f"{code} is not active yet")
    expiration = parse_datetime(voucher.get("expiration_date"))
    if expiration is not None and now > expiration:
        return Failure("voucher_expired", f"{code} has expired")
    days = voucher.get("validity_day_of_week")
    if days and voucherify_weekday(now) not in days:
        return Failure("voucher_not_active", f"{code} is not valid on this day of week")
    if not in_timeframe(voucher, now) or not in_validity_hours(voucher, now):
        return Failure("voucher_not_active", f"{code} is outside its validity timeframe")
    redemption = voucher.get("redemption") or {}
    quantity = redemption.get("quantity")
    if quantity is not None:
        used = int(redemption.get("redeemed_quantity") or 0) + held_quantity
        if used >= int(quantity):
            return Failure("quantity_exceeded", f"{code} has no redemptions left")
    return None


def gift_balance(voucher: Mapping[str, Any]) -> int:
    """Current ``gift.balance`` (0 when absent)."""
    return int((voucher.get("gift") or {}).get("balance") or 0)


def check_gift(
    voucher: Mapping[str, Any],
    requested: int | None,
    order_amount: int | None,
    held_credits: int = 0,
) -> Failure | None:
    """Gift card amount checks: an order amount is required
    (``missing_amount``) and explicitly requested credits may not exceed the
    available balance (``gift_amount_exceeded``; available = balance minus
    credits held by other sessions).  A card with nothing available also fails
    with ``gift_amount_exceeded``."""
    code = voucher.get("code", "")
    if order_amount is None:
        return Failure("missing_amount", f"{code}: order amount is required for a gift card")
    if requested is not None and requested < 0:
        return Failure("invalid_amount", f"{code}: credits must not be negative")
    available = gift_balance(voucher) - held_credits
    if requested is not None and requested > available:
        return Failure("gift_amount_exceeded", f"{code}: requested {requested}, available {available}")
    if available <= 0:
        return Failure("gift_amount_exceeded", f"{code} has no balance left")
    return None
