"""What the cart page offers: "offers for you" (``checkout.offers``) and the automatic promotion
the cart qualifies for, applied without a code (validated and redeemed with the order as a
promotion tier, ``tiers=[...]``).

Which automatic promotion applies: the best of the promotion tiers ``checkout.offers`` lists
(``automatic``: one qualifications call gives the offers and the tiers with their discounts).

One automatic promotion at most: the best one (the stacking of several tiers is the campaign's
business, not the demo's). Voucherify unavailable: no offers, no automatic promotion; the cart
page and checkout go on (checkout's outage policy).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django_voucherify import checkout
from django_voucherify.models import Customer

from .cart import Cart

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Automatic:
    """The automatic promotion applied to the cart: a promotion tier's id, name and discount."""

    tier_id: str
    name: str
    discount_amount: int


@dataclass(frozen=True)
class CartOffers:
    offers: list[checkout.Offer] = field(default_factory=list)
    automatic: Automatic | None = None

    @property
    def tiers(self) -> list[str]:
        """The ``tiers=[...]`` to validate and redeem with the codes."""
        return [self.automatic.tier_id] if self.automatic else []


def customer_of(user: Any) -> Customer | None:
    return Customer.objects.filter(user=user).first() if user.is_authenticated else None


def for_cart(cart: Cart, customer: Customer | None) -> CartOffers:
    """The offers and the automatic promotion for ``cart`` (nothing for an empty cart)."""
    if not cart.lines():
        return CartOffers()
    order = cart.voucherify_order()
    try:
        found = checkout.offers(order, customer)
    except checkout.CheckoutError:  # unavailable, or a cart Voucherify cannot read: no offers
        return CartOffers()
    automatic = _best([Automatic(o.id, o.name, o.discount_amount) for o in found.automatic])
    return CartOffers([o for o in found.offers if not o.automatic], automatic)


def _best(candidates: list[Automatic]) -> Automatic | None:
    applying = [c for c in candidates if c.discount_amount > 0]
    return max(applying, key=lambda c: c.discount_amount) if applying else None
