"""The service layer: an HTTP client for Voucherify that knows nothing of Django models.

The names below are loaded on first use (PEP 562): importing ``django_voucherify.api.errors``,
which every layer does for its ``except`` clauses, must not import the package's client and with
it ``requests`` and ``urllib3`` (tens of milliseconds of start-up for a web process that may
never call Voucherify). ``from django_voucherify.api import VoucherifyClient`` still works, and
asking for any of these names imports the client, which also fills :data:`ENDPOINTS`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import VoucherifyClient
    from .endpoints import ENDPOINTS, Endpoint
    from .errors import (
        APIError,
        BadRequestError,
        ConflictError,
        ForbiddenError,
        InvalidResponseError,
        NotFoundError,
        PayloadTooLargeError,
        RateLimitedError,
        RequestTimeout,
        ServerError,
        TransportError,
        UnauthorizedError,
        VoucherifyError,
    )
    from .paging import PaginationError, PaginationLimitError, PaginationStalledError
    from .retry import RetryPolicy

#: Public name -> the submodule that defines it.
_HOME = {
    "VoucherifyClient": "client",
    "ENDPOINTS": "endpoints",
    "Endpoint": "endpoints",
    "PaginationError": "paging",
    "PaginationLimitError": "paging",
    "PaginationStalledError": "paging",
    "RetryPolicy": "retry",
    **dict.fromkeys(
        [
            "APIError",
            "BadRequestError",
            "ConflictError",
            "ForbiddenError",
            "InvalidResponseError",
            "NotFoundError",
            "PayloadTooLargeError",
            "RateLimitedError",
            "RequestTimeout",
            "ServerError",
            "TransportError",
            "UnauthorizedError",
            "VoucherifyError",
        ],
        "errors",
    ),
}

__all__ = [
    "ENDPOINTS",
    "APIError",
    "BadRequestError",
    "ConflictError",
    "Endpoint",
    "ForbiddenError",
    "InvalidResponseError",
    "NotFoundError",
    "PaginationError",
    "PaginationLimitError",
    "PaginationStalledError",
    "PayloadTooLargeError",
    "RateLimitedError",
    "RequestTimeout",
    "RetryPolicy",
    "ServerError",
    "TransportError",
    "UnauthorizedError",
    "VoucherifyClient",
    "VoucherifyError",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import_module(f"{__name__}.client")  # registers every endpoint (ENDPOINTS is filled by it)
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
