"""Voucherify-shaped errors raised by sandbox handlers.

Contract: a handler signals any non-2xx outcome by raising :class:`SandboxError`; the WSGI app
renders it as the spec's ``Error`` object (``#/components/schemas/Error``)::

    {"code", "key", "message", "details", "request_id", "resource_id", "resource_type"}

plus ``"error": {"message": ...}`` when ``error_message`` is set (Voucherify only sends that
for validation-rule messages). ``request_id`` is filled in by the app, so handlers never need it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class SandboxError(Exception):
    """An API error with Voucherify's wire shape. ``headers`` are added to the HTTP response."""

    def __init__(
        self,
        status: int,
        key: str,
        message: str,
        details: str | None = None,
        resource_id: str | None = None,
        resource_type: str | None = None,
        error_message: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {key}: {message}")
        self.status = status
        self.key = key
        self.message = message
        self.details = details
        self.resource_id = resource_id
        self.resource_type = resource_type
        self.error_message = error_message
        self.headers = dict(headers or {})

    def to_body(self, request_id: str) -> dict[str, Any]:
        """Render the spec's Error object. Absent optional fields are omitted, as Voucherify does."""
        body: dict[str, Any] = {"code": self.status, "key": self.key, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        body["request_id"] = request_id
        if self.resource_id is not None:
            body["resource_id"] = self.resource_id
        if self.resource_type is not None:
            body["resource_type"] = self.resource_type
        if self.error_message is not None:
            body["error"] = {"message": self.error_message}
        return body


def not_found(resource_type: str, resource_id: str) -> SandboxError:
    """404 ``not_found`` for a missing resource, worded like Voucherify."""
    return SandboxError(
        404,
        "not_found",
        "Resource not found",
        f"Cannot find {resource_type} with id {resource_id}",
        resource_id=resource_id,
        resource_type=resource_type,
    )


def duplicate_found(resource_type: str, resource_id: str) -> SandboxError:
    """409 ``duplicate_found`` (e.g. creating a voucher whose code exists)."""
    return SandboxError(
        409,
        "duplicate_found",
        "Duplicated resource found",
        f"A {resource_type} with given id already exists",
        resource_id=resource_id,
        resource_type=resource_type,
    )


def invalid_payload(details: str) -> SandboxError:
    """400 ``invalid_payload``: malformed JSON or a field that breaks the request schema."""
    return SandboxError(400, "invalid_payload", "Invalid payload", details)


def invalid_query_params(details: str) -> SandboxError:
    """400 ``invalid_query_params``: a query parameter out of range, malformed or misshapen."""
    return SandboxError(400, "invalid_query_params", "Invalid query params", details)


def bad_request(key: str, message: str, details: str | None = None, **kw: Any) -> SandboxError:
    """400 with a business key (``voucher_disabled``, ``quantity_exceeded``...)."""
    return SandboxError(400, key, message, details, **kw)


def unauthorized() -> SandboxError:
    """401 for a wrong or missing ``X-App-Id`` / ``X-App-Token``."""
    return SandboxError(401, "unauthorized", "Unauthorized", "Invalid credentials")


def payload_too_large(limit: int) -> SandboxError:
    """413 for request bodies above the limit (10 MB, as Voucherify documents)."""
    return SandboxError(413, "payload_too_large", "Payload too large", f"Request body exceeds {limit} bytes")


def method_not_allowed(method: str, path: str, allowed: Iterable[str]) -> SandboxError:
    """405 when the path exists but not for that method; ``Allow`` lists the path's methods,
    as HTTP requires of a 405."""
    return SandboxError(
        405,
        "method_not_allowed",
        "Method not allowed",
        f"{method} {path}",
        headers={"Allow": ", ".join(sorted(allowed))},
    )


def route_not_found(path: str) -> SandboxError:
    """404 for a path no handler serves."""
    return SandboxError(404, "not_found", "Resource not found", f"No route for {path}")


# Business keys from the issue, with Voucherify's messages; S2's engine raises these.
BUSINESS_MESSAGES: dict[str, str] = {
    "voucher_disabled": "voucher is disabled",
    "voucher_expired": "voucher expired",
    "voucher_not_active": "voucher not active",
    "quantity_exceeded": "quantity exceeded",
    "gift_amount_exceeded": "gift amount exceeded",
    "missing_amount": "missing amount",
    "already_rolled_back": "already rolled back",
    "invalid_redemption_parent": "Invalid redemption parent",
    "not_enough_balance": "Not enough balance",
    "loyalty_card_without_holder": "Loyalty card not assigned to a holder",
}


def business(key: str, details: str | None = None, **kw: Any) -> SandboxError:
    """400 with one of the predefined business keys and its Voucherify message."""
    return SandboxError(400, key, BUSINESS_MESSAGES.get(key, key.replace("_", " ")), details, **kw)
