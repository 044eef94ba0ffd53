"""Voucherify's webhook signature: ``X-Voucherify-Signature`` is the hex HMAC-SHA256 of the
JSON body under the endpoint's secret (secret ``secretKey`` and body ``{"a":1}`` sign to
``a17d2ac2...3ed2``).

Voucherify's own SDKs check it over ``JSON.stringify`` of the parsed body, i.e. its compact
form. The raw body is tried first (what was signed, byte for byte); the compact
re-serialisation second, so a proxy that re-indents the JSON does not break verification.
Comparisons run in constant time, against every configured secret (rotation without downtime).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from typing import Any

from ..secret import Secret

HEADER = "X-Voucherify-Signature"
#: The header as Django's ``request.META`` names it.
META_KEY = "HTTP_X_VOUCHERIFY_SIGNATURE"


def sign(body: bytes, secret: str | Secret) -> str:
    """The signature Voucherify sends with ``body`` (hex HMAC-SHA256)."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def compact(parsed: Any) -> bytes:
    """``JSON.stringify(parsed)``: no spaces, non-ASCII characters kept as they are."""
    return json.dumps(parsed, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def may_be_reformatted(body: bytes) -> bool:
    """Whether ``body`` holds whitespace between tokens or escaped characters, i.e. may differ
    from the compact form Voucherify signed (a compact body fails on its raw bytes alone)."""
    return any(mark in body for mark in (b"\n", b"\r", b"\t", b": ", b", ", b"{ ", b"[ ", b"\\u"))


def verify(body: bytes, signature: str, secrets: Iterable[Secret], parsed: Any = None) -> bool:
    """Whether ``signature`` signs ``body`` (or, given ``parsed``, its compact form) under one
    of ``secrets``. Every secret and form is compared, in constant time each."""
    given = signature.strip().lower().encode("ascii", "replace")
    bodies = [body]
    if parsed is not None:
        try:
            other = compact(parsed)
        except (UnicodeEncodeError, RecursionError, ValueError):  # no compact form: raw only
            other = body
        if other != body:
            bodies.append(other)
    matched = False
    for secret in secrets:
        for candidate in bodies:
            # No early exit: the time taken does not tell which secret or form matched.
            matched |= hmac.compare_digest(sign(candidate, secret).encode("ascii"), given)
    return matched
