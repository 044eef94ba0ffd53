"""What a failure of a request in flight becomes: a :class:`TransportError` that says whether
the request may have reached Voucherify, and names the failure's type only.

Used by :class:`.transport.Transport` (``_exchange``), which returns these errors rather than
raising them inside its ``except`` block, so that nothing chains to the frames below.
"""

from __future__ import annotations

import http.client

import requests
import urllib3
from urllib3.exceptions import NewConnectionError, ReadTimeoutError

from .errors import RequestTimeout, TransportError

#: Failures of a request in flight, mapped to TransportError. urllib3's own errors arrive
#: unwrapped when the body is read (``read_body`` reads it from urllib3 directly).
IN_FLIGHT_ERRORS = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
    ValueError,
)


def never_sent(exc: BaseException) -> bool:
    """True when the connection provably never opened, so the server saw nothing."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # MaxRetryError wraps the cause
    return isinstance(reason, NewConnectionError)


def transport_error(exc: BaseException, method: str, path: str, sent: bool) -> TransportError:
    """The error for a failure in flight; only its type is named (messages of the layers
    below may quote the request, e.g. http.client's "Invalid header value ...")."""
    if isinstance(exc, requests.Timeout | ReadTimeoutError):  # the latter: while reading the body
        kind = "connect" if isinstance(exc, requests.ConnectTimeout) else "read"
        return RequestTimeout(f"Voucherify {kind} timeout", method=method, path=path, request_sent=sent)
    reason = type(exc).__name__
    what = "unreachable" if isinstance(exc, requests.RequestException | OSError) else ("request failed")
    return TransportError(f"Voucherify {what}: {reason}", method=method, path=path, request_sent=sent)
