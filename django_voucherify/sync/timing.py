"""How long one delivery may take, from the transport's settings; the lease must outlast it.

A sender holds its outbox row for ``SYNC_LEASE_SECONDS``; after that another sender may take the
row and send a newer state. If the first sender's request could still land after that, it would
overwrite the newer state in Voucherify while the row says ``synced``. So:

- :func:`longest_request` bounds one client call: ``MAX_RETRIES + 1`` attempts of at most
  ``CONNECT_TIMEOUT + READ_TIMEOUT`` each, separated by waits (backoff up to ``BACKOFF_MAX``, or
  what a 429's ``Retry-After`` asked for, which has no cap of its own). The transport starts no
  retry whose wait would end later than ``RETRY_BUDGET`` after the first attempt started, so the
  waits and all attempts but the last fit in the budget: the call ends at most ``RETRY_BUDGET +
  CONNECT_TIMEOUT + READ_TIMEOUT`` after it started (``CONNECT_TIMEOUT + READ_TIMEOUT`` without
  retries), which is never more than ``attempts * (connect + read) + retries * wait cap``.
- :func:`longest_send` is what one claim may spend sending: :data:`REQUESTS_PER_SEND` calls (an
  order update answered 404 is followed by a create). The system check ``voucherify.E012``
  refuses a lease that does not exceed it, and a sender checks before every call that the rest
  of its lease still exceeds :func:`longest_request` (else it does not send).

Pure functions of the merged settings dict: the checks call them before anything is validated.
"""

from __future__ import annotations

from typing import Any

#: Client calls one delivery may make for one claim (orders: update, then create after a 404).
REQUESTS_PER_SEND = 2


def _seconds(values: dict[str, Any], key: str) -> float | None:
    value = values.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return float(value)


def longest_request(values: dict[str, Any]) -> float | None:
    """Seconds one client call may take at most (None when a timing option is invalid)."""
    connect, read = _seconds(values, "CONNECT_TIMEOUT"), _seconds(values, "READ_TIMEOUT")
    budget, retries = _seconds(values, "RETRY_BUDGET"), values.get("MAX_RETRIES")
    if connect is None or read is None or budget is None:
        return None
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        return None
    attempt = connect + read
    return attempt + (budget if retries else 0.0)


def longest_send(values: dict[str, Any]) -> float | None:
    """Seconds one claim may spend in client calls (None when a timing option is invalid)."""
    one = longest_request(values)
    return None if one is None else REQUESTS_PER_SEND * one
