"""``VoucherifyClient``: one object per Voucherify project, grouping every endpoint.

Shops usually use the shared instance (``from django_voucherify import client``), built lazily
from ``settings.VOUCHERIFY``; several projects can each have their own explicit client.
"""

from __future__ import annotations

import threading
from typing import Any

from .resources.customers import Customers
from .resources.misc import AsyncActions, Exports, Validations
from .resources.orders import Orders
from .resources.redemptions import Redemptions
from .resources.vouchers import Vouchers
from .retry import RetryPolicy
from .transport import Transport

__all__ = ["VoucherifyClient", "default_client", "reset_default_client"]


class VoucherifyClient:
    """Every in-scope Voucherify endpoint, grouped as Voucherify groups them.

    ``client.vouchers``, ``client.redemptions``, ``client.customers``, ``client.orders``,
    ``client.async_actions``, ``client.validations``, ``client.exports``. Thread-safe: one
    pooled ``requests.Session`` shared by all threads. Keyword arguments not given here are
    the transport's (timeouts, retry policy, session, pool size...).
    """

    def __init__(self, app_id: str, secret_key: str, api_url: str = "https://api.voucherify.io",
                 **transport_options: Any) -> None:
        self.transport = Transport(app_id=app_id, secret_key=secret_key, api_url=api_url,
                                   **transport_options)
        self.vouchers = Vouchers(self.transport)
        self.redemptions = Redemptions(self.transport)
        self.customers = Customers(self.transport)
        self.orders = Orders(self.transport)
        self.async_actions = AsyncActions(self.transport)
        self.validations = Validations(self.transport)
        self.exports = Exports(self.transport)

    @classmethod
    def from_settings(cls, **overrides: Any) -> VoucherifyClient:
        """A new client configured by ``settings.VOUCHERIFY`` (validated; see ``checks``)."""
        from ..conf import get_settings

        conf = get_settings()
        options: dict[str, Any] = {
            "download_url": conf.download_url,
            "connect_timeout": conf.connect_timeout,
            "read_timeout": conf.read_timeout,
            "retry": RetryPolicy(max_retries=conf.max_retries, budget=conf.retry_budget,
                                 backoff_base=conf.backoff_base, backoff_max=conf.backoff_max),
            "pool_size": conf.pool_size,
            "trust_env": conf.trust_env,
            "proxies": conf.proxies,
            "verify": conf.verify,
            "log_bodies": conf.log_bodies,
        }
        options.update(overrides)
        return cls(conf.app_id, conf.secret_key, conf.api_url, **options)

    def close(self) -> None:
        """Close pooled connections."""
        self.transport.close()

    def __enter__(self) -> VoucherifyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<VoucherifyClient {self.transport!r}>"


_default: VoucherifyClient | None = None
_default_lock = threading.Lock()


def default_client() -> VoucherifyClient:
    """The per-process shared client, built once on first use (double-checked locking)."""
    global _default
    client = _default
    if client is None:
        with _default_lock:
            client = _default
            if client is None:
                client = _default = VoucherifyClient.from_settings()
    return client


def reset_default_client() -> None:
    """Forget the shared client (its connections are closed); the next use rebuilds it."""
    global _default
    with _default_lock:
        old, _default = _default, None
    if old is not None:
        old.close()
