"""Create and update vouchers, adjust card balances, and read a voucher's activity.

These raise :class:`~django_voucherify.api.errors.VoucherifyError` unchanged so a form can turn
it into a form error; the mirror is written only from Voucherify's answer.

Balance changes are not idempotent in Voucherify (``update_balance``'s docstring): the admin
issues one ``source_id`` per rendered form (:func:`new_balance_source_id`), and
:func:`adjust_balance` first looks for a transaction with that ``source_id``, so a form sent
twice (a double click, a resubmit after an unclear failure) credits the card once. That look-up
cannot see a change Voucherify is still applying (the interactive client gave up first): a send
whose outcome is unknown is remembered for :data:`IN_FLIGHT_SECONDS` in the cache, and a resend
within them is refused (:class:`BalanceMayBeInFlight`) rather than sent a second time.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from .. import validation
from ..api.errors import TransportError, VoucherifyError, outcome_unknown
from ..errors import DjangoVoucherifyError
from ..models import Voucher
from ..models.vouchers import VoucherType
from .refresh import refresh_one
from .results import error_message

logger = logging.getLogger("django_voucherify.vouchers")

#: How many transactions and redemptions the change page shows.
ACTIVITY_LIMIT = 20


def _client(client: Any) -> Any:
    if client is None:
        from .. import client as shared_client

        return shared_client
    return client


def _save_from(voucher: Voucher, data: dict[str, Any]) -> Voucher:
    voucher.apply_voucherify(data)
    voucher.refreshed_at = timezone.now()
    voucher.save()
    return voucher


def create(voucher: Voucher, *, include_active: bool = True, client: Any = None) -> Voucher:
    """Create ``voucher`` (an unsaved mirror filled by the form) in Voucherify, then save it.

    Raises :class:`~django_voucherify.validation.InvalidInput` (nothing sent) for a code or
    metadata the shared validator refuses."""
    validation.check(validation.code_problem(voucher.code))
    _check_fields(voucher)
    body = voucher.to_voucherify(include_active=include_active)
    data = _client(client).vouchers.create(voucher.code, body)
    return _save_from(voucher, dict(data))


def update(voucher: Voucher, *, include_active: bool = True, client: Any = None) -> Voucher:
    """Send the editable fields of ``voucher`` (``PUT``), then save it as Voucherify answered."""
    _check_fields(voucher)
    body = voucher.to_voucherify_update(include_active=include_active)
    data = _client(client).vouchers.update(voucher.code, body)
    return _save_from(voucher, dict(data))


def _check_fields(voucher: Voucher) -> None:
    validation.check(validation.metadata_problem(voucher.metadata))
    validation.check(validation.text_problem([voucher.category, voucher.additional_info]))


#: ``admin-<unix seconds when the form was rendered>-<random hex>``.
SOURCE_ID_PATTERN = re.compile(r"^admin-(\d{1,12})-[0-9a-f]{32}$")
#: How far Voucherify's clock may be behind ours when looking for an earlier send of a form.
CLOCK_SKEW = timedelta(minutes=10)


class BalanceAlreadyApplied(DjangoVoucherifyError):
    """Voucherify already holds a transaction with this form's ``source_id``: nothing was sent."""

    def __init__(self, transaction: dict[str, Any]) -> None:
        super().__init__(f"balance change {transaction.get('source_id')} already applied")
        self.transaction = transaction


class BalanceMayBeInFlight(DjangoVoucherifyError):
    """A send of this form is under way, or its outcome is unknown (no answer, a 5xx) since less
    than :data:`IN_FLIGHT_SECONDS` and Voucherify lists no transaction for it yet: nothing was sent
    (Voucherify may still be applying the first one; a second send would credit twice)."""

    def __init__(self, source_id: str) -> None:
        super().__init__(f"balance change {source_id} may still be in flight; not sent again")
        self.source_id = source_id


class BalanceGuardUnavailable(DjangoVoucherifyError):
    """The cache that remembers sends under way (``CACHES["default"]``) cannot be reached, so a
    second send of this form could not be ruled out: nothing was sent."""

    def __init__(self, source_id: str) -> None:
        super().__init__(
            f"balance change {source_id} not sent: the cache guarding against a double send is down"
        )
        self.source_id = source_id


#: How long a balance send without a usable answer is taken to be possibly still applied by
#: Voucherify (its request outlives our timeout): a resend of that form within it is refused,
#: after it the transaction look-up decides. The interactive timeout (CHECKOUT_TIMEOUT, seconds)
#: is far below it. Across web processes this needs a shared cache (``CACHES["default"]``), as
#: the admin's one-time form tokens do (admin/submit_once.py).
IN_FLIGHT_SECONDS = 120


def _in_flight_key(source_id: str) -> str:
    return f"django_voucherify:balance-in-flight:{source_id}"


def new_balance_source_id() -> str:
    """The ``source_id`` of one balance form, issued when the form is rendered."""
    return f"admin-{int(time.time())}-{uuid.uuid4().hex}"


def find_balance_transaction(code: str, source_id: str, *, client: Any = None) -> dict[str, Any] | None:
    """The card's transaction carrying ``source_id``, newest first, looking back to the moment
    the form was issued (minus :data:`CLOCK_SKEW`) rather than through the whole history."""
    match = SOURCE_ID_PATTERN.match(source_id)
    if match is None:
        raise ValueError(f"{source_id!r} is not a balance form's source_id")
    horizon = datetime.fromtimestamp(int(match.group(1)), tz=UTC) - CLOCK_SKEW
    for transaction in _client(client).vouchers.iterate_transactions(code, order="-id"):
        if transaction.get("source_id") == source_id:
            return dict(transaction)
        created = parse_datetime(str(transaction.get("created_at") or ""))
        if created is not None and created < horizon:
            return None
    return None


def adjust_balance(
    voucher: Voucher, amount: int, *, source_id: str, reason: str = "", client: Any = None
) -> dict[str, Any]:
    """Add (``amount`` > 0) or remove (< 0) gift credits or loyalty points; returns Voucherify's
    balance answer, which alone says whether the change happened.

    Raises :class:`BalanceAlreadyApplied` (sending nothing) when a transaction with
    ``source_id`` exists, and :class:`BalanceMayBeInFlight` (sending nothing) when none does yet
    but a send of this ``source_id`` is under way or went unanswered less than
    :data:`IN_FLIGHT_SECONDS` ago. Once Voucherify has answered, the mirror's balance is set from that
    answer and the card re-read best-effort: a failing re-read is logged, never reported as a
    failed adjustment (which would invite a second credit).
    """
    if voucher.type == VoucherType.DISCOUNT:
        raise ValueError("Only gift and loyalty cards have a balance.")
    api = _client(client)
    earlier = find_balance_transaction(voucher.code, source_id, client=api)
    if earlier is not None:
        raise BalanceAlreadyApplied(earlier)
    # Claimed atomically before the call: a second send of this form (a double click, or the
    # resend after a timeout while the first is still being applied) is refused, not sent.
    key = _in_flight_key(source_id)
    try:
        claimed = cache.add(key, True, IN_FLIGHT_SECONDS)
    except Exception as exc:  # the cache down: fail closed, money is at stake (never a 500 page)
        raise BalanceGuardUnavailable(source_id) from exc
    if not claimed:
        raise BalanceMayBeInFlight(source_id)
    try:
        balance = dict(
            api.vouchers.update_balance(voucher.code, amount, reason=reason or None, source_id=source_id)
        )
    except Exception as exc:
        if not outcome_unknown(exc):  # refused, or never left: a resend is a fresh try
            with contextlib.suppress(Exception):  # a cache gone meanwhile: the claim expires
                cache.delete(key)
        raise
    _mirror_balance(voucher, balance)
    try:
        refresh_one(voucher, client=api)
    except VoucherifyError as exc:
        logger.warning(
            "Balance of %s changed, but re-reading the voucher failed: %s (request_id=%s)",
            voucher.code,
            exc,
            getattr(exc, "request_id", None),
        )
    return balance


def _mirror_balance(voucher: Voucher, balance: dict[str, Any]) -> None:
    """Put the new balance from ``update_balance``'s answer on the mirror (no other call)."""
    value = balance.get("balance")
    if not isinstance(value, int) or isinstance(value, bool):
        return
    field_name = "gift_balance" if voucher.type == VoucherType.GIFT else "loyalty_balance"
    kept = getattr(voucher, field_name)
    setattr(voucher, field_name, value)
    if validation.mirror_problem(voucher):  # e.g. over the column's range: the change is done in
        setattr(voucher, field_name, kept)  # Voucherify; refresh_one flags the mirror, no 500 page
        return
    Voucher.objects.filter(pk=voucher.pk).update(**{field_name: value})


@dataclass
class Activity:
    """What the change page shows below the form; an error instead of a 500 page."""

    transactions: list[dict[str, Any]] = field(default_factory=list)
    redemptions: list[dict[str, Any]] = field(default_factory=list)
    redeemed_quantity: int | None = None
    errors: list[str] = field(default_factory=list)


def activity(voucher: Voucher, *, client: Any = None) -> Activity:
    """The latest transactions (gift and loyalty cards) and redemptions of ``voucher``.

    Voucherify not reached for the first look-up (a timeout, a reset): the second is not
    tried, so a person waiting on the page waits for one timeout, not two."""
    api = _client(client)
    result = Activity()
    if voucher.type != VoucherType.DISCOUNT:
        try:
            page = api.vouchers.list_transactions(voucher.code, limit=ACTIVITY_LIMIT)
            result.transactions = list(page.get("data") or [])
        except TransportError as exc:
            result.errors.append(error_message(exc))
            return result
        except VoucherifyError as exc:
            result.errors.append(error_message(exc))
    try:
        redemption = api.redemptions.for_voucher(voucher.code)
        result.redemptions = list(redemption.get("redemption_entries") or [])[:ACTIVITY_LIMIT]
        result.redeemed_quantity = redemption.get("redeemed_quantity")
    except VoucherifyError as exc:
        result.errors.append(error_message(exc))
    return result
