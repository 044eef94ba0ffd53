"""The service layer: an HTTP client for Voucherify that knows nothing of Django models."""

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
