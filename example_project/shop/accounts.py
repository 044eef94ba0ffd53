"""Shoppers' accounts: sign up, sign in and out on the shop's own pages (staff keep the admin's
login), and "My orders" with the vouchers each order used."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.hashers import make_password
from django.contrib.auth.views import LoginView
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from django_voucherify.models import CheckoutRedemption, LedgerState

from . import tasks, welcome
from .models import ShopOrder, SignUpClaim


class SignUpForm(UserCreationForm):  # type: ignore[type-arg]
    """Sign-up never tells whether a user name or an e-mail is taken (that would let anyone
    list the shop's accounts): the form checks only what the shopper typed (a valid user name
    and e-mail, matching passwords that pass the password validators); whether the account is
    new is decided by :func:`create_if_new`, and the answer is the same either way."""

    # The e-mail makes the shopper a Voucherify customer (apps.user_to_customer needs one).
    email = forms.EmailField(label=gettext_lazy("E-mail"))

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def clean_username(self) -> str:
        return str(self.cleaned_data["username"])  # no "already exists" (Django's own check)

    def clean_email(self) -> str:
        return str(self.cleaned_data["email"]).strip()

    def validate_unique(self) -> None:
        """No uniqueness error on the form: :func:`create_if_new` decides, silently."""


def create_if_new(form: SignUpForm) -> bool:
    """Create the account unless its user name or e-mail is taken (case-insensitively); True if
    created. A taken one still hashes the password, so both answers cost the same time."""
    data = form.cleaned_data
    taken = get_user_model().objects.filter(
        Q(username__iexact=data["username"]) | Q(email__iexact=data["email"])
    )
    if not taken.exists():
        claims = [f"name:{data['username'].casefold()}", f"email:{data['email'].casefold()}"]
        try:
            with transaction.atomic():
                # Taken in the account's transaction: of two sign-ups of "Alice" and "alice" at
                # once (both passed the check above), only one commits (models.SignUpClaim).
                SignUpClaim.objects.bulk_create([SignUpClaim(key=key) for key in claims])
                user = form.save()  # mirrored to a Voucherify customer by the worker, not in this request
                # The welcome code too, by the worker once the account is committed (welcome.py).
                transaction.on_commit(lambda: tasks.publish_welcome_code.delay(user.pk))
            return True
        except IntegrityError:  # the same name or e-mail, signed up a moment ago by another request
            pass
    make_password(data["password1"])
    return False


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    ok = url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure())
    return target if ok else "/"


def signup(request: HttpRequest) -> HttpResponse:
    """A valid sign-up always answers the same (the sign-in page, one message), whether the
    account was created or its user name or e-mail was already taken: no user enumeration.
    A new shopper then signs in with what they just chose."""
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        create_if_new(form)
        messages.info(
            request,
            _(
                "If this user name and e-mail were not already in use, your account is ready: "
                "sign in with them. Otherwise sign in with your existing account."
            ),
        )
        query = urlencode({"next": _next_url(request)})
        return redirect(f"{resolve_url('shop:login')}?{query}")
    return render(request, "shop/signup.html", {"form": form, "next": _next_url(request)})


def vouchers_used(row: CheckoutRedemption) -> list[str]:
    """What a ledger row redeemed, as a shopper reads it: its codes, and "automatic promotion"
    for its promotion tiers (a tier id means nothing to a shopper)."""
    return [*row.codes, *([_("automatic promotion")] if row.tiers else [])]


@login_required
def my_orders(request: HttpRequest) -> HttpResponse:
    orders = list(ShopOrder.objects.filter(user=request.user).order_by("-pk"))
    used: dict[str, list[str]] = {}
    for row in CheckoutRedemption.objects.filter(
        order_source_id__in=[o.number for o in orders], state=LedgerState.SUCCEEDED
    ):
        used.setdefault(row.order_source_id, []).extend(vouchers_used(row))
    rows: list[dict[str, Any]] = [{"order": o, "codes": used.get(o.number, [])} for o in orders]
    return render(request, "shop/my_orders.html", {"rows": rows, "welcome": welcome.code_of(request.user)})


class SignInView(LoginView):
    """The shop's sign-in page (staff keep the admin's); it greets the shopper by name. A
    signed-in shopper is sent on to ``next`` (or the products), except to this very page:
    Django refuses that ``next`` with a "Redirection loop" error (a 500), so a ``next`` naming
    the sign-in page is dropped. ``next`` stays as safe as Django makes it (same host and
    scheme only)."""

    template_name = "shop/signin.html"
    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        messages.success(self.request, _("Welcome, %(name)s!") % {"name": form.get_user().get_username()})
        return response

    def get_redirect_url(self) -> str:
        target = super().get_redirect_url()  # "" unless it is a safe URL
        if target and urlsplit(target).path == self.request.path:
            return ""
        return target
