"""The endpoint Voucherify posts events to: ``include("django_voucherify.webhooks.urls")``.

CSRF-exempt by design: Voucherify cannot send a CSRF token; the signature is the proof of
origin. Refusals (405, 413, 400, 401/403) store nothing, answer JSON, and are logged on one
line per reason at most once a minute with a count (never the body, never a secret). An
accepted event is stored and answered 202 (200 for a duplicate) without calling Voucherify.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, DataError
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from ..conf import settings as voucherify_settings
from . import events, signature

logger = logging.getLogger("django_voucherify.webhooks")

#: Seconds between two log lines for one reason of refusal.
LOG_EVERY = 60.0
_refusals: dict[str, list[float]] = {}  # reason -> [count since last line, time of last line]
_refusals_lock = threading.Lock()


def _refuse(status: int, reason: str, message: str) -> JsonResponse:
    now = time.monotonic()
    with _refusals_lock:
        count, last = _refusals.get(reason, [0, 0.0])
        count += 1
        if now - last >= LOG_EVERY:
            logger.warning(
                "Voucherify webhook refused (%s): %d request(s) since the last report", reason, count
            )
            count, last = 0, now
        _refusals[reason] = [count, last]
    response = JsonResponse({"error": reason, "message": message}, status=status)
    # Django's request logger would write one line per refused request: a flood of forged
    # requests must not flood the log. This module's own line above is the record.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def _read_body(request: HttpRequest, limit: int) -> bytes | None:
    """The body, or None when it is longer than ``limit`` (read no further than that)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e999: JSON, but no database holds it
        raise ValueError("number out of range")
    return value


def _parse(body: bytes) -> Any:
    """The JSON body, or None: NaN, Infinity and numbers out of range are refused (JSON's
    grammar has none of them; PostgreSQL would refuse to store them)."""
    try:
        return json.loads(body, parse_constant=_no_constant, parse_float=_finite)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


@csrf_exempt
def receive(request: HttpRequest) -> JsonResponse:
    if request.method != "POST":
        response = _refuse(405, "method_not_allowed", _("Webhooks are sent with POST."))
        response["Allow"] = "POST"
        return response
    try:
        conf = voucherify_settings()
    except ImproperlyConfigured:
        # An invalid VOUCHERIFY (the system checks name the option): JSON, not Django's 500
        # page with its traceback; Voucherify sends the event again once it is fixed.
        response = _refuse(503, "not_configured", _("The endpoint's settings are invalid."))
        response["Retry-After"] = "30"
        return response
    if not conf.webhook_secrets:
        return _refuse(503, "not_configured", _("No webhook secret is configured."))
    try:
        body = _read_body(request, conf.webhook_max_body_bytes)
    except OSError:  # the client went away mid-body (UnreadablePostError is one)
        return _refuse(400, "unreadable", _("The body could not be read."))
    if body is None:
        return _refuse(413, "too_large", _("The body is larger than this endpoint accepts."))
    given = request.META.get(signature.META_KEY, "")
    if not given:
        return _refuse(401, "unsigned", _("The X-Voucherify-Signature header is missing."))
    # The raw body first: a forged request costs one HMAC per secret. Only a body that fails it
    # and is not compact JSON already (a proxy may have re-indented it) is parsed for its
    # compact form, which Voucherify's SDKs verify.
    secrets = conf.webhook_secrets
    if signature.verify(body, given, secrets):
        parsed = _parse(body)
    else:
        parsed = _parse(body) if signature.may_be_reformatted(body) else None
        if parsed is None or not signature.verify(body, given, secrets, parsed):
            return _refuse(403, "bad_signature", _("The signature does not match."))
    try:
        event, created = events.record(parsed)
    except events.ExpiredEventError as exc:
        # Older than the ids remembered: a replay cannot be told from a first delivery.
        return _refuse(400, "too_old", str(exc))
    except events.EnvelopeError as exc:
        return _refuse(400, "malformed", str(exc))
    except DataError:
        # A value the database refuses (whatever the checks above missed): not an outage, and
        # sending it again would not help. The database's message may quote the body: not logged.
        return _refuse(400, "malformed", _("The event holds a value that cannot be stored."))
    except DatabaseError:
        # Not stored: Voucherify must send it again. 503 (never a 2xx), and a JSON body.
        response = _refuse(503, "unavailable", _("The event could not be stored; send it again."))
        response["Retry-After"] = "30"
        return response
    return JsonResponse({"id": event.event_id, "duplicate": not created}, status=202 if created else 200)
