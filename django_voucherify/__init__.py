"""Voucherify for Django shops.

``from django_voucherify import client`` gives the per-process client configured by
``settings.VOUCHERIFY``; it is built on first use, so importing this package costs nothing.
``except DjangoVoucherifyError`` catches every error the app raises on purpose (docs/errors.md).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .errors import DjangoVoucherifyError

__version__ = "0.1.0"
__all__ = ["DjangoVoucherifyError", "__version__", "client", "get_client", "reset_client"]

# A library does not decide where its logs go; without this, Python's last-resort handler would
# print retry warnings to stderr in scripts that configured no logging.
logging.getLogger("django_voucherify").addHandler(logging.NullHandler())

if TYPE_CHECKING:
    from .api.client import VoucherifyClient


def get_client() -> VoucherifyClient:
    """The shared, lazily built client for ``settings.VOUCHERIFY`` (thread-safe)."""
    from .api.client import default_client

    return default_client()


def reset_client() -> None:
    """Drop the shared client; the next use builds a new one from the current settings."""
    from .api.client import reset_default_client

    reset_default_client()


class _LazyClient:
    """Stands in for the shared client: every attribute is looked up on :func:`get_client`.

    A proxy (rather than a client built at import) lets settings change in tests
    (``override_settings``) and keeps ``import django_voucherify`` free of work.
    """

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        return getattr(get_client(), name)

    def __repr__(self) -> str:
        return "<lazy django_voucherify client>"


client: VoucherifyClient = _LazyClient()  # type: ignore[assignment]
