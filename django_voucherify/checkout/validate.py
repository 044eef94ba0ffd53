"""``validate(codes, order, customer)``: what each code would take off, before placing the order;
the automatic promotions a cart qualifies for (:func:`with_automatic`, shared with redeem); and
the outage policy every checkout step follows.

An *outage* is an answer that says nothing about the codes: no response (timeout, refused or
dropped connection), 429 and 5xx. Business refusals (400/404 with a key) are not outages. During
an outage checkout refuses (``CheckoutUnavailable``) or, with ``CHECKOUT_OUTAGE_POLICY =
"proceed_without_discount"``, lets the order go through at full price.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext

from .. import conf
from ..api.errors import APIError, RateLimitedError, ServerError, TransportError, VoucherifyError
from ..conf import PROCEED_WITHOUT_DISCOUNT
from ..validation import SHAPE_ERRORS
from . import cart, hierarchy
from .cart import CodeResult, Totals, ValidationOutcome, checkout_client
from .errors import CheckoutUnavailable, CodesRefused, message_for, message_for_error, unavailable_message

if TYPE_CHECKING:
    from ..api.client import VoucherifyClient

logger = logging.getLogger("django_voucherify.checkout")


def validate(
    codes: Sequence[cart.CodeInput],
    order: cart.OrderInput,
    customer: cart.CustomerInput = None,
    *,
    lock: bool = False,
    session_key: str | None = None,
    tiers: Sequence[str] = (),
    automatic: bool = False,
    client: VoucherifyClient | None = None,
) -> ValidationOutcome:
    """Validate ``codes`` and promotion ``tiers`` (1 to 30 in all, stacked: the codes first, then
    the tiers, in the order given, then the gift and loyalty cards marked as such, see
    :func:`~.cart.in_stack_order`) against ``order`` for ``customer``. ``codes`` may be empty
    when ``tiers`` are given; a :class:`~django_voucherify.checkout.Redeemable` made with
    :meth:`~django_voucherify.checkout.Redeemable.tier` places a tier among the codes.

    Returns the discount per code and the order totals; codes that do not apply carry a
    translated ``reason`` (the validation rule's own message when the shop wrote one). With
    ``lock=True`` Voucherify holds the codes in a validation session (``session_key`` in the
    result; pass it to :func:`~django_voucherify.checkout.redeem`).

    One HTTP call. During an outage: raises :class:`CheckoutUnavailable` (policy ``refuse``) or
    returns ``unavailable=True`` with undiscounted totals (``proceed_without_discount``). A
    request Voucherify refuses as a whole (e.g. 404 for an unknown code) raises
    :class:`CodesRefused`.

    ``automatic=True`` also applies the automatic promotions the cart qualifies for (see
    :func:`with_automatic`: one qualifications call first, plus one read of a campaign's tiers
    per campaign two or more qualifying tiers share, for its hierarchy; the qualifying tiers
    are added after ``codes`` and ``tiers``, before the marked gift and loyalty cards; they are
    in ``codes`` of the result with ``kind="promotion_tier"``; those the stack refuses are left
    out by a second validation, see :func:`without_refused_automatic`).
    ``codes`` may then be empty; when nothing is left to validate, the result has no code and
    undiscounted totals (no second call).
    """
    if not automatic:
        return _validate(cart.redeemables(codes, tiers), order, customer, lock, session_key, api=client)
    api = client or checkout_client()
    found = with_automatic(codes, tiers, order, customer, api)
    if not found.items:
        return _nothing_to_validate(order, unavailable=found.unavailable)
    outcome = _validate(found.items, order, customer, lock, session_key, api=api)
    rest = without_refused_automatic(outcome, found)
    if rest is not None:  # an automatic tier the stack refuses: validated again without it
        if not rest:
            return _nothing_to_validate(order, unavailable=False)
        outcome = _validate(rest, order, customer, lock, session_key, api=api)
    if not found.unavailable:
        return outcome
    return replace(outcome, automatic_unavailable=True, notice=outcome.notice or unavailable_message())


def _nothing_to_validate(order: cart.OrderInput, *, unavailable: bool) -> ValidationOutcome:
    """No redeemable left to validate: no code and undiscounted totals (no call)."""
    return ValidationOutcome(
        valid=False,
        codes=[],
        totals=Totals.undiscounted(cart.order_body(order).get("amount")),
        unavailable=unavailable,
        notice=unavailable_message() if unavailable else "",
        automatic_unavailable=unavailable,
    )


def validate_items(
    items: list[cart.Redeemable],
    order: cart.OrderInput,
    customer: cart.CustomerInput,
    *,
    api: VoucherifyClient | None,
) -> ValidationOutcome:
    """One validation of ``items`` (normalised redeemables) as they are: no session, no lookup."""
    return _validate(items, order, customer, False, None, api=api)


def _validate(
    items: list[cart.Redeemable],
    order: cart.OrderInput,
    customer: cart.CustomerInput,
    lock: bool,
    session_key: str | None,
    *,
    api: VoucherifyClient | None,
) -> ValidationOutcome:
    session: dict[str, Any] | None = None
    if lock or session_key:
        session = {"type": "LOCK", **({"key": session_key} if session_key else {})}
    body = cart.request_body(items, order, customer, session=session)
    fallback_amount = body["order"].get("amount")
    try:
        response = (api or checkout_client()).validations.validate(body)
    except VoucherifyError as exc:
        if is_shop_side(exc):
            logger.error("Voucherify checkout: validate refused the shop's credentials: %s", exc)
        if is_outage(exc) or is_shop_side(exc):
            return _unavailable(items, fallback_amount)
        if isinstance(exc, APIError):
            raise CodesRefused(
                message_for(exc.key, exc.error_message), key=exc.key, request_id=exc.request_id
            ) from exc
        raise
    try:
        return _outcome(items, response, fallback_amount)
    except SHAPE_ERRORS as exc:
        # A 2xx JSON object that is not Voucherify's answer (a gateway's or a proxy's body, a
        # field of the wrong type): it proves nothing about the codes, so it is an outage, not
        # a refusal and not a 500.
        logger.error("Voucherify checkout: the validate answer has an unexpected shape (%s)", exc)
        return _unavailable(items, fallback_amount)


# Automatic promotions ---------------------------------------------------------------------------

#: The most tiers one qualifications call asks for (Voucherify's page maximum).
MAX_QUALIFIED = 50
_TIERS_ONLY = {"resource_type": {"conditions": {"$is": [cart.PROMOTION_TIER]}}}


@dataclass(frozen=True)
class WithAutomatic:
    """What to send: the discounts given, then the qualifying automatic promotions (best deal
    first, the tiers of one campaign in its hierarchy), then the gift and loyalty cards given
    (:func:`~.cart.in_stack_order`). ``unavailable``: the lookup met an
    outage and the policy lets checkout go on, so ``items`` are the redeemables given alone."""

    items: list[cart.Redeemable]
    unavailable: bool = False
    #: The qualifying tiers added after the discounts given (before the cards that pay).
    added: tuple[cart.Redeemable, ...] = ()


def with_automatic(
    codes: Sequence[cart.CodeInput],
    tiers: Sequence[str],
    order: cart.OrderInput,
    customer: cart.CustomerInput,
    api: VoucherifyClient,
) -> WithAutomatic:
    """``codes`` and ``tiers`` with the promotion tiers ``order`` qualifies for after their
    discounts, before the gift and loyalty cards that pay what every discount leaves.

    One qualifications call (``POST /v1/qualifications``, scenario ``ALL``, promotion tiers
    only, ``BEST_DEAL``, as many as there is room for beside the redeemables given: 30 in all),
    bounded by ``CHECKOUT_TIMEOUT``; skipped when there is no room. Each tier qualified on the
    cart alone: the validation or redeem that follows checks them stacked with the codes.
    A tier given explicitly is not repeated. When two or more share a campaign, one read of
    that campaign's tiers puts them in its hierarchy (:func:`.hierarchy.in_hierarchy`; a failed
    read keeps the qualifications order). Nothing is written, so any failure here leaves the
    order as it was.

    Outage (no answer, 429, 5xx, 401/403, an answer of the wrong shape): policy ``refuse``
    raises :class:`CheckoutUnavailable`; ``proceed_without_discount`` goes on with the
    redeemables given alone (``unavailable=True``). A refusal of the request (400/404, e.g. an
    order id Voucherify does not know) raises :class:`CodesRefused`.
    """
    given = cart.redeemables(codes, tiers) if (codes or tiers) else []
    room = min(MAX_QUALIFIED, cart.MAX_REDEEMABLES - len(given))
    if room <= 0:
        return WithAutomatic(given)
    body: dict[str, Any] = {
        "scenario": "ALL",
        "order": cart.order_body(order),
        "options": {
            "limit": room,
            "sorting_rule": "BEST_DEAL",
            "filters": _TIERS_ONLY,
            "expand": ["redeemable"],  # each tier's campaign_id, for the hierarchy
        },
    }
    customer_obj = cart.customer_body(customer)
    if customer_obj:
        body["customer"] = customer_obj
    try:
        response = api.qualifications.check_eligibility(body)
        found = _qualified_tiers(response)
    except VoucherifyError as exc:
        if is_shop_side(exc):
            logger.error("Voucherify checkout: qualifications refused the shop's credentials: %s", exc)
        if not (is_outage(exc) or is_shop_side(exc)):
            if isinstance(exc, APIError):
                raise CodesRefused(
                    message_for(exc.key, exc.error_message), key=exc.key, request_id=exc.request_id
                ) from exc
            raise
        return _automatic_unavailable(given)
    except SHAPE_ERRORS as exc:
        logger.error("Voucherify checkout: the qualifications answer has an unexpected shape (%s)", exc)
        return _automatic_unavailable(given)
    named = {(item.kind, item.code) for item in given}
    fresh = [tier for tier in found if (cart.PROMOTION_TIER, tier.id) not in named]
    ordered = hierarchy.in_hierarchy(fresh[: cart.MAX_REDEEMABLES - len(given)], api)
    extra = [cart.Redeemable.tier(tier_id) for tier_id in ordered]
    return WithAutomatic(cart.in_stack_order([*given, *extra]), added=tuple(extra))


def without_refused_automatic(
    outcome: ValidationOutcome, found: WithAutomatic
) -> list[cart.Redeemable] | None:
    """``found.items`` without the automatic tiers ``outcome`` (a validation of them) refuses,
    when every refusal in it is of such a tier; None when the refusal is not theirs to lift (a
    code or a tier given is refused, or nothing is).

    Each tier qualified on the cart alone, and qualifications ignore some of the rules a
    validation or a redeem enforces (redemptions per customer, a campaign's total limits; the
    spec's warning) and are cached for five minutes (a tier disabled meanwhile still qualifies).
    Voucherify refuses a stack as a whole, so such a tier would refuse the customer's own codes
    (and every automatic checkout of that customer) for as long as the promotion runs: the
    customer never asked for it, so it is left out instead."""
    added = {(item.kind, item.code) for item in found.added}
    refused = {(c.kind, c.code) for c in outcome.codes if not c.applicable and c.reason_key != "skipped"}
    if outcome.valid or outcome.unavailable or not refused or not refused <= added:
        return None
    return [item for item in found.items if (item.kind, item.code) not in refused]


def _qualified_tiers(response: Mapping[str, Any]) -> list[hierarchy.QualifiedTier]:
    """The tiers of a qualifications answer, best deal first (Voucherify sorts a page), each
    once."""
    entries = [e for e in response["redeemables"]["data"] if e["object"] == cart.PROMOTION_TIER]
    entries.sort(key=lambda e: -int((e.get("order") or {}).get("total_applied_discount_amount") or 0))
    once: dict[str, hierarchy.QualifiedTier] = {}
    for entry in entries:
        tier = hierarchy.qualified(entry)
        once.setdefault(tier.id, tier)
    return list(once.values())


def _automatic_unavailable(given: list[cart.Redeemable]) -> WithAutomatic:
    if proceeds_without_discount():
        return WithAutomatic(given, unavailable=True)
    raise CheckoutUnavailable()


def _unavailable(items: Sequence[cart.Redeemable], fallback_amount: int | None) -> ValidationOutcome:
    """The outage policy's answer: undiscounted totals, or :class:`CheckoutUnavailable`."""
    if proceeds_without_discount():
        return ValidationOutcome(
            valid=False,
            codes=[
                CodeResult(c.code, False, reason=unavailable_message(), kind=c.kind, card=c.pays)
                for c in items
            ],
            totals=Totals.undiscounted(fallback_amount),
            unavailable=True,
            notice=unavailable_message(),
        )
    raise CheckoutUnavailable()


def _outcome(
    items: Sequence[cart.Redeemable], response: Mapping[str, Any], fallback_amount: int | None
) -> ValidationOutcome:
    # Keyed by object and id: a tier's id and a code may be the same text.
    by_code: dict[tuple[str, str], Mapping[str, Any]] = {}
    for entry in response.get("redeemables") or []:
        by_code.setdefault(_entry_key(entry), entry)
    for entry in response.get("inapplicable_redeemables") or []:
        by_code[_entry_key(entry)] = entry
    results: list[CodeResult] = []
    for item in items:
        entry = by_code.get((item.kind, item.code)) or {}
        status = entry.get("status")
        if status == "APPLICABLE":
            order_after = entry.get("order") or {}
            discount = int(
                order_after.get("total_applied_discount_amount")
                or order_after.get("applied_discount_amount")
                or 0
            )
            card = _card_of(entry.get("result")) or item.pays
            results.append(CodeResult(item.code, True, discount, kind=item.kind, card=card))
        elif status == "INAPPLICABLE":
            key, message = message_for_error((entry.get("result") or {}).get("error"))
            results.append(
                CodeResult(item.code, False, reason_key=key, reason=message, kind=item.kind, card=item.pays)
            )
        else:  # SKIPPED: fine on its own, not applied because another code failed
            skipped = str(_skipped_message())
            results.append(
                CodeResult(
                    item.code, False, reason_key="skipped", reason=skipped, kind=item.kind, card=item.pays
                )
            )
    session = response.get("session") or {}
    return ValidationOutcome(
        valid=bool(response.get("valid")),
        codes=results,
        totals=Totals.from_order(response.get("order"), fallback_amount),
        session_key=session.get("key"),
        request_id=response.get("id"),
    )


def _card_of(result: Any) -> str | None:
    """Whether an applicable redeemable pays, from its ``result`` (``RedeemableResultGiftCard``
    holds ``gift``, ``RedeemableResultLoyaltyCard`` ``loyalty_card``; a discount neither)."""
    if not isinstance(result, Mapping):
        return None
    if isinstance(result.get("gift"), Mapping):
        return cart.GIFT_CARD
    if isinstance(result.get("loyalty_card"), Mapping):
        return cart.LOYALTY_CARD
    return None


def _entry_key(entry: Mapping[str, Any]) -> tuple[str, str]:
    return str(entry.get("object") or cart.VOUCHER), str(entry.get("id"))


def _skipped_message() -> str:
    return gettext("Not applied because another code cannot be used.")


#: The only 5xx that proves the redeem was not applied: an explicit "service unavailable"
#: (maintenance, overload shedding) is answered before the request is processed. A 502 or 504
#: comes from a gateway that may have given up *after* Voucherify's application redeemed, and a
#: 500 may be raised after the redemption was written, so those leave the outcome unknown.
NOT_PROCESSED_STATUSES = frozenset({503})


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` means Voucherify could not answer (rather than refused)."""
    return isinstance(exc, TransportError | RateLimitedError | ServerError)


#: Refusals of the shop's credentials, never of a code: the keys are wrong, revoked or lack a
#: permission. Checkout treats them like an outage (the customer is told Voucherify cannot
#: check codes right now, the outage policy applies) and logs an error for staff to fix the keys.
SHOP_SIDE_STATUSES = frozenset({401, 403})


def is_shop_side(exc: BaseException) -> bool:
    """Whether ``exc`` refuses the shop's credentials rather than the customer's codes."""
    return isinstance(exc, APIError) and exc.status in SHOP_SIDE_STATUSES


def redeem_may_have_happened(exc: BaseException) -> bool:
    """Whether a failed redeem request may still have been applied by Voucherify.

    Only three answers prove that nothing was redeemed (the order is free again):

    - a connection that provably never opened (``TransportError.request_sent is False``);
    - 429 (rate limited before processing);
    - an explicit 503.

    Everything else without a definite answer (timeouts, resets after sending, 500, 502, 504,
    any other 5xx) leaves the outcome unknown: the ledger row is UNKNOWN and reconciled by
    reading redemptions back, never by sending the redeem again.
    """
    if isinstance(exc, TransportError):  # RequestTimeout included
        return exc.request_sent is not False
    if isinstance(exc, RateLimitedError):
        return False
    if isinstance(exc, APIError):
        return exc.status >= 500 and exc.status not in NOT_PROCESSED_STATUSES
    return True


def proceeds_without_discount() -> bool:
    """True when the policy lets an order go through at full price during an outage."""
    return conf.settings().checkout_outage_policy == PROCEED_WITHOUT_DISCOUNT
