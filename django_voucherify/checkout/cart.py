"""What goes into a checkout call and what comes out, and the client it goes through.

In: the shop's codes, order and customer, turned into the stackable validate/redeem request
body. Inputs are deliberately loose so views can pass what they have: codes as strings or
:class:`Redeemable` (a gift card or loyalty card with :meth:`Redeemable.gift` /
:meth:`Redeemable.loyalty`, with or without the credits or points to use, or a promotion tier
with :meth:`Redeemable.tier`), promotion tier ids, the order as the ``Order`` mirror or a
mapping (``source_id``, ``amount`` and/or ``items``), the customer as the ``Customer`` mirror, a
``source_id`` string or a mapping.

The stack's order (:func:`in_stack_order`): the discounts first, in the order given, then the
means of payment (gift cards, loyalty cards paying with points). Voucherify applies a stack in
the order sent (``redeemables_sorting_rule: REQUESTED_ORDER``, the project default): a gift card
sent before a 10 % promotion would pay the whole rest and leave the promotion nothing to take
off, so the shopper's balance would pay what the promotion should have.

Out: per-code results and order totals (minor units): :class:`ValidationOutcome`,
:class:`RedeemOutcome`.

Through: :func:`checkout_client`, the shared client's connection pool with checkout's short
timeout. Checkout must never hold an order placement longer than ``CHECKOUT_TIMEOUT`` (plus the
connect timeout), while the shared client may be configured for patient background work.
Sharing the shared client's ``requests.Session`` keeps one pool (and lets the
``voucherify_sandbox`` pytest fixture, which mounts the sandbox on that session, serve checkout
too).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _

from ..conf import MAX_REDEEMABLES as MAX_REDEEMABLES  # Voucherify redeems at most 30 per request
from ..conf import settings as voucherify_settings
from ..models.customers import Customer
from ..models.ledger import CheckoutRedemption
from ..models.orders import Order
from ..validation import code_problem, source_id_problem  # the one validator of every door
from . import order_loading
from .errors import InvalidCheckoutInput

if TYPE_CHECKING:
    from ..api.client import VoucherifyClient

# In ------------------------------------------------------------------------------------------

#: Upper bounds of what a cart can carry (abuse, overflow in Voucherify's arithmetic): amounts
#: and unit prices in minor units (10**12 cents = 10 billion in the currency), quantities per
#: line, lines per order.
MAX_AMOUNT = 10**12
MAX_QUANTITY = 10**6
MAX_ITEMS = 500


#: What a redeemable is: a voucher code (the default) or a promotion tier (an automatic
#: promotion, named by its ``promo_`` id).
VOUCHER = "voucher"
PROMOTION_TIER = "promotion_tier"
KINDS = (VOUCHER, PROMOTION_TIER)


#: What pays rather than discounts (Voucherify's ``result.gift`` / ``result.loyalty_card``): a gift
#: card's credits, a loyalty card's points. Sent after every discount (:func:`in_stack_order`).
GIFT_CARD = "gift_card"
LOYALTY_CARD = "loyalty_card"
CARDS = (GIFT_CARD, LOYALTY_CARD)


@dataclass(frozen=True)
class Redeemable:
    """A code with the credits (gift card) or points (loyalty card) to use from it; or, with
    ``kind=PROMOTION_TIER`` (:meth:`tier`), a promotion tier, ``code`` being its id.

    ``card`` (:data:`GIFT_CARD` or :data:`LOYALTY_CARD`, made by :meth:`gift` / :meth:`loyalty`)
    says the code pays, with or without an amount: it is sent after every discount. Giving
    ``gift_credits`` or ``loyalty_points`` says so too. A plain code keeps its place."""

    code: str
    gift_credits: int | None = None
    loyalty_points: int | None = None
    kind: str = VOUCHER
    card: str | None = None

    @classmethod
    def tier(cls, tier_id: str) -> Redeemable:
        """A promotion tier (``promo_...``) applied like a code."""
        return cls(tier_id, kind=PROMOTION_TIER)

    @classmethod
    def gift(cls, code: str, credits: int | None = None) -> Redeemable:
        """A gift card: pays what the discounts leave (``credits``: at most that much, in
        minor units; None: as much as its balance and the order allow)."""
        return cls(code, gift_credits=credits, card=GIFT_CARD)

    @classmethod
    def loyalty(cls, code: str, points: int | None = None) -> Redeemable:
        """A loyalty card paying with ``points`` (None: Voucherify's default), after the
        discounts."""
        return cls(code, loyalty_points=points, card=LOYALTY_CARD)

    @property
    def is_tier(self) -> bool:
        return self.kind == PROMOTION_TIER

    @property
    def pays(self) -> str | None:
        """:data:`GIFT_CARD` or :data:`LOYALTY_CARD` when this code pays (marked, or given
        credits or points), else None (a discount)."""
        if self.card is not None:
            return self.card
        if self.gift_credits is not None:
            return GIFT_CARD
        if self.loyalty_points is not None:
            return LOYALTY_CARD
        return None

    def to_voucherify(self) -> dict[str, Any]:
        # ``card`` is the library's to order the stack: Voucherify knows the voucher's type.
        item: dict[str, Any] = {"object": self.kind, "id": self.code}
        if self.gift_credits is not None:
            item["gift"] = {"credits": self.gift_credits}
        if self.loyalty_points is not None:
            item["reward"] = {"points": self.loyalty_points}
        return item


def in_stack_order(items: Iterable[Redeemable]) -> list[Redeemable]:
    """``items`` as Voucherify must apply them: the discounts (codes, promotion tiers) first,
    then what pays (:attr:`Redeemable.pays`), each group in its given order (see the module's
    docstring: Voucherify applies a stack in the order sent)."""
    items = list(items)
    return [i for i in items if i.pays is None] + [i for i in items if i.pays is not None]


CodeInput = str | Redeemable

#: Iterables that are not a list of codes or tiers (checked before iterating them).
_NOT_A_LIST = (str, bytes, bytearray, Mapping)
OrderInput = Order | Mapping[str, Any]
CustomerInput = Customer | str | Mapping[str, Any] | None


def _use(item: Redeemable) -> tuple[int | None, int | None, str | None]:
    """What a code is used for: the credits, the points, whether it pays."""
    return item.gift_credits, item.loyalty_points, item.pays


def redeemables(codes: Sequence[CodeInput], tiers: Sequence[str] = ()) -> list[Redeemable]:
    """Normalise ``codes`` then ``tiers`` (promotion tier ids, after the codes): stripped, no
    blanks, no duplicates (a repeat is dropped; one that differs, such as a code given plain and
    as a gift card, is refused), 1 to 30 of them in all, in stack order (:func:`in_stack_order`: the
    gift and loyalty cards marked as such after every discount). A tier carries no credits or
    points and never pays."""
    if isinstance(codes, (*_NOT_A_LIST, Redeemable)) or isinstance(tiers, _NOT_A_LIST):
        # A str is a Sequence[str]: iterated, "SAVE5" would be sent as five one-letter codes;
        # bytes as their byte values ("83", "65"...), a mapping as its keys (review 20).
        raise InvalidCheckoutInput(_("Give the voucher codes and promotion tiers as lists, not as one text."))
    if not all(isinstance(t, str) for t in tiers):
        # str() of anything else (a Redeemable, a number) was sent as a tier id (review 20).
        raise InvalidCheckoutInput(_("A promotion tier is given by its id (text)."))
    result: list[Redeemable] = []
    seen: dict[tuple[str, str], Redeemable] = {}
    for code in [*codes, *(Redeemable.tier(t) for t in tiers)]:
        item = code if isinstance(code, Redeemable) else Redeemable(str(code))
        if item.kind not in KINDS:
            raise InvalidCheckoutInput(_("A redeemable is a voucher code or a promotion tier."))
        if item.card is not None and item.card not in CARDS:
            raise InvalidCheckoutInput(_("A card that pays is a gift card or a loyalty card."))
        if item.is_tier and item.pays is not None:
            raise InvalidCheckoutInput(_("A promotion tier has no gift credits or loyalty points to use."))
        stripped = item.code.strip()
        if (kept := seen.get((item.kind, stripped))) is not None:  # already checked and kept
            if _use(kept) != _use(item):
                # Given plain and marked (or with other credits or points): keeping the first
                # sent a gift card given plain before the discounts, its mark dropped; the
                # REST door refuses a code named twice too.
                raise InvalidCheckoutInput(_("Each voucher code can be entered only once."))
            continue
        if problem := code_problem(stripped):  # a tier id follows the rule of codes
            raise InvalidCheckoutInput(problem)
        kept = Redeemable(stripped, item.gift_credits, item.loyalty_points, item.kind, item.card)
        seen[(item.kind, stripped)] = kept
        result.append(kept)
        if len(result) > MAX_REDEEMABLES:  # refused now: a huge list costs no more than this
            raise InvalidCheckoutInput(
                _("At most %(max)d voucher codes can be used together.") % {"max": MAX_REDEEMABLES}
            )
    if not result:
        raise InvalidCheckoutInput(_("Enter at least one voucher code."))
    return in_stack_order(result)


def _whole_minor_units(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def order_body(order: OrderInput) -> dict[str, Any]:
    """The ``order`` object of the request (``source_id``, ``amount``, ``items``)."""
    if isinstance(order, Order):
        body = order_loading.order_body(order)  # order.to_voucherify(), its items read cheaply
        body.pop("status", None)  # the order's state is the shop's; redeeming does not change it
        body.pop("customer", None)
        return body
    body = {k: v for k, v in dict(order).items() if v is not None}
    if "amount" in body:
        if not _whole_minor_units(body["amount"]) or body["amount"] < 0:
            raise InvalidCheckoutInput(
                _("Order amounts are whole numbers of minor units (cents), zero or more.")
            )
        if body["amount"] > MAX_AMOUNT:
            raise InvalidCheckoutInput(
                _("The order amount is too large (at most %(max)d minor units).") % {"max": MAX_AMOUNT}
            )
    if len(body.get("items") or ()) > MAX_ITEMS:
        raise InvalidCheckoutInput(_("An order has at most %(max)d lines.") % {"max": MAX_ITEMS})
    return body


def order_source_id_of(order: OrderInput) -> str:
    """The order's ``source_id``, checked: the ledger's one-live-row-per-order key."""
    order_source_id = order.source_id if isinstance(order, Order) else order.get("source_id")
    if not order_source_id:
        raise InvalidCheckoutInput(
            _("The order needs a source_id: the ledger allows one redemption per order.")
        )
    if problem := source_id_problem(str(order_source_id)):
        raise InvalidCheckoutInput(problem)
    return str(order_source_id)


def customer_body(customer: CustomerInput) -> dict[str, Any] | None:
    """The ``customer`` object of the request; its ``source_id`` checked by the one source-id
    validator, as the order's is. Unchecked, a source id over 200 characters was redeemed under
    its full value but recorded cut on the ledger row, and reconciliation, listing that row's
    customer, then found nothing: "not redeemed", the redemption left live."""
    if customer is None:
        return None
    if isinstance(customer, Customer):
        return {"source_id": customer.source_id}
    if not isinstance(customer, str | Mapping):
        # dict() of a number raised TypeError; of a list of pairs it became a customer.
        raise InvalidCheckoutInput(_("A customer is a Customer, a source id (text) or a mapping."))
    body = {"source_id": customer} if isinstance(customer, str) else dict(customer)
    source_id = body.get("source_id")
    if source_id not in (None, "") and (problem := source_id_problem(source_id)):
        raise InvalidCheckoutInput(problem)
    return body


def customer_source_id_of(customer: CustomerInput) -> str:
    body = customer_body(customer) or {}
    return str(body.get("source_id") or "")


def request_body(
    codes: Sequence[Redeemable], order: OrderInput, customer: CustomerInput, **extra: Any
) -> dict[str, Any]:
    """The ``StackableValidateRedeemBase`` body shared by validate and redeem."""
    body: dict[str, Any] = {
        "redeemables": [c.to_voucherify() for c in codes],
        "order": order_body(order),
    }
    customer_obj = customer_body(customer)
    if customer_obj:
        body["customer"] = customer_obj
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


# Out -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeResult:
    """One code: applies (with the discount it brings) or not (with the reason to show)."""

    code: str
    applicable: bool
    discount_amount: int = 0
    reason_key: str | None = None
    reason: str = ""
    #: ``"voucher"`` or ``"promotion_tier"`` (then ``code`` is the tier's id).
    kind: str = VOUCHER
    #: :data:`GIFT_CARD` or :data:`LOYALTY_CARD` when the code pays: from Voucherify's answer
    #: (``result.gift`` / ``result.loyalty_card`` of an applicable code), else as it was given
    #: (:attr:`Redeemable.pays`); None for a discount (or a refused code given plain).
    card: str | None = None

    def redeemable(self) -> Redeemable:
        """This code as the next validate or redeem should get it: a gift or loyalty card
        marked (sent after every discount, paying what they leave), a tier as a tier."""
        return Redeemable(self.code, kind=self.kind, card=self.card)


@dataclass(frozen=True)
class Totals:
    """``amount`` before discounts, ``discount_amount`` (all discounts), ``total_amount`` to pay."""

    amount: int
    discount_amount: int
    total_amount: int

    @classmethod
    def from_order(cls, order: Mapping[str, Any] | None, fallback_amount: int | None) -> Totals:
        order = order or {}
        amount = order.get("amount")
        amount = int(amount if amount is not None else (fallback_amount or 0))
        discount = int(order.get("total_discount_amount") or 0)
        total = order.get("total_amount")
        return cls(amount, discount, int(total) if total is not None else amount - discount)

    @classmethod
    def undiscounted(cls, amount: int | None) -> Totals:
        return cls(int(amount or 0), 0, int(amount or 0))


@dataclass(frozen=True)
class ValidationOutcome:
    """The result of :func:`~django_voucherify.checkout.validate`.

    ``valid``: every code applies. ``unavailable``: Voucherify could not answer and the outage
    policy lets checkout go on without discount (``notice`` says so to the customer).
    """

    valid: bool
    codes: list[CodeResult]
    totals: Totals
    session_key: str | None = None
    unavailable: bool = False
    notice: str = ""
    request_id: str | None = None
    #: ``automatic=True`` and the automatic promotions could not be looked up (outage): the codes
    #: were checked alone.
    automatic_unavailable: bool = False

    @property
    def refused(self) -> list[CodeResult]:
        return [c for c in self.codes if not c.applicable]


@dataclass(frozen=True)
class RedeemOutcome:
    """The result of :func:`~django_voucherify.checkout.redeem`.

    ``applied`` is False when the outage policy let the order proceed without discount (then
    ``notice`` explains it and ``totals`` are undiscounted).
    """

    ledger: CheckoutRedemption
    totals: Totals
    applied: bool = True
    notice: str = ""
    redemption_ids: list[str] = field(default_factory=list)
    parent_redemption_id: str | None = None
    #: ``automatic=True`` and the automatic promotions could not be looked up (outage): the codes
    #: were redeemed alone.
    automatic_unavailable: bool = False


# Through -------------------------------------------------------------------------------------

_lock = threading.Lock()
_cache: tuple[VoucherifyClient, VoucherifyClient] | None = None


def checkout_client() -> VoucherifyClient:
    """A client bound to the shared session with ``CHECKOUT_TIMEOUT`` as read timeout and as
    retry budget (rebuilt when the shared client is)."""
    global _cache
    from .. import get_client
    from ..api.client import VoucherifyClient  # here: importing checkout must not load requests
    from ..api.retry import RetryPolicy

    shared = get_client()
    cached = _cache
    if cached is not None and cached[0] is shared:
        return cached[1]
    with _lock:
        conf = voucherify_settings()
        base = shared.transport.retry
        checkout = VoucherifyClient.from_settings(
            session=shared.transport.session,
            read_timeout=conf.checkout_timeout,
            retry=RetryPolicy(
                max_retries=base.max_retries,
                budget=min(base.budget, conf.checkout_timeout),
                backoff_base=base.backoff_base,
                backoff_max=base.backoff_max,
            ),
        )
        _cache = (shared, checkout)
    return checkout
