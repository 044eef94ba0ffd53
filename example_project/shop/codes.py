"""The voucher codes of a shopper's checkout, kept in the session.

Only codes Voucherify accepted stay in the session: a refused code is dropped the moment it is
refused, with its reason shown once (as a message on the page that refused it), so it never
comes back on the next visit nor makes "Place order" create an order bound to fail. Codes are
added and removed one by one; what is typed is checked first by the app's code rule
(forms.ApplyCodeForm), so a code is never split on the spaces or commas it may contain.

Gift cards (and loyalty cards) pay what every discount leaves, so they are passed to checkout
marked as such (``checkout.Redeemable.gift``), which sends them after the codes and the
automatic promotion: Voucherify applies a stack in the order sent, and a gift card sent first
paid the whole rest, leaving the 10 % promotion nothing. The shop learns a code is a card from
its validation (``CodeResult.card``) and keeps that beside the code (:func:`marked`); a card
just learnt is validated again in its place, so the page's totals are the ones Place order
redeems.

Every code typed into the Apply form is charged to the checkout service's budget of unknown
codes (``checkout.UnknownCodesBudget``, per user and per address, the budget the REST endpoints
draw from) before Voucherify is asked, and handed back once Voucherify shows the code exists:
guessing codes here costs what it costs through the API. Once the budget is spent the form
answers "try again later" without asking Voucherify.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest
from django.utils.translation import gettext as _

from django_voucherify import checkout
from django_voucherify.checkout.budget import UNKNOWN_CODE_KEYS
from django_voucherify.checkout.cart import PROMOTION_TIER
from django_voucherify.models import Customer

from .cart import Cart

SESSION_CODES = "shop_voucher_codes"
#: The kept codes that pay (gift or loyalty cards): code -> ``checkout.CodeResult.card``.
SESSION_CARDS = "shop_voucher_cards"
MAX_CODES = 30  # validate()'s own limit on stacked codes


def kept(request: HttpRequest) -> list[str]:
    return list(request.session.get(SESSION_CODES, []))


def keep(request: HttpRequest, codes: list[str]) -> None:
    if codes:
        request.session[SESSION_CODES] = codes
    else:
        request.session.pop(SESSION_CODES, None)
    _keep_cards(request, {c: card for c, card in _cards(request).items() if c in codes})


def _cards(request: HttpRequest) -> dict[str, str]:
    return dict(request.session.get(SESSION_CARDS, {}))


def _keep_cards(request: HttpRequest, cards: dict[str, str]) -> None:
    if cards:
        request.session[SESSION_CARDS] = cards
    else:
        request.session.pop(SESSION_CARDS, None)


def marked(request: HttpRequest, codes: list[str] | None = None) -> list[checkout.Redeemable]:
    """``codes`` (the kept ones by default) as checkout takes them: the gift and loyalty cards
    marked, so they pay after every discount."""
    cards = _cards(request)
    return [checkout.Redeemable(c, card=cards.get(c)) for c in (kept(request) if codes is None else codes)]


def _learn_cards(request: HttpRequest, outcome: Any) -> bool:
    """Remember the codes ``outcome`` shows to pay; whether one of them was sent before a
    discount (a card just learnt, sent where it was typed): the stack must be validated again."""
    sent = list(outcome.codes)
    found = {c.code: c.card for c in sent if c.card and c.kind != PROMOTION_TIER}
    if found:
        _keep_cards(request, {**_cards(request), **found})
    return any(c.card and any(later.card is None for later in sent[i + 1 :]) for i, c in enumerate(sent))


def remove(request: HttpRequest, code: str) -> bool:
    codes = kept(request)
    if code not in codes:
        return False
    keep(request, [c for c in codes if c != code])
    return True


def _customer(request: HttpRequest) -> Customer | None:
    return Customer.objects.filter(user=request.user).first() if request.user.is_authenticated else None


#: What ``check`` learnt of each code it dropped: Voucherify's reason key (None when unknown).
Refusals = dict[str, str | None]


def _refused(request: HttpRequest, code: str, reason: str, key: str | None, refusals: Refusals) -> None:
    messages.error(request, _("%(code)s: %(reason)s") % {"code": code, "reason": reason})
    refusals[code] = key


def _key(refused: checkout.CheckoutError) -> str | None:
    return refused.key if isinstance(refused, checkout.CodesRefused) else None


def check(
    request: HttpRequest,
    cart: Cart,
    codes: list[str],
    refusals: Refusals | None = None,
    tiers: list[str] | None = None,
) -> Any:
    """Validate ``codes`` for the cart, with the automatic promotion's ``tiers`` (offers.py)
    after them; keep the codes that apply, drop (and say why, once) those refused (their reason
    keys go into ``refusals``). Returns the validation of the kept codes and the tiers, or None
    (nothing to validate, or Voucherify unavailable: the codes are kept and the message says
    so)."""
    refusals = {} if refusals is None else refusals
    tiers = tiers or []
    if not (codes or tiers) or not cart.lines():
        keep(request, codes)
        return None
    order, customer = cart.voucherify_order(), _customer(request)
    try:
        outcome = checkout.validate(marked(request, codes), order, customer, tiers=tiers)
    except (checkout.CodesRefused, checkout.InvalidCheckoutInput) as refused:
        if not codes:  # the automatic promotion alone, refused since it was found: no discount
            return None
        if tiers:  # judged without the automatic promotion, which must never cost a code
            return check(request, cart, codes, refusals)
        if len(codes) == 1:
            _refused(request, codes[0], refused.message, _key(refused), refusals)
            keep(request, [])
            return None
        # Refused as a whole (an unknown code makes Voucherify refuse the request): find the
        # culprit(s) one code at a time, then validate the rest together (stacking rules).
        good = []
        for code in codes:
            try:
                checkout.validate([code], order, customer)
            except (checkout.CodesRefused, checkout.InvalidCheckoutInput) as exc:
                _refused(request, code, exc.message, _key(exc), refusals)
            except checkout.CheckoutError as exc:  # unavailable midway: as for the whole set
                return _unavailable(request, codes, exc)
            else:
                good.append(code)
        if good == codes:  # each applies alone, not together: the last one added goes
            _refused(request, codes[-1], refused.message, _key(refused), refusals)
            good = codes[:-1]
        return check(request, cart, good, refusals, tiers)
    except checkout.CheckoutError as exc:  # unavailable (outage policy "refuse")
        return _unavailable(request, codes, exc)
    if outcome.unavailable:  # outage, policy "proceed without discount": its notice is shown
        keep(request, codes)
        return outcome
    refused = [c for c in outcome.codes if not c.applicable and c.reason_key != "skipped"]
    if codes and tiers and not outcome.valid and any(c.kind == PROMOTION_TIER for c in refused):
        # The automatic promotion does not apply with these codes (a once-per-customer one the
        # offers still list: qualifications ignore that limit), and Voucherify refuses a stack
        # as a whole: judged without it, it must never cost a code.
        return check(request, cart, codes, refusals)
    # Only codes are dropped.
    dropped = [c for c in refused if c.code in codes and c.kind != PROMOTION_TIER]
    if not dropped:
        if _learn_cards(request, outcome):  # a card sent before a discount: again, in its place
            return check(request, cart, codes, refusals, tiers)
        keep(request, codes)
        return outcome
    for result in dropped:
        _refused(request, result.code, result.reason, result.reason_key, refusals)
    rest = [c for c in codes if c not in {r.code for r in dropped}]
    return check(
        request, cart, rest, refusals, tiers
    )  # codes skipped because of a refused one are judged again


def _unavailable(request: HttpRequest, codes: list[str], exc: checkout.CheckoutError) -> None:
    messages.error(request, exc.message)
    keep(request, codes)
    return None


def add(request: HttpRequest, cart: Cart, code: str, tiers: list[str] | None = None) -> Any:
    """One code (already through the code rule), added to the kept ones and checked with them,
    paid for from the client's budget of unknown codes (see the module's docstring)."""
    codes = kept(request)
    if code in codes:
        messages.info(request, _("%(code)s is already applied.") % {"code": code})
        return check(request, cart, codes, tiers=tiers)
    if len(codes) >= MAX_CODES:
        messages.error(request, _("At most %(max)d voucher codes per order.") % {"max": MAX_CODES})
        return check(request, cart, codes, tiers=tiers)
    budget = checkout.UnknownCodesBudget(checkout.client_idents(request.user, request.META))
    try:
        budget.reserve_or_raise(1)
    except checkout.TooManyAttempts as spent:
        messages.error(request, spent.message)
        return check(request, cart, codes, tiers=tiers)
    refusals: Refusals = {}
    outcome = check(request, cart, [*codes, code], refusals, tiers)
    budget.settle(0 if _exists(request, code, outcome, refusals) else 1)
    return outcome


def _exists(request: HttpRequest, code: str, outcome: Any, refusals: Refusals) -> bool:
    """Whether Voucherify showed ``code`` exists: refused for a reason other than "no such
    code", or kept after a validation that reached Voucherify. A code kept unverified (an empty
    cart, an outage) stays charged: it must not be checked for free later."""
    if code in refusals:
        return refusals[code] not in UNKNOWN_CODE_KEYS
    return code in kept(request) and outcome is not None and not outcome.unavailable
