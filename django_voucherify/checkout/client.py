"""The client used by checkout: the shared one's connection pool with checkout's short timeout.

Checkout must never hold an order placement longer than ``CHECKOUT_TIMEOUT`` (plus the connect
timeout), while the shared client may be configured for patient background work. Sharing the
shared client's ``requests.Session`` keeps one pool (and lets the ``voucherify_sandbox`` pytest
fixture, which mounts the sandbox on that session, serve checkout too).
"""

from __future__ import annotations

import threading

from ..api.client import VoucherifyClient
from ..api.retry import RetryPolicy
from ..conf import settings as voucherify_settings

_lock = threading.Lock()
_cache: tuple[VoucherifyClient, VoucherifyClient] | None = None


def checkout_client() -> VoucherifyClient:
    """A client bound to the shared session with ``CHECKOUT_TIMEOUT`` as read timeout and as
    retry budget (rebuilt when the shared client is)."""
    global _cache
    from .. import get_client

    shared = get_client()
    cached = _cache
    if cached is not None and cached[0] is shared:
        return cached[1]
    with _lock:
        conf = voucherify_settings()
        base = shared.transport.retry
        checkout = VoucherifyClient.from_settings(
            session=shared.transport.session,
            read_timeout=conf.checkout_timeout,
            retry=RetryPolicy(
                max_retries=base.max_retries,
                budget=min(base.budget, conf.checkout_timeout),
                backoff_base=base.backoff_base,
                backoff_max=base.backoff_max,
            ),
        )
        _cache = (shared, checkout)
    return checkout
