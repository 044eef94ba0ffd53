"""Reading response bodies: a 2xx answer must be the JSON object the endpoint returns.

A proxy, a CDN or a captive portal may answer 200 with HTML; a connection closed early leaves a
truncated body; a broken gateway may send a JSON array. None of these is Voucherify's answer,
yet the request got that far and may have been applied: :class:`InvalidResponseError` says so
(outcome unknown), never a raw ``JSONDecodeError``.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any, cast

import requests
import urllib3

from ..secret import Secret
from .errors import InvalidResponseError
from .redaction import redact, snippet

#: Methods whose success may come without a body (Voucherify answers deletes with 204).
_BODYLESS_METHODS = frozenset({"DELETE", "HEAD"})


def read_body(response: requests.Response) -> None:
    """Read the whole body of ``response`` now, in one ``read()`` from urllib3.

    ``Response.content`` would read it in 10 KB chunks through a generator and join them: for a
    list page of 100 vouchers (~200 KB) that is some twenty reads and copies, about a quarter
    of the client's CPU over urllib3's own ``response.data``. One read gives the same bytes
    (Content-Length, chunked framing and gzip are handled by urllib3 alike, a body shorter than
    its Content-Length still raises) and leaves ``response.content`` and ``.json()`` working.
    urllib3's errors arrive unwrapped (not as requests' ``ChunkedEncodingError``...): the
    transport maps both families (:mod:`.transport_failures`). Responses that are not urllib3's
    (a test adapter's) are read the usual way.
    """
    raw = response.raw
    unread = cast(object, response._content) is False  # requests' sentinel (its stubs: bytes | None)
    if isinstance(raw, urllib3.HTTPResponse) and unread:
        response._content = raw.read(decode_content=True)
        response._content_consumed = True  # type: ignore[attr-defined]  # undocumented, as is _content
    else:
        response.content  # noqa: B018


def load_json(content: bytes) -> Any:
    """``json.loads`` for a body; raises ``ValueError`` for anything unreadable (deep nesting
    included)."""
    try:
        return json.loads(content)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def success_body(response: requests.Response, method: str, path: str, secret: Secret) -> Any:
    """The JSON object of a 2xx answer, ``None`` for a 204 (or a bodiless delete), or an
    :class:`InvalidResponseError` (returned, so the caller raises it outside any ``except``)."""
    content = response.content
    if not 200 <= response.status_code < 300:  # a redirect (never followed) or 1xx: not an answer
        return _invalid("a status that is not a success", response, content, method, path, secret)
    if response.status_code == 204 or not content:
        # Only a delete answers without a body (204, per the spec); an empty answer to anything
        # else is not Voucherify's, and the caller would otherwise get None for an object.
        if method in _BODYLESS_METHODS:
            return None
        return _invalid("an empty body", response, content, method, path, secret)
    content_type = response.headers.get("Content-Type", "")
    if content_type and "json" not in content_type.lower():
        return _invalid("a body that is not JSON", response, content, method, path, secret)
    try:
        body = load_json(content)
    except ValueError:
        return _invalid("a body that is not valid JSON (truncated?)", response, content, method, path, secret)
    if not isinstance(body, dict):
        return _invalid(
            f"a JSON {type(body).__name__} where an object was expected",
            response,
            content,
            method,
            path,
            secret,
        )
    return body


def error_body(response: requests.Response, secret: Secret) -> dict[str, Any]:
    """The parsed error of a 4xx/5xx answer; a non-JSON one becomes ``{"message": <start>}``.
    The token is masked wherever it appears (gateways quote request headers)."""
    content = response.content
    body: Any = None
    with contextlib.suppress(ValueError):
        body = load_json(content) if content else None
    if not isinstance(body, dict) or _deeper_than(body, MAX_ERROR_DEPTH):
        # Voucherify's errors are flat; a gateway's deep JSON would break whatever logs,
        # pretty-prints or stores the error (RecursionError), so it is kept as text.
        body = {"message": snippet(content, secret, 500) if content else response.reason}
    return redact(body, secret)  # type: ignore[no-any-return]


#: Nesting allowed in an error body (the spec's Error is two levels deep).
MAX_ERROR_DEPTH = 32


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` nests dicts/lists more than ``limit`` levels deep (iteratively)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return False


def _invalid(
    what: str, response: requests.Response, content: bytes, method: str, path: str, secret: Secret
) -> InvalidResponseError:
    return InvalidResponseError(
        f"Voucherify answered {response.status_code} with {what}",
        status=response.status_code,
        method=method,
        path=path,
        request_id=response.headers.get("X-Request-Id") or None,
        content_type=response.headers.get("Content-Type", ""),
        snippet=snippet(content, secret),
    )
