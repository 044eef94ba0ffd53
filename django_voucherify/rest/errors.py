"""JSON in, JSON out, whatever the request: the parser, renderer and error handler of the
checkout endpoints.

Every error answer is a JSON object with ``detail`` (a translated message) and ``key`` (stable,
for programs); a validation error also carries its field errors at the top level, as DRF writes
them (``{"codes": [...], "detail": "Invalid input.", "key": "invalid"}``). The project's own
DRF settings (``EXCEPTION_HANDLER``, renderers, parsers) do not change this.

:func:`exception_handler` is the one place that turns an error into an answer: the views raise
the checkout services' errors and never map them themselves. Every error the app raises on
purpose (:class:`~django_voucherify.errors.DjangoVoucherifyError`) gets a 4xx or a 503, never a
500; docs/errors.md lists the statuses and keys.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core import signals
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.metadata import BaseMetadata
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from ..api.errors import VoucherifyError
from ..checkout.errors import (
    AlreadyRedeemed,
    CheckoutError,
    CheckoutUnavailable,
    CodesRefused,
    InvalidCheckoutInput,
    OrderCanceled,
    RollbackFailed,
    already_redeemed_message,
    unavailable_message,
)
from ..checkout.publish import CampaignNotOffered
from ..errors import DjangoVoucherifyError
from ..validation import InvalidInput

logger = logging.getLogger("django_voucherify.rest")

#: Deepest nesting of arrays and objects a request body may have; the endpoints need 4.
MAX_JSON_DEPTH = 16


def _too_deep(value: Any, limit: int) -> bool:
    """Whether ``value`` nests deeper than ``limit`` (iterative: deep input cannot recurse)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


class StrictJSONParser(JSONParser):
    """DRF's JSON parser, but too deep nesting, ``NaN`` and undecodable bytes are a 400
    ``parse_error`` (never a ``RecursionError`` or a 500)."""

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        raw = stream.read()
        try:
            text = raw.decode((parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET)
            data = json.loads(text, parse_constant=_refuse_constant)
        except (ValueError, RecursionError, LookupError) as exc:
            raise exceptions.ParseError(_("The request body is not valid JSON.")) from exc
        if _too_deep(data, MAX_JSON_DEPTH):
            raise exceptions.ParseError(
                _("The request body is nested too deeply (at most %(depth)d levels).")
                % {"depth": MAX_JSON_DEPTH}
            )
        return data


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class AsciiJSONRenderer(JSONRenderer):
    """Escapes everything outside ASCII, so a lone surrogate echoed from the request (DRF puts
    the input into some messages) cannot make the answer unencodable."""

    ensure_ascii = True
    charset = "utf-8"


class AlwaysJSON(BaseContentNegotiation):
    """JSON whatever ``Accept`` says (a browser's ``text/html`` gets JSON, not a 406)."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        return next((p for p in parsers if p.media_type == content_type), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, str(renderer.media_type)


class MediaTypesMetadata(BaseMetadata):
    """``OPTIONS``: the methods (DRF's ``Allow`` header, on every answer) and the media types,
    nothing else. DRF's default (``SimpleMetadata``) also answered the view's name and its
    docstring: internal prose (how a check is made, what the budget guards against) for anyone
    who asks, and a change of it a change of the API. The endpoints are documented by the
    OpenAPI schema (``rest/schema.py``); a CORS preflight is answered before the view, by the
    project's CORS middleware."""

    def determine_metadata(self, request: Request, view: Any) -> dict[str, Any]:
        return {
            "renders": [renderer.media_type for renderer in view.renderer_classes],
            "parses": [parser.media_type for parser in view.parser_classes],
        }


def error_body(detail: str, key: str, **fields: Any) -> dict[str, Any]:
    return {**fields, "detail": str(detail), "key": key}


def app_error_response(exc: DjangoVoucherifyError) -> Response:
    """The answer to an error the app raised on purpose: a 4xx the customer can act on, or a
    503 when Voucherify could not give one (never a 500: nothing here is a bug of the request)."""
    if isinstance(exc, CodesRefused):
        return Response(error_body(exc.message, exc.key or "refused"), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, InvalidCheckoutInput):
        return Response(error_body(exc.message, "invalid"), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, AlreadyRedeemed):
        # The row's state decides the words: an UNKNOWN redemption is not "already applied".
        message = already_redeemed_message(exc.ledger) if exc.ledger is not None else exc.message
        return Response(error_body(message, "already_redeemed"), status=status.HTTP_409_CONFLICT)
    if isinstance(exc, OrderCanceled):
        return Response(error_body(exc.message, "order_canceled"), status=status.HTTP_409_CONFLICT)
    if isinstance(exc, CampaignNotOffered):
        # One answer for a campaign not offered and an unknown one: it never tells which.
        return Response(error_body(exc.message, "campaign_not_offered"), status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, CheckoutUnavailable | RollbackFailed):
        # A failed rollback stays asked for and is retried from Celery: tell the caller to wait.
        return Response(error_body(exc.message, "unavailable"), status=status.HTTP_503_SERVICE_UNAVAILABLE)
    if isinstance(exc, CheckoutError):
        return Response(error_body(exc.message, "refused"), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, InvalidInput):
        return Response(error_body(str(exc), "invalid"), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, VoucherifyError):
        # Voucherify's answer (or its absence) is not the customer's to read: the services turn
        # refusals into CheckoutError; what gets here is Voucherify being unusable right now.
        logger.warning("Voucherify error in a checkout endpoint: %s", exc)
        return Response(
            error_body(unavailable_message(), "unavailable"), status=status.HTTP_503_SERVICE_UNAVAILABLE
        )
    logger.warning("Refused in a checkout endpoint: %s", exc)
    return Response(
        error_body(_("The request could not be completed."), "refused"), status=status.HTTP_400_BAD_REQUEST
    )


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """The app's errors (:func:`app_error_response`), then DRF's handler and the stable body;
    Django's own request errors as JSON; anything else a logged JSON 500 (re-raised when
    ``DEBUG`` is on, for the technical page)."""
    if isinstance(exc, DjangoVoucherifyError):
        return app_error_response(exc)
    if isinstance(exc, RequestDataTooBig):
        exc = exceptions.APIException(_("The request body is too large."))
        exc.status_code, exc.default_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, "too_large"
        exc.detail = exceptions.ErrorDetail(str(exc.detail), "too_large")
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ParseError(_("The request could not be read."))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        if settings.DEBUG:
            return None
        set_rollback()
        request = context.get("request")
        signals.got_request_exception.send(sender=None, request=getattr(request, "_request", request))
        logger.error("Internal error in a checkout endpoint", exc_info=exc)
        return Response(
            error_body(_("Server error."), "server_error"), status=status.HTTP_500_INTERNAL_SERVER_ERROR
        )
    if isinstance(exc, exceptions.ValidationError):
        fields = response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
        response.data = error_body(_("Invalid input."), "invalid", **fields)
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        key = codes if isinstance(codes, str) else str(exc.default_code)
        detail = exc.detail if isinstance(exc.detail, str) else _("Invalid input.")
        response.data = error_body(detail, key)
    return response


@csrf_exempt
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Any other path under the endpoints' prefix: a JSON 404, not the site's HTML page."""
    return JsonResponse(error_body(_("Not found."), "not_found"), status=404)
