"""Shoppers' accounts: sign up, sign in and out on the shop's own pages (staff keep the admin's
login), and "My orders" with the vouchers each order used."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from django_voucherify.models import CheckoutRedemption, LedgerState

from .models import ShopOrder


class SignUpForm(UserCreationForm):  # type: ignore[type-arg]
    # The e-mail makes the shopper a Voucherify customer (apps.user_to_customer needs one).
    email = forms.EmailField(label=gettext_lazy("E-mail"))

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(_("An account with this e-mail already exists; sign in instead."))
        return email


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    ok = url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure())
    return target if ok else "/"


def signup(request: HttpRequest) -> HttpResponse:
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()  # mirrored to a Voucherify customer by the worker, not in this request
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, _("Welcome, %(name)s! Your account is ready.") % {"name": user.username})
        return redirect(_next_url(request))
    return render(request, "shop/signup.html", {"form": form, "next": _next_url(request)})


@login_required
def my_orders(request: HttpRequest) -> HttpResponse:
    orders = list(ShopOrder.objects.filter(user=request.user).order_by("-pk"))
    used: dict[str, list[str]] = {}
    for row in CheckoutRedemption.objects.filter(
        order_source_id__in=[o.number for o in orders], state=LedgerState.SUCCEEDED
    ):
        used.setdefault(row.order_source_id, []).extend(row.codes)
    rows: list[dict[str, Any]] = [{"order": o, "codes": used.get(o.number, [])} for o in orders]
    return render(request, "shop/my_orders.html", {"rows": rows})


class SignInView(LoginView):
    """The shop's sign-in page. A signed-in shopper is sent on to ``next`` (or the products),
    except to this very page: Django refuses that ``next`` with a "Redirection loop" error (a
    500), so a ``next`` naming the sign-in page is dropped. ``next`` stays as safe as Django
    makes it (same host and scheme only)."""

    template_name = "shop/signin.html"
    redirect_authenticated_user = True

    def get_redirect_url(self) -> str:
        target = super().get_redirect_url()  # "" unless it is a safe URL
        if target and urlsplit(target).path == self.request.path:
            return ""
        return target
