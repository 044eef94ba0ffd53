"""``offers(order, customer)``: what this cart qualifies for, with the discount each would give,
for a cart page ("offers for you").

One qualifications request (``POST /v1/qualifications``, scenario ``ALL``, ``BEST_DEAL``): the
automatic promotions (promotion tiers, which apply without a code) and the codes the customer may
use (their own, and public codes), each priced by Voucherify on this cart as a validation of it
alone would price it. Nothing is redeemed, held or written. The call goes through checkout's
client (``CHECKOUT_TIMEOUT``) and follows checkout's outage policy
(:func:`~django_voucherify.checkout.validate.proceeds_without_discount`): during an outage it
raises :class:`~django_voucherify.checkout.errors.CheckoutUnavailable`, or, with
``proceed_without_discount``, returns no offer with ``unavailable=True`` and a notice; the cart
page goes on either way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext

from ..api.errors import APIError, VoucherifyError
from ..validation import SHAPE_ERRORS
from . import cart
from .cart import Totals, checkout_client
from .errors import CheckoutUnavailable, InvalidCheckoutInput, message_for, unavailable_message
from .validate import is_outage, is_shop_side, proceeds_without_discount

if TYPE_CHECKING:
    from ..api.client import VoucherifyClient

logger = logging.getLogger("django_voucherify.checkout")

#: The most offers one call asks for (Voucherify's page maximum for qualifications).
MAX_OFFERS = 50
DEFAULT_OFFERS = 10

VOUCHER = "voucher"
PROMOTION_TIER = "promotion_tier"


@dataclass(frozen=True)
class Offer:
    """A redeemable this cart qualifies for.

    ``kind`` is Voucherify's ``object`` (``"voucher"``, ``"promotion_tier"``), ``id`` its id
    (a voucher's code, a tier's id), ``code`` the code to enter (None for a tier),
    ``automatic`` whether it applies without a code (a promotion tier), ``discount_amount``
    what it takes off this cart alone (minor units; offers are not summed: stacking them is
    the validation's to decide).
    """

    kind: str
    id: str
    code: str | None
    name: str
    banner: str
    discount_amount: int
    automatic: bool
    campaign_id: str | None = None
    campaign_name: str | None = None


@dataclass(frozen=True)
class OffersOutcome:
    """The result of :func:`offers`: the offers, best deal first, and the cart's totals before
    any discount. ``unavailable``: Voucherify could not answer and the outage policy lets the cart
    page go on without offers (``notice`` says so)."""

    offers: list[Offer]
    totals: Totals
    has_more: bool = False
    unavailable: bool = False
    notice: str = ""

    @property
    def automatic(self) -> list[Offer]:
        """The offers that apply on their own (promotion tiers)."""
        return [o for o in self.offers if o.automatic]


#: What is offered: automatic promotions (tiers) and the codes the customer holds. Never the
#: standalone codes nobody holds, which scenario ALL also qualifies: listing those to anyone who
#: posts a cart would hand out codes meant for someone (an influencer's, staff's), and make the
#: unknown-codes budget of validate and redeem pointless (review 18).
OWN_OR_AUTOMATIC: dict[str, Any] = {
    "junction": "or",
    "resource_type": {"conditions": {"$is": ["promotion_tier"]}},
    "holder_role": {"conditions": {"$is": ["OWNER"]}},
}


def offers(
    order: cart.OrderInput,
    customer: cart.CustomerInput = None,
    *,
    limit: int = DEFAULT_OFFERS,
    client: VoucherifyClient | None = None,
) -> OffersOutcome:
    """The offers ``order`` qualifies for, for ``customer``: automatic promotions and the codes
    the customer holds (:data:`OWN_OR_AUTOMATIC`), best deal first: at most ``limit`` (1 to 50).

    One HTTP call, bounded by ``CHECKOUT_TIMEOUT``. Outage: see the module docstring. A request
    Voucherify refuses (400, 404: an order or customer it cannot read) raises
    :class:`InvalidCheckoutInput` with a message for the customer.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_OFFERS:
        raise InvalidCheckoutInput(gettext("Ask for 1 to %(max)d offers.") % {"max": MAX_OFFERS})
    body: dict[str, Any] = {
        "scenario": "ALL",
        "order": cart.order_body(order),
        "options": {
            "limit": limit,
            "sorting_rule": "BEST_DEAL",
            "expand": ["redeemable"],
            "filters": OWN_OR_AUTOMATIC,
        },
    }
    customer_obj = cart.customer_body(customer)
    if customer_obj:
        body["customer"] = customer_obj
    fallback_amount = body["order"].get("amount")
    try:
        response = (client or checkout_client()).qualifications.check_eligibility(body)
    except VoucherifyError as exc:
        if is_shop_side(exc):
            logger.error("Voucherify checkout: offers refused the shop's credentials: %s", exc)
        if is_outage(exc) or is_shop_side(exc):
            return _unavailable(fallback_amount)
        if isinstance(exc, APIError):
            raise InvalidCheckoutInput(message_for(exc.key, exc.error_message)) from exc
        raise
    try:
        return _outcome(response, fallback_amount)
    except SHAPE_ERRORS as exc:
        # Not Voucherify's answer (a proxy's body, a field of the wrong type): an outage.
        logger.error("Voucherify checkout: the qualifications answer has an unexpected shape (%s)", exc)
        return _unavailable(fallback_amount)


def _unavailable(fallback_amount: int | None) -> OffersOutcome:
    if proceeds_without_discount():
        notice = unavailable_message()
        return OffersOutcome([], Totals.undiscounted(fallback_amount), unavailable=True, notice=notice)
    raise CheckoutUnavailable()


def _offer(entry: Mapping[str, Any]) -> Offer:
    kind = str(entry.get("object") or VOUCHER)
    ident = str(entry["id"])
    order_after = entry.get("order") or {}
    discount = int(order_after.get("total_applied_discount_amount") or 0)
    campaign_name = entry.get("campaign_name")
    return Offer(
        kind=kind,
        id=ident,
        code=ident if kind == VOUCHER else None,
        name=str(entry.get("name") or campaign_name or ident),
        banner=str(entry.get("banner") or ""),
        discount_amount=discount,
        automatic=kind == PROMOTION_TIER,
        campaign_id=entry.get("campaign_id"),
        campaign_name=campaign_name,
    )


def _outcome(response: Mapping[str, Any], fallback_amount: int | None) -> OffersOutcome:
    redeemables = response.get("redeemables") or {}
    found = [_offer(entry) for entry in redeemables.get("data") or []]
    # Best deal first whatever order the page came in (Voucherify sorts within a page).
    found.sort(key=lambda o: -o.discount_amount)
    return OffersOutcome(
        offers=found,
        totals=Totals.from_order(response.get("order"), fallback_amount),
        has_more=bool(redeemables.get("has_more")),
    )
