"""The demo shop: products, a session cart, checkout with a voucher field, confirmation.

Checkout follows docs/checkout.md: validate the codes to show the discount, then place the
order: ShopOrder (mirrored to the Voucherify order) -> redeem_then_pay -> paid, or rolled back.

Placing an order is idempotent: the checkout form carries a one-time token, stored on the
ShopOrder (unique), so a double click or a retried POST finds the order the first one created
instead of creating (and redeeming for) a second one.

The demo runs Celery tasks inline (eager, memory:// broker): rollback retries and reconciliation
happen inside the web request here; production runs a worker.
"""

from __future__ import annotations

import secrets

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import OperationalError, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from django_voucherify import checkout
from django_voucherify.models import Customer, Order

from . import payment
from .cart import Cart
from .models import Product, ShopOrder

SESSION_CODES = "shop_voucher_codes"
TOKEN_FIELD = "checkout_token"


def _codes(text: str) -> list[str]:
    return [c.strip() for c in text.replace(",", " ").split() if c.strip()]


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
    codes: list[str] = request.session.get(SESSION_CODES, [])
    validation = None
    if request.method == "POST" and "apply" in request.POST:
        codes = _codes(request.POST.get("codes", ""))[:30]
        request.session[SESSION_CODES] = codes
    if codes and cart.lines():
        customer = Customer.objects.filter(user=request.user).first()
        try:
            validation = checkout.validate(codes, cart.voucherify_order(), customer)
        except checkout.CheckoutError as exc:  # refused, unavailable, or invalid input
            messages.error(request, exc.message)
    return render(
        request,
        "shop/checkout.html",
        {
            "cart": cart,
            "codes": " ".join(codes),
            "validation": validation,
            "checkout_token": secrets.token_urlsafe(24),
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
    if order.status == ShopOrder.Status.NEW:
        messages.info(request, _("Your order is being placed; this page shows it once paid."))
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
    codes: list[str] = request.session.get(SESSION_CODES, [])
    fail = bool(request.POST.get("fail_payment"))
    to_pay = order.total_cents
    try:
        if codes:
            mirror = Order.objects.get(source_id=order.number)
            paid = checkout.redeem_then_pay(
                codes,
                mirror,
                lambda outcome: payment.charge(outcome.totals.total_amount, fail=fail),
                mirror.customer,
            )
            to_pay = paid.redemption.totals.total_amount
            if paid.redemption.notice:
                messages.warning(request, paid.redemption.notice)
        else:
            payment.charge(to_pay, fail=fail)
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
        return redirect("shop:checkout")
    order.status = ShopOrder.Status.PAID
    order.save()
    cart.clear()
    request.session.pop(SESSION_CODES, None)
    request.session[f"paid_{order.number}"] = to_pay
    return redirect("shop:confirmation", number=order.number)


@login_required
def confirmation(request: HttpRequest, number: str) -> HttpResponse:
    order = get_object_or_404(ShopOrder, number=number, user=request.user)
    return render(
        request,
        "shop/confirmation.html",
        {
            "order": order,
            "paid_cents": request.session.get(f"paid_{number}", order.total_cents),
            "redemption": order and _ledger(order.number),
        },
    )


def _ledger(number: str) -> object:
    from django_voucherify.models import CheckoutRedemption

    return CheckoutRedemption.objects.filter(order_source_id=number).first()
