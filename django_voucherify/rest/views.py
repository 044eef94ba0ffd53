"""Checkout endpoints: thin shells over :mod:`django_voucherify.checkout`.

Authentication, CSRF and permissions follow the project's DRF settings: with
``SessionAuthentication`` a logged-in browser must send the CSRF token; token or JWT clients do
not. Validate is open to anonymous visitors (a cart preview) but holding codes (``lock``) needs
a signed-in user; redeem needs a signed-in user; both are throttled per scope, and validate also
by the number of unknown codes a client tried. Rollback is for staff.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from drf_spectacular.openapi import AutoSchema
from rest_framework import permissions, status
from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import checkout
from ..checkout.errors import AlreadyRedeemed, CheckoutUnavailable, CodesRefused, InvalidCheckoutInput
from ..checkout.redeem import already_redeemed_message
from ..models.customers import Customer
from ..models.ledger import CheckoutRedemption
from ..models.orders import Order
from . import serializers as s
from .throttling import UNKNOWN_CODE_KEYS, CheckoutScopedThrottle, FailedValidationThrottle


def customer_for(request: Request) -> Customer | None:
    """The customer mirror of the signed-in user (never taken from the request body)."""
    user = request.user
    if not user or not user.is_authenticated:
        return None
    return Customer.objects.filter(user=user).first()


def _validation_payload(outcome: checkout.ValidationOutcome) -> dict[str, Any]:
    return {
        "valid": outcome.valid,
        "codes": [vars(c) for c in outcome.codes],
        "amount": outcome.totals.amount,
        "discount_amount": outcome.totals.discount_amount,
        "total_amount": outcome.totals.total_amount,
        "session_key": outcome.session_key,
        "unavailable": outcome.unavailable,
        "notice": outcome.notice,
    }


def _error(message: str, code: int, key: str | None = None) -> Response:
    body = {"detail": message, **({"key": key} if key else {})}
    return Response(body, status=code)


class DocumentedSchema(AutoSchema):
    """drf-spectacular's schema with the serializers given here, whatever the project's
    ``DEFAULT_SCHEMA_CLASS`` was when this module was imported (``extend_schema`` binds to it)."""

    def __init__(self, *, request: Any, responses: dict[int, Any], summary: str) -> None:
        super().__init__()
        self._request, self._responses, self._summary = request, responses, summary

    def get_request_serializer(self) -> Any:
        return self._request

    def get_response_serializers(self) -> Any:
        return self._responses

    def get_summary(self) -> str:
        return self._summary


class CheckoutAPIView(APIView):
    throttle_classes = [CheckoutScopedThrottle]


class ValidateView(CheckoutAPIView):
    schema = DocumentedSchema(request=s.ValidateRequestSerializer,
                   responses={200: s.ValidationResponseSerializer, 400: s.ErrorSerializer,
                              503: s.ErrorSerializer},
                   summary="Validate voucher codes against a cart")
    permission_classes = [permissions.AllowAny]
    throttle_classes = [CheckoutScopedThrottle, FailedValidationThrottle]
    throttle_scope = "voucherify_validate"

    def post(self, request: Request) -> Response:
        data = s.ValidateRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        body = data.validated_data
        if body["lock"] and not request.user.is_authenticated:
            # A LOCK session holds limited-quantity codes away from other customers.
            raise NotAuthenticated(_("Sign in to hold voucher codes for your order."))
        try:
            outcome = checkout.validate(body["codes"], body["order"], customer_for(request),
                                        lock=body["lock"])  # fmt: skip
        except CodesRefused as refused:
            if refused.key in UNKNOWN_CODE_KEYS:
                FailedValidationThrottle().record_failure(request, self)
            return _error(refused.message, status.HTTP_400_BAD_REQUEST, refused.key)
        except InvalidCheckoutInput as invalid:
            return _error(invalid.message, status.HTTP_400_BAD_REQUEST)
        except CheckoutUnavailable as unavailable:
            return _error(unavailable.message, status.HTTP_503_SERVICE_UNAVAILABLE)
        if any(code.reason_key in UNKNOWN_CODE_KEYS for code in outcome.codes):
            FailedValidationThrottle().record_failure(request, self)
        return Response(_validation_payload(outcome))


@method_decorator(transaction.non_atomic_requests, name="dispatch")
class RedeemView(CheckoutAPIView):
    """Redeem codes for an order the shop created (the ``Order`` mirror): its amount and items
    are read from the database, so a client cannot inflate them for a bigger discount."""

    schema = DocumentedSchema(request=s.RedeemRequestSerializer,
                   responses={201: s.RedeemResponseSerializer, 400: s.ErrorSerializer,
                              409: s.ErrorSerializer, 503: s.ErrorSerializer},
                   summary="Redeem voucher codes for an order (once per order)")
    permission_classes = [permissions.IsAuthenticated]
    throttle_scope = "voucherify_redeem"

    def get_order(self, request: Request, source_id: str) -> Order:
        order: Order = get_object_or_404(Order, source_id=source_id)
        owner = order.customer.user_id if order.customer is not None else None
        if not request.user.is_staff and owner != request.user.pk:
            raise PermissionDenied(_("This order is not yours."))
        return order

    def post(self, request: Request) -> Response:
        data = s.RedeemRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        body = data.validated_data
        order = self.get_order(request, body["order_source_id"])
        try:
            outcome = checkout.redeem(body["codes"], order, order.customer,
                                      session_key=body.get("session_key"))  # fmt: skip
        except CodesRefused as refused:
            return _error(refused.message, status.HTTP_400_BAD_REQUEST, refused.key)
        except InvalidCheckoutInput as invalid:
            return _error(invalid.message, status.HTTP_400_BAD_REQUEST)
        except AlreadyRedeemed as already:
            assert already.ledger is not None
            return _error(already_redeemed_message(already.ledger), status.HTTP_409_CONFLICT,
                          "already_redeemed")  # fmt: skip
        except CheckoutUnavailable as unavailable:
            return _error(unavailable.message, status.HTTP_503_SERVICE_UNAVAILABLE)
        payload = {"applied": outcome.applied, "notice": outcome.notice,
                   "amount": outcome.totals.amount, "discount_amount": outcome.totals.discount_amount,
                   "total_amount": outcome.totals.total_amount,
                   "redemption": s.LedgerSerializer(outcome.ledger).data}  # fmt: skip
        return Response(payload, status=status.HTTP_201_CREATED)


@method_decorator(transaction.non_atomic_requests, name="dispatch")
class RollbackView(CheckoutAPIView):
    schema = DocumentedSchema(request=s.RollbackRequestSerializer, responses={200: s.LedgerSerializer},
    summary="Roll back a checkout redemption (staff)")
    permission_classes = [permissions.IsAdminUser]

    def post(self, request: Request, pk: int) -> Response:
        data = s.RollbackRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = get_object_or_404(CheckoutRedemption, pk=pk)
        row = checkout.request_rollback(row, data.validated_data["reason"])
        return Response(s.LedgerSerializer(row).data)
