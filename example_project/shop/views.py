"""The demo shop: products, a session cart, checkout with a voucher field, confirmation.

Checkout follows docs/checkout.md: validate the codes to show the discount, then place the
order: ShopOrder (mirrored to the Voucherify order) -> redeem_then_pay -> paid, or rolled back.

Placing an order is idempotent: the checkout form carries a one-time token, stored on the
ShopOrder (unique), so a double click or a retried POST finds the order the first one created
instead of creating (and redeeming for) a second one.

Nothing here calls Voucherify but checkout's own bounded calls (the cart page's offers and
validation, the automatic promotion's tiers (offers.py); at Place order only validate, redeem,
and a rollback when payment fails): the order and customer syncs, retries and reconciliation run in
the Celery worker (./scripts/demo starts one). The voucher codes live in the session, and only
those Voucherify accepted (codes.py).

A paid order's payment reference and status PAID are written in one transaction, retried while
SQLite says "database is locked" (settle.record_payment). Whatever else interrupts a placement
(a dying process, a bug) leaves the order NEW: the shop's periodic sweep
(settle.settle_stranded_orders) settles it once it is older than the placement grace.
"""

from __future__ import annotations

import secrets
from dataclasses import replace

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import OperationalError, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from django_voucherify import checkout
from django_voucherify.checkout.cart import PROMOTION_TIER
from django_voucherify.models import CheckoutRedemption, Order

from . import accounts, payment, settle, welcome
from . import codes as session_codes
from . import offers as shop_offers
from .cart import Cart
from .forms import ApplyCodeForm
from .models import Product, ShopOrder

TOKEN_FIELD = "checkout_token"
#: The automatic promotion's tiers the checkout page showed applied (session).
AUTOMATIC_TIERS = "shop_automatic_tiers"


def products(request: HttpRequest) -> HttpResponse:
    return render(
        request, "shop/products.html", {"products": Product.objects.all(), "cart": Cart(request.session)}
    )


@require_POST
def add_to_cart(request: HttpRequest, sku: str) -> HttpResponse:
    product = get_object_or_404(Product, sku=sku)
    Cart(request.session).add(product.sku)
    messages.success(request, _("%(name)s added to your cart.") % {"name": product.name})
    return redirect("shop:products")


@login_required
def checkout_page(request: HttpRequest) -> HttpResponse:
    cart = Cart(request.session)
    if request.method == "POST" and "remove" in request.POST:
        code = request.POST["remove"]
        if session_codes.remove(request, code):
            messages.success(request, _("%(code)s removed.") % {"code": code})
        return redirect("shop:checkout")
    form = ApplyCodeForm(request.POST if "apply" in request.POST else None)
    found = shop_offers.for_cart(cart, shop_offers.customer_of(request.user))
    if form.is_valid():  # the app's code rule, before Voucherify is asked
        validation = session_codes.add(request, cart, form.cleaned_data["code"], found.tiers)
        form = ApplyCodeForm()
    else:
        validation = session_codes.check(request, cart, session_codes.kept(request), tiers=found.tiers)
    return _render_checkout(request, cart, validation, form, found)


def _applied_tiers(validation: object) -> dict[str, int]:
    """The promotion tiers the validation applied (the automatic promotion), each with the
    discount it gave in this validation: redeemed with the order."""
    results = getattr(validation, "codes", None) or []
    return {r.code: r.discount_amount or 0 for r in results if r.kind == PROMOTION_TIER and r.applicable}


def _render_checkout(
    request: HttpRequest,
    cart: Cart,
    validation: object,
    form: ApplyCodeForm | None = None,
    found: shop_offers.CartOffers | None = None,
) -> HttpResponse:
    found = found or shop_offers.CartOffers()
    applied = _applied_tiers(validation)
    request.session[AUTOMATIC_TIERS] = list(applied)  # what Place order redeems (if it still applies)
    automatic = found.automatic if found.automatic and found.automatic.tier_id in applied else None
    if automatic is not None:
        # What it gives stacked after the codes (10% of what they left), as the totals count it;
        # the offer's own figure is for the cart alone.
        automatic = replace(automatic, discount_amount=applied[automatic.tier_id])
    return render(
        request,
        "shop/checkout.html",
        {
            "cart": cart,
            "codes": session_codes.kept(request),
            "validation": validation,
            "form": form or ApplyCodeForm(),
            "checkout_token": secrets.token_urlsafe(24),
            "offers": found.offers,
            "automatic": automatic,
            "welcome": welcome.code_of(request.user),
        },
    )


def _order_for_token(request: HttpRequest, token: str, cart: Cart) -> tuple[ShopOrder, bool]:
    """The order this checkout form placed, created on first submit (unique token: two
    concurrent submits get the same row)."""
    with transaction.atomic():
        order, created = ShopOrder.objects.get_or_create(
            checkout_token=token,
            defaults={
                "number": f"DEMO-{secrets.token_hex(4).upper()}",
                "currency": settings.SHOP_CURRENCY,
                "user": request.user,
                "lines": cart.order_lines(),
            },
        )  # mirrored to Order by the registry
    if order.user_id != request.user.pk:
        raise Http404
    return order, created


def _already_placed(request: HttpRequest, order: ShopOrder) -> HttpResponse:
    """A second submit of the same checkout form: show the first submit's order, never pay twice."""
    if order.status == ShopOrder.Status.CANCELLED:
        messages.error(request, _("This order was cancelled. Please place your order again."))
        return redirect("shop:checkout")
    return redirect("shop:confirmation", number=order.number)


@login_required
@require_POST
@transaction.non_atomic_requests
def place_order(request: HttpRequest) -> HttpResponse:
    cart = Cart(request.session)
    token = request.POST.get(TOKEN_FIELD, "")
    if not token or len(token) > 64:
        messages.error(
            request, _("Your checkout page has expired. Please check your order and place it again.")
        )
        return redirect("shop:checkout")
    placed = ShopOrder.objects.filter(checkout_token=token, user=request.user).first()
    if placed is not None:  # submitted again after the first submit emptied the cart
        return _already_placed(request, placed)
    if not cart.lines():
        messages.error(request, _("Your cart is empty."))
        return redirect("shop:products")
    codes = session_codes.kept(request)
    # The automatic promotion the checkout page showed (no offers call here: Place order asks
    # Voucherify only to validate and redeem), redeemed only if the validation below still
    # applies it to the cart as it is now (another tab may have changed it).
    shown = list(request.session.get(AUTOMATIC_TIERS, []))
    tiers = shown
    if codes or tiers:
        # Checked again before an order exists: a code refused since it was applied is dropped
        # (said once, on this page) instead of creating an order only to cancel it.
        validation = session_codes.check(request, cart, codes, tiers=tiers)
        tiers = list(_applied_tiers(validation))
        # The page's total took the automatic promotion off: without it (ended since, the cart
        # changed, Voucherify unavailable) the shopper sees the new total before paying it.
        lost = [t for t in shown if t not in tiers]
        if lost or (codes and (validation is None or session_codes.kept(request) != codes)):
            # A double click: the other submit may have placed the order (and used the code)
            # while this one was checking; it is this submit's order too.
            placed = ShopOrder.objects.filter(checkout_token=token, user=request.user).first()
            if placed is not None:
                return _already_placed(request, placed)
            if lost and validation is not None and not getattr(validation, "unavailable", False):
                # (An outage already says so: check's message, or the validation's notice.)
                messages.warning(
                    request,
                    _(
                        "The automatic promotion no longer applies to your order. "
                        "Check the total and place your order again."
                    ),
                )
            return _render_checkout(request, cart, validation)
    try:
        order, created = _order_for_token(request, token, cart)
    except OperationalError:  # SQLite busy past its timeout: another tab is placing this order
        placed = ShopOrder.objects.filter(checkout_token=token, user=request.user).first()
        if placed is not None:
            return _already_placed(request, placed)
        messages.info(
            request,
            _("Your order is being placed in another tab or window; reload this page in a moment to see it."),
        )
        return redirect("shop:checkout")
    if not created:
        return _already_placed(request, order)
    codes = session_codes.kept(request)
    fail = bool(request.POST.get("fail_payment"))
    to_pay = order.total_cents
    try:
        if codes or tiers:
            mirror = Order.objects.get(source_id=order.number)
            paid = checkout.redeem_then_pay(
                session_codes.marked(request, codes),  # gift cards marked: they pay last
                mirror,
                lambda outcome: payment.charge(
                    outcome.totals.total_amount, fail=fail, order_number=order.number
                ),
                mirror.customer,
                tiers=tiers,
            )
            to_pay, reference = paid.redemption.totals.total_amount, paid.payment
            if paid.redemption.notice:
                messages.warning(request, paid.redemption.notice)
        else:
            reference = payment.charge(to_pay, fail=fail, order_number=order.number)
    except payment.PaymentDeclined as declined:
        order.status = ShopOrder.Status.CANCELLED
        order.save()
        messages.error(
            request, _("%(reason)s Your vouchers were released; nothing was charged.") % {"reason": declined}
        )
        return redirect("shop:checkout")
    except checkout.CheckoutError as exc:
        order.status = ShopOrder.Status.CANCELLED
        order.save()
        messages.error(request, exc.message)
        if isinstance(exc, checkout.CodesRefused):  # refused at redeem (a race): not kept
            refused = {c.code for c in exc.codes if not c.applicable} or set(codes)
            session_codes.keep(request, [c for c in codes if c not in refused])
        return redirect("shop:checkout")
    try:
        settle.record_payment(order, reference, to_pay)
    except OperationalError:  # the database stayed locked: the sweep settles the order later
        messages.warning(
            request,
            _("Your payment went through but your order is not recorded yet. This page shows it once it is."),
        )
        return redirect("shop:confirmation", number=order.number)
    cart.clear()
    session_codes.keep(request, [])
    request.session.pop(AUTOMATIC_TIERS, None)
    return redirect("shop:confirmation", number=order.number)


@login_required
def confirmation(request: HttpRequest, number: str) -> HttpResponse:
    order = get_object_or_404(ShopOrder, number=number, user=request.user)
    redemption = CheckoutRedemption.objects.filter(order_source_id=order.number).order_by("-pk").first()
    return render(
        request,
        "shop/confirmation.html",
        {
            "order": order,
            "vouchers_used": accounts.vouchers_used(redemption) if redemption else [],
            "paid_cents": order.amount_paid,
            # A NEW order past the grace was stranded: stop reloading, say what happens next.
            "stranded": order.status == ShopOrder.Status.NEW and settle.is_stranded(order),
            "grace_minutes": settle.grace_minutes(),
            "redemption": redemption,
        },
    )
