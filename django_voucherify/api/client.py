"""``VoucherifyClient``: one object per Voucherify project, grouping every endpoint.

Shops usually use the shared instance (``from django_voucherify import client``), built lazily
from ``settings.VOUCHERIFY``; several projects can each have their own explicit client.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from ..secret import Secret
from .resources.campaigns import Campaigns
from .resources.categories import Categories
from .resources.customers import Customers
from .resources.distributions import Events, Publications
from .resources.misc import AsyncActions, Exports, Validations
from .resources.orders import Orders
from .resources.products import Products
from .resources.promotions import Promotions
from .resources.qualifications import Qualifications
from .resources.redemptions import Redemptions
from .resources.validation_rules import ValidationRules
from .resources.vouchers import Vouchers
from .retry import RetryPolicy
from .transport import Transport

__all__ = [
    "VoucherifyClient",
    "add_client_hook",
    "default_client",
    "remove_client_hook",
    "reset_default_client",
]

#: Called with every client built (e.g. the sandbox's pytest fixture mounts itself on clients
#: created during a test, the shared one and any explicit ones alike).
_client_hooks: list[Callable[[VoucherifyClient], None]] = []


def add_client_hook(hook: Callable[[VoucherifyClient], None]) -> None:
    """Run ``hook(client)`` on every :class:`VoucherifyClient` built from now on."""
    _client_hooks.append(hook)


def remove_client_hook(hook: Callable[[VoucherifyClient], None]) -> None:
    """Stop running ``hook`` on new clients (no error if it was not registered)."""
    if hook in _client_hooks:
        _client_hooks.remove(hook)


class VoucherifyClient:
    """Every in-scope Voucherify endpoint, grouped as Voucherify groups them.

    ``client.vouchers``, ``client.redemptions``, ``client.customers``, ``client.orders``,
    ``client.async_actions``, ``client.validations``, ``client.exports``, and the offers:
    ``client.qualifications``, ``client.campaigns``, ``client.promotions`` (tiers and
    stacks), ``client.validation_rules`` (and assignments), ``client.products`` (and SKUs),
    ``client.categories``, ``client.publications``, ``client.events``. Thread-safe: one
    pooled ``requests.Session`` shared by all threads. Keyword arguments not given here are
    the transport's (timeouts, retry policy, session, pool size...).
    """

    def __init__(
        self,
        app_id: str,
        secret_key: str | Secret,
        api_url: str = "https://api.voucherify.io",
        **transport_options: Any,
    ) -> None:
        secret_key = Secret.wrap(secret_key)  # this frame keeps no plain token either
        self.transport = Transport(app_id=app_id, secret_key=secret_key, api_url=api_url, **transport_options)
        self.vouchers = Vouchers(self.transport)
        self.redemptions = Redemptions(self.transport)
        self.customers = Customers(self.transport)
        self.orders = Orders(self.transport)
        self.async_actions = AsyncActions(self.transport)
        self.validations = Validations(self.transport)
        self.exports = Exports(self.transport)
        self.qualifications = Qualifications(self.transport)
        self.campaigns = Campaigns(self.transport)
        self.promotions = Promotions(self.transport)
        self.validation_rules = ValidationRules(self.transport)
        self.products = Products(self.transport)
        self.categories = Categories(self.transport)
        self.publications = Publications(self.transport)
        self.events = Events(self.transport)
        for hook in list(_client_hooks):
            hook(self)

    @classmethod
    def from_settings(cls, **overrides: Any) -> VoucherifyClient:
        """A new client configured by ``settings.VOUCHERIFY`` (validated; see ``checks``)."""
        from ..conf import get_settings

        conf = get_settings()
        options: dict[str, Any] = {
            "download_url": conf.download_url,
            "connect_timeout": conf.connect_timeout,
            "read_timeout": conf.read_timeout,
            "retry": RetryPolicy(
                max_retries=conf.max_retries,
                budget=conf.retry_budget,
                backoff_base=conf.backoff_base,
                backoff_max=conf.backoff_max,
            ),
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


def _forget_default_after_fork() -> None:
    # A forked child (Celery prefork, gunicorn) must not share the parent's pooled sockets; it
    # builds its own client on first use. The parent's connections are left for the parent.
    global _default, _default_lock
    _default = None
    _default_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_default_after_fork)


def reset_default_client() -> None:
    """Forget the shared client (its connections are closed); the next use rebuilds it."""
    global _default
    with _default_lock:
        old, _default = _default, None
    if old is not None:
        old.close()
