"""Outcome of one Voucherify call on one voucher, with a message a shop's staff can read."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from .. import background
from ..api.errors import (
    APIError,
    RateLimitedError,
    ServerError,
    TransportError,
    VoucherifyError,
    outcome_unknown,
)


@dataclass(frozen=True)
class VoucherResult:
    """``ok`` or the Voucherify error of one voucher (``key`` and ``request_id`` for support)."""

    code: str
    ok: bool
    message: str = ""
    key: str = ""
    request_id: str = ""
    retry_after: float | None = None
    #: Voucherify did not answer or answered 5xx: calls right after this one would wait the same.
    unreachable: bool = False
    #: Not Voucherify's answer (a bug on an odd answer, a database error): already logged.
    unexpected: bool = False

    @property
    def rate_limited(self) -> bool:
        return self.retry_after is not None


def error_message(exc: VoucherifyError) -> str:
    """A translated sentence for ``exc``, keyed by Voucherify's error ``key``."""
    if isinstance(exc, TransportError):
        return _("Voucherify could not be reached (%(error)s).") % {"error": exc}
    if not isinstance(exc, APIError):
        return str(exc)
    known = {
        "not_found": _("Voucherify has no such voucher (deleted meanwhile?)."),
        "duplicate_found": _("A voucher with this code already exists in Voucherify."),
        "not_enough_balance": _("The card does not hold that much balance."),
        "invalid_payload": _("Voucherify refused the data: %(details)s"),
        "too_many_requests": _("Voucherify's rate limit was hit; try again shortly."),
    }
    template = known.get(exc.key or "")
    if template is None and isinstance(exc, RateLimitedError):
        template = known["too_many_requests"]
    details = exc.details or exc.message or exc.key or str(exc.status)
    if template is None:
        template = _("Voucherify refused it (%(status)s %(key)s): %(details)s")
    return template % {"details": details, "status": exc.status, "key": exc.key or ""}


def failure(code: str, exc: VoucherifyError) -> VoucherResult:
    """The result of a failed call, keeping what support needs (key, request id)."""
    retry_after = None
    if isinstance(exc, RateLimitedError):
        retry_after = float(exc.retry_after or 1.0)
    message = error_message(exc)
    if outcome_unknown(exc):
        # A read timeout (the interactive client's is short) or a 5xx after the call left: the
        # change may well be made, and "failed" alone would say it is not.
        message += " " + _(
            "It may have been applied all the same: refresh the voucher from Voucherify to see."
        )
    return VoucherResult(
        code=code,
        ok=False,
        message=message,
        key=str(getattr(exc, "key", "") or ""),
        request_id=str(getattr(exc, "request_id", "") or ""),
        retry_after=retry_after,
        unreachable=isinstance(exc, TransportError | ServerError),
    )


def unexpected_failure(code: str, exc: Exception) -> VoucherResult:
    """The result of a call that raised what is not a Voucherify error (a bug on an odd 2xx, a
    database error while storing the answer): ``exc`` described (type, text with secrets
    masked, place), and the call may have been made."""
    message = _(
        "Failed unexpectedly (%(error)s). It may have been applied all the same: refresh the "
        "voucher from Voucherify to see."
    ) % {"error": background.describe(exc)}
    return VoucherResult(code=code, ok=False, message=message, key=type(exc).__name__[:100], unexpected=True)
