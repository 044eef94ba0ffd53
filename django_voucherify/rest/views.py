"""Checkout endpoints: thin shells over :mod:`django_voucherify.checkout`.

Authentication and CSRF follow the project's DRF settings: with ``SessionAuthentication`` a
logged-in browser must send the CSRF token; token or JWT clients do not. Permissions are the
ledger's model permissions (:mod:`.permissions`), never ``is_staff``. Validate is open to
anonymous visitors (a cart preview, at most :func:`.throttling.anonymous_max_codes` codes) but
holding codes (``lock``) needs a signed-in user; redeem needs a signed-in user. Both are
throttled per scope and draw every code they name from the budget of unknown codes
(:class:`~django_voucherify.checkout.budget.UnknownCodesBudget`, per user and per address)
before Voucherify is asked. Offers (what a cart qualifies for) are open to anyone, throttled
per scope, and name no code (nothing drawn from the budget); a signed-in user's own codes are
included. Bodies and answers are JSON only, errors included: the views raise
the services' errors and the one exception handler of :mod:`.errors` answers them, whatever the
project's ``EXCEPTION_HANDLER`` is.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from rest_framework import permissions, status
from rest_framework.exceptions import NotAuthenticated, PermissionDenied, Throttled
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import checkout, conf
from ..checkout.budget import UnknownCodesBudget, unknown_codes
from ..checkout.cart import VOUCHER
from ..checkout.order_loading import order_with_items
from ..models.customers import Customer
from ..models.ledger import CheckoutRedemption
from ..models.orders import Order
from . import serializers as s
from .errors import (
    AlwaysJSON,
    AsciiJSONRenderer,
    MediaTypesMetadata,
    StrictJSONParser,
    error_body,
    exception_handler,
)
from .permissions import PUBLISH_FOR_ANYONE_PERMISSION, CanRedeemOrder, CanRollBackRedemptions
from .schema import LazySchema
from .throttling import CheckoutScopedThrottle, anonymous_max_codes, unknown_codes_budget

#: ``reason_key`` of every code of an anonymous batch that named an unknown code.
UNVERIFIED_KEY = "unknown_code_in_batch"


def customer_for(request: Request) -> Customer | None:
    """The customer mirror of the signed-in user (never taken from the request body)."""
    user = request.user
    if not user or not user.is_authenticated:
        return None
    return Customer.objects.filter(user=user).first()


def _validation_payload(
    outcome: checkout.ValidationOutcome, *, reveal: bool, given: list[Any] | None = None
) -> dict[str, Any]:
    """The answer; with ``reveal`` False (anonymous) a batch that named an unknown code says so
    for every code alike, so "skipped" (exists) and "not found" cannot be told apart (a code's
    ``card`` is then only what the request said of it: ``given``)."""
    codes = [vars(c) for c in outcome.codes]
    amount, discount, total = (
        outcome.totals.amount,
        outcome.totals.discount_amount,
        outcome.totals.total_amount,
    )
    if not reveal and len(codes) > 1 and unknown_codes(outcome):
        reason = _("At least one of these codes does not exist. Check them, or enter them one at a time.")
        marked = {c.code: c.card for c in given or () if isinstance(c, checkout.Redeemable)}
        codes = [
            {
                "code": c["code"],
                "applicable": False,
                "discount_amount": 0,
                "reason_key": UNVERIFIED_KEY,
                "reason": reason,
                "kind": c["kind"],
                "card": marked.get(c["code"]) if c["kind"] == VOUCHER else None,
            }
            for c in codes
        ]
        discount, total = 0, amount
    return {
        "valid": outcome.valid,  # False whenever a code is unknown
        "codes": codes,
        "amount": amount,
        "discount_amount": discount,
        "total_amount": total,
        "session_key": outcome.session_key,
        "unavailable": outcome.unavailable,
        "notice": outcome.notice,
    }


def priced_order(request: Request, view: Any, order: dict[str, Any]) -> dict[str, Any]:
    """The cart of a validate or offers body as sent to Voucherify: its ``source_id`` only when
    it names an order the user may redeem (their own, or any with the permission), else left
    out. Voucherify prices a cart naming a stored order as that order, its earlier discounts
    added: the answer told anyone, anonymous included, that another's order exists and what it
    was discounted (the redeem endpoint answers such an order as an unknown one). An unknown
    order is checked as one of nobody's, so both cost the same queries."""
    source_id = order.get("source_id")
    if source_id is None:
        return order
    user = request.user
    if user and user.is_authenticated:
        found = Order.objects.select_related("customer").filter(source_id=source_id).first()
        if CanRedeemOrder().has_object_permission(request, view, found if found is not None else Order()):
            return order
    return {key: value for key, value in order.items() if key != "source_id"}


def _reserve(request: Request, codes: list[str]) -> UnknownCodesBudget:
    """Take one unit per code from the client's budget of unknown codes, or refuse (429)
    before anything is sent or written."""
    budget = unknown_codes_budget(request)
    if not budget.reserve(len(codes)):
        raise Throttled(wait=budget.wait())
    return budget


def forget_unusable_session(request: HttpRequest) -> None:
    """A session cookie no session can have been given is dropped before authentication reads it.

    Django takes any cookie of 8 characters or more as a session key and looks it up. One
    holding a NUL (``sessionid="\\000..."``: plain ASCII on the wire, a quoted cookie's octal
    escape) made the database backend's query fail (PostgreSQL refuses NUL in text), and a
    control character or a space makes memcached refuse the key: a 500 either way. A key with
    a character outside ``!``..``~`` (Django's keys are lower-case letters and digits, a signed
    cookie's base64) is treated as Django treats a corrupted session: as none. The empty
    session then deletes the cookie.
    """
    key = getattr(getattr(request, "session", None), "session_key", None)
    if isinstance(key, str) and not all("!" <= char <= "~" for char in key):
        request.session = import_module(settings.SESSION_ENGINE).SessionStore()


class CheckoutAPIView(APIView):
    """JSON in and out (errors included) whatever the project's DRF settings say."""

    throttle_classes = [CheckoutScopedThrottle]
    parser_classes = [StrictJSONParser]
    renderer_classes = [AsciiJSONRenderer]
    content_negotiation_class = AlwaysJSON
    metadata_class = MediaTypesMetadata  # OPTIONS: no docstring (rest/errors.py)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        forget_unusable_session(request._request)
        super().initial(request, *args, **kwargs)

    def get_exception_handler(self) -> Any:
        return exception_handler


class ValidateView(CheckoutAPIView):
    schema = LazySchema(
        request=s.ValidateRequestSerializer,
        responses={
            200: s.ValidationResponseSerializer,
            400: s.ErrorSerializer,
            429: s.ErrorSerializer,
            503: s.ErrorSerializer,
        },
        summary="Validate voucher codes against a cart",
    )
    permission_classes = [permissions.AllowAny]
    throttle_scope = "voucherify_validate"

    def post(self, request: Request) -> Response:
        data = s.ValidateRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        body = data.validated_data
        signed_in = bool(request.user and request.user.is_authenticated)
        if body["lock"] and not signed_in:
            # A LOCK session holds limited-quantity codes away from other customers.
            raise NotAuthenticated(_("Sign in to hold voucher codes for your order."))
        tiers = body.get("tiers") or []
        codes = s.redeemables_of(body)  # the gift and loyalty cards marked, after the codes
        named = s.named_in(body)  # (a tier is drawn from the budget like a code)
        if not signed_in and len(named) > (limit := anonymous_max_codes()):
            message = _("Enter at most %(max)d voucher codes at once, or sign in.") % {"max": limit}
            return Response(
                error_body(message, "too_many_codes", codes=[message]), status=status.HTTP_400_BAD_REQUEST
            )
        with _reserve(request, named) as budget:
            outcome = checkout.validate(
                codes,
                priced_order(request, self, body["order"]),
                customer_for(request),
                lock=body["lock"],
                tiers=tiers,
                automatic=body.get("automatic", False),
            )
            budget.settle(unknown_codes(outcome))
        return Response(_validation_payload(outcome, reveal=signed_in, given=codes))


class OffersView(CheckoutAPIView):
    """What a cart qualifies for (automatic promotions, the signed-in customer's own codes and
    public codes), best deal first. Open to anonymous visitors like validate (who get no
    customer's codes); it names no code, so nothing is drawn from the budget of unknown codes."""

    schema = LazySchema(
        request=s.OffersRequestSerializer,
        responses={
            200: s.OffersResponseSerializer,
            400: s.ErrorSerializer,
            429: s.ErrorSerializer,
            503: s.ErrorSerializer,
        },
        summary="The offers a cart qualifies for",
    )
    permission_classes = [permissions.AllowAny]
    throttle_scope = "voucherify_offers"

    def post(self, request: Request) -> Response:
        data = s.OffersRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        body = data.validated_data
        outcome = checkout.offers(
            priced_order(request, self, body["order"]), customer_for(request), limit=body["limit"]
        )
        return Response(
            {
                "offers": [vars(o) for o in outcome.offers],
                "amount": outcome.totals.amount,
                "has_more": outcome.has_more,
                "unavailable": outcome.unavailable,
                "notice": outcome.notice,
            }
        )


@method_decorator(transaction.non_atomic_requests, name="dispatch")
class RedeemView(CheckoutAPIView):
    """Redeem codes for an order the shop created (the ``Order`` mirror): its amount and items
    are read from the database, so a client cannot inflate them for a bigger discount."""

    schema = LazySchema(
        request=s.RedeemRequestSerializer,
        responses={
            201: s.RedeemResponseSerializer,
            400: s.ErrorSerializer,
            403: s.ErrorSerializer,
            404: s.ErrorSerializer,
            409: s.ErrorSerializer,
            429: s.ErrorSerializer,
            503: s.ErrorSerializer,
        },
        summary="Redeem voucher codes for an order (once per order)",
    )
    permission_classes = [CanRedeemOrder]
    throttle_scope = "voucherify_redeem"

    def get_order(self, request: Request, source_id: str) -> Order:
        """The order with its customer (the permission) and items (the body), in one query.
        Another's order answers as an unknown one (404, the same body): a 403 would tell a
        signed-in user which order ids exist."""
        order = order_with_items(source_id)
        try:
            # An unknown order is checked too, as an order of nobody's: the permission's queries
            # (the user's and the groups' permissions) ran only for an order found, and the time
            # they take told the two 404s apart.
            self.check_object_permissions(request, order if order is not None else Order())
        except PermissionDenied:
            raise Http404 from None
        if order is None:
            raise Http404
        return order

    def post(self, request: Request) -> Response:
        body = s.redeem_request(request.data)
        order = self.get_order(request, body["order_source_id"])
        # A guess refused here leaves no ledger row: the budget is checked before the redeem.
        tiers = body.get("tiers") or []
        with _reserve(request, s.named_in(body)) as budget:
            outcome = checkout.redeem(
                s.redeemables_of(body),
                order,
                order.customer,
                session_key=body.get("session_key"),
                tiers=tiers,
                automatic=body.get("automatic", False),
            )
            budget.settle(0)
        payload = {
            "applied": outcome.applied,
            "notice": outcome.notice,
            "amount": outcome.totals.amount,
            "discount_amount": outcome.totals.discount_amount,
            "total_amount": outcome.totals.total_amount,
            "redemption": s.ledger_data(outcome.ledger),
        }
        return Response(payload, status=status.HTTP_201_CREATED)


#: Ledger ids are ``bigint``: a longer number in the URL is a 404, not a database error.
MAX_PK_DIGITS = 18


@method_decorator(transaction.non_atomic_requests, name="dispatch")
class RollbackView(CheckoutAPIView):
    schema = LazySchema(
        request=s.RollbackRequestSerializer,
        responses={200: s.LedgerSerializer, 403: s.ErrorSerializer, 404: s.ErrorSerializer},
        summary="Roll back a checkout redemption (permission django_voucherify.change_checkoutredemption)",
    )
    permission_classes = [CanRollBackRedemptions]

    def post(self, request: Request, pk: str) -> Response:
        if not (pk.isascii() and pk.isdigit() and len(pk) <= MAX_PK_DIGITS):
            raise Http404
        data = s.RollbackRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = get_object_or_404(CheckoutRedemption, pk=int(pk))
        row = checkout.request_rollback(row, data.validated_data["reason"])
        return Response(s.ledger_data(row))


@method_decorator(transaction.non_atomic_requests, name="dispatch")
class PublishView(CheckoutAPIView):
    """Give a customer their code of a campaign, once (``checkout.publish``): the signed-in
    user's own customer, of a campaign listed in ``SELF_SERVICE_CAMPAIGNS`` (by name or id;
    any other, and an unknown one, is one and the same 403); or (with
    ``django_voucherify.add_customerpublication``) any customer by source id, of any campaign.
    201 when this request recorded the code, 200 when it was given before."""

    schema = LazySchema(
        request=s.PublishRequestSerializer,
        responses={
            200: s.PublishResponseSerializer,
            201: s.PublishResponseSerializer,
            400: s.ErrorSerializer,
            403: s.ErrorSerializer,
            429: s.ErrorSerializer,
            503: s.ErrorSerializer,
        },
        summary="Give a customer a code of a campaign (once: the same code on every call)",
    )
    permission_classes = [permissions.IsAuthenticated]
    throttle_scope = "voucherify_publish"

    def post(self, request: Request) -> Response:
        data = s.PublishRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        body = data.validated_data
        own = customer_for(request)
        wanted = body.get("customer_source_id")
        anyone = request.user.has_perm(PUBLISH_FOR_ANYONE_PERMISSION)
        if wanted is None or (own is not None and wanted == own.source_id):
            if own is None:
                return Response(
                    error_body(_("Your account has no customer record yet."), "no_customer"),
                    status=status.HTTP_400_BAD_REQUEST,
                )
            customer: Any = own
        elif anyone:
            customer = Customer.objects.filter(source_id=wanted).first() or wanted
        else:
            raise PermissionDenied(_("You can only ask for your own code."))
        # Shoppers only get codes of the campaigns the shop offers them (review 18): any other
        # campaign, and an unknown one, is the same 403 (checkout.CampaignNotOffered).
        offered = None if anyone else conf.settings().self_service_campaigns
        given = checkout.publish(body["campaign"], customer, offered=offered)
        return Response(vars(given), status=status.HTTP_201_CREATED if given.new else status.HTTP_200_OK)
