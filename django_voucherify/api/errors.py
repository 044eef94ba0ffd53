"""One exception hierarchy for everything the client can raise.

``VoucherifyError`` (a :class:`~django_voucherify.errors.DjangoVoucherifyError`)
  ``TransportError`` - no usable HTTP response (DNS, refused connection, reset, timeout)
    ``RequestTimeout``
    ``InvalidResponseError`` - a 2xx whose body is not the expected JSON object (outcome unknown)
  ``APIError`` - Voucherify answered with an error status; carries the parsed error body
    ``BadRequestError`` (400), ``UnauthorizedError`` (401), ``ForbiddenError`` (403),
    ``NotFoundError`` (404), ``ConflictError`` (409, ``duplicate_found``),
    ``PayloadTooLargeError`` (413), ``RateLimitedError`` (429), ``ServerError`` (5xx)

Error bodies follow the spec's ``Error`` schema: ``code``, ``key``, ``message``, ``details``,
``request_id``, ``resource_id``, ``resource_type`` and ``error.message`` (the message a shop wrote
in a validation rule). Nothing here ever holds the app token: only method, path and the body.
"""

from __future__ import annotations

from typing import Any

from ..errors import DjangoVoucherifyError


class VoucherifyError(DjangoVoucherifyError):
    """Base class of every error the client raises (Voucherify's answers and failed calls)."""


class TransportError(VoucherifyError):
    """The request got no usable HTTP response.

    ``request_sent`` is False only when the connection provably never opened (refused, DNS
    failure, connect timeout), i.e. the server cannot have acted on it. When it is True the
    outcome is unknown: the request may have been applied.
    """

    def __init__(self, message: str, *, method: str = "", path: str = "", request_sent: bool = True) -> None:
        super().__init__(message)
        self.method = method
        self.path = path
        self.request_sent = request_sent

    def __str__(self) -> str:
        where = f" ({self.method} {self.path})" if self.method else ""
        return f"{self.args[0]}{where}"


class RequestTimeout(TransportError):
    """Connecting or reading took longer than the configured timeout."""


class InvalidResponseError(TransportError):
    """A 2xx answer whose body is not the JSON object the endpoint returns.

    HTML from a proxy or captive portal, a body cut short, a JSON array or ``null``: not
    Voucherify's answer, yet the request went through and may have been applied, so the outcome
    is unknown (``request_sent`` is always True), as after a read timeout. Carries ``status``,
    ``request_id`` (``X-Request-Id``, if any), ``content_type`` and ``snippet``: the start of the
    body, printable, at most 200 characters, with the app token masked.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        method: str = "",
        path: str = "",
        request_id: str | None = None,
        content_type: str = "",
        snippet: str = "",
    ) -> None:
        super().__init__(message, method=method, path=path, request_sent=True)
        self.status = status
        self.request_id = request_id
        self.content_type = content_type
        self.snippet = snippet

    def __str__(self) -> str:
        text = super().__str__()
        if self.content_type:
            text += f" [{self.content_type}]"
        if self.request_id:
            text += f" request_id={self.request_id}"
        return f"{text}: {self.snippet!r}" if self.snippet else text

    def __repr__(self) -> str:
        return f"InvalidResponseError(status={self.status}, request_id={self.request_id!r})"


class APIError(VoucherifyError):
    """Voucherify answered with an HTTP error status."""

    def __init__(
        self,
        status: int,
        body: dict[str, Any] | None = None,
        *,
        method: str = "",
        path: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        body = body if isinstance(body, dict) else {}
        self.status = status
        self.body = body
        self.method = method
        self.path = path
        self.code: int | None = body.get("code") if isinstance(body.get("code"), int) else status
        # Text fields are str or None whatever the body holds (a gateway's JSON is not the spec's
        # Error): callers slice, log and store them.
        self.key: str | None = _text(body.get("key"))
        self.message: str | None = _text(body.get("message"))
        self.details: str | None = _text(body.get("details"))
        self.request_id: str | None = _text(body.get("request_id")) or (headers or {}).get("x-request-id")
        self.resource_id: str | None = _text(body.get("resource_id"))
        self.resource_type: str | None = _text(body.get("resource_type"))
        error = body.get("error")
        #: The custom message a shop configured in a validation rule, if any.
        self.error_message: str | None = _text(error.get("message")) if isinstance(error, dict) else None
        super().__init__(self._summary())

    def _summary(self) -> str:
        parts = [f"{self.status}"]
        if self.key:
            parts.append(self.key)
        text = " ".join(parts)
        if self.message:
            text += f": {self.message}"
        if self.details:
            text += f" ({self.details})"
        if self.method:
            text += f" [{self.method} {self.path}]"
        if self.request_id:
            text += f" request_id={self.request_id}"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status}, key={self.key!r}, request_id={self.request_id!r})"
        )


def _text(value: Any) -> str | None:
    """``value`` when it is a non-empty str, else None (shown bounded in the message)."""
    return value if isinstance(value, str) and value else None


class BadRequestError(APIError):
    """400: invalid payload, or a business rule refused it (``voucher_disabled``...)."""


class UnauthorizedError(APIError):
    """401: the app id / secret key pair was refused."""


class ForbiddenError(APIError):
    """403: the keys are valid but may not use this endpoint."""


class NotFoundError(APIError):
    """404: the voucher, customer, order... does not exist."""


class ConflictError(APIError):
    """409: a resource with this identifier exists (``duplicate_found``)."""


class PayloadTooLargeError(APIError):
    """413: the body is over Voucherify's 10 MB limit; split it."""


class RateLimitedError(APIError):
    """429: too many requests. ``retry_after`` is the delay Voucherify asked for, in seconds."""

    def __init__(
        self,
        status: int,
        body: dict[str, Any] | None = None,
        *,
        retry_after: float | None = None,
        **kwargs: Any,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(status, body, **kwargs)


class ServerError(APIError):
    """5xx: Voucherify failed; safe requests are retried before this is raised."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    429: RateLimitedError,
}


def error_class_for(status: int) -> type[APIError]:
    """The most specific :class:`APIError` subclass for an HTTP status."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, APIError)


#: Errors saying Voucherify cannot be reached now (no answer, an answer that is not JSON, 429,
#: 5xx): a run of calls a person waits on (an admin action) stops at the first one.
UNREACHABLE: tuple[type[VoucherifyError], ...] = (TransportError, RateLimitedError, ServerError)


def outcome_unknown(exc: BaseException) -> bool:
    """Whether a failed call may have been applied all the same: no usable answer once the
    request had left (a read timeout, a dropped connection, a body that is not Voucherify's) or
    a 5xx. Only a connection that provably never opened, or a 4xx, says nothing happened."""
    if isinstance(exc, TransportError):
        return exc.request_sent
    return isinstance(exc, APIError) and exc.status >= 500
