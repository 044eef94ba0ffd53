"""What the cart page offers: "offers for you" (``checkout.offers``) and the automatic promotion
the cart qualifies for, applied without a code (validated and redeemed with the order as a
promotion tier, ``tiers=[...]``).

Which automatic promotion applies: the promotion tiers ``checkout.offers`` lists (``automatic``).
While the qualifications answer lists no tiers (the sandbox lists vouchers only so far), the tiers
are found here instead: the shop's available tiers (``client.promotions.list_tiers``, cached a
minute) are each validated alone on the cart, and the best one applies. :func:`_qualifying_tiers`
is that stand-in, the one thing to drop once ``offers()`` lists tiers.

One automatic promotion at most: the best one (the stacking of several tiers is the campaign's
business, not the demo's). Voucherify unavailable: no offers, no automatic promotion; the cart
page and checkout go on (checkout's outage policy).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache

from django_voucherify import checkout
from django_voucherify.api.errors import VoucherifyError
from django_voucherify.checkout.cart import checkout_client
from django_voucherify.models import Customer

from .cart import Cart

logger = logging.getLogger(__name__)

TIERS_CACHE_KEY = "shop:available-promotion-tiers"
TIERS_CACHE_SECONDS = 60
#: At most this many tiers are tried on a cart (one validation each).
MAX_TIERS = 5


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
        return CartOffers(automatic=_best(_qualifying_tiers(order, customer)))
    listed = [Automatic(o.id, o.name, o.discount_amount) for o in found.automatic]
    automatic = _best(listed) if listed else _best(_qualifying_tiers(order, customer))
    return CartOffers([o for o in found.offers if not o.automatic], automatic)


def _best(candidates: list[Automatic]) -> Automatic | None:
    applying = [c for c in candidates if c.discount_amount > 0]
    return max(applying, key=lambda c: c.discount_amount) if applying else None


def _qualifying_tiers(order: dict[str, Any], customer: Customer | None) -> list[Automatic]:
    """Stand-in until ``checkout.offers`` lists promotion tiers: each available tier validated
    alone on the cart (see the module's docstring)."""
    found = []
    for tier_id, name in _available_tiers()[:MAX_TIERS]:
        try:
            outcome = checkout.validate([], order, customer, tiers=[tier_id])
        except checkout.CheckoutError:  # refused (its rule) or unavailable: not offered
            continue
        if outcome.unavailable:
            return []
        for result in outcome.codes:
            if result.code == tier_id and result.applicable:
                found.append(Automatic(tier_id, name, result.discount_amount))
    return found


def _available_tiers() -> list[tuple[str, str]]:
    cached = cache.get(TIERS_CACHE_KEY)
    if cached is not None:
        return list(cached)
    try:
        page = checkout_client().promotions.list_tiers(is_available=True, limit=MAX_TIERS)
    except VoucherifyError as exc:  # not cached: asked again on the next page
        logger.warning("Promotion tiers unavailable: %s", exc)
        return []
    tiers = [
        (str(t["id"]), str(t.get("banner") or t.get("name") or t["id"])) for t in page.get("tiers") or []
    ]
    cache.set(TIERS_CACHE_KEY, tiers, TIERS_CACHE_SECONDS)
    return tiers
