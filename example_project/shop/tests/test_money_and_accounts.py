"""Money shown as money (the shop's currency, the active language's format), and shoppers'
accounts: sign up, sign in on the shop's pages (not the admin's), their orders and vouchers."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client, override_settings
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from django_voucherify import client as voucherify
from example_project.shop.models import Product, ShopOrder
from example_project.shop.money import MINUS, format_discount, format_money
from example_project.shop.tests.shopping import place

MINOR = st.integers(min_value=-(10**12), max_value=10**12)


def test_money_in_english_and_german():
    with translation.override("en"):
        assert format_money(1999) == "€19.99"
        assert format_money(123456789) == "€1,234,567.89"
        assert format_money(-500) == f"{MINUS}€5.00"
        assert format_discount(500) == f"{MINUS}€5.00"
        assert format_money(1250, "USD") == "$12.50" and format_money(125000, "JPY") == "¥1,250"
    with translation.override("de"):
        assert format_money(123456789) == "1.234.567,89\u00a0€"


def test_every_currency_is_sent_and_shown_x100():
    """Voucherify writes every amount x100, JPY and KWD included (docs/admin.md#amounts): the
    shop's prices are cents and 1000 is ¥10, not ¥1,000; a 3-decimal currency shows 3 decimals."""
    with translation.override("en"):
        assert format_money(1000, "JPY") == "¥10" and format_money(1050, "JPY") == "¥10.50"
        assert format_money(1000, "EUR") == "€10.00"
        assert format_money(1234, "KWD") == "KWD12.340" and format_money(1000, "BHD") == "BHD10.000"
    with translation.override("de"):
        assert (
            format_money(123456, "JPY") == "1.234,56\u00a0¥" and format_money(100000, "JPY") == "1.000\u00a0¥"
        )


@given(MINOR, st.sampled_from(["EUR", "JPY", "KWD", "BHD", "USD", "XOF"]), st.sampled_from(["en", "de"]))
def test_the_number_shown_is_the_amount_divided_by_100(minor, code, language):
    with translation.override(language):
        shown = format_money(minor, code)
    number = "".join(ch for ch in shown if ch.isdigit() or ch in ".,")
    decimal_mark = "." if language == "en" else ","
    plain = number.replace("," if language == "en" else ".", "").replace(decimal_mark, ".")
    assert Decimal(plain) == Decimal(abs(minor)) / 100
    assert shown.startswith(MINUS) == (minor < 0)


@override_settings(SHOP_CURRENCY="GBP")
def test_the_currency_is_a_setting():
    with translation.override("en"):
        assert format_money(5) == "£0.05"


@given(MINOR, st.sampled_from(["en", "de", "fr"]))
def test_money_keeps_every_cent(minor, language):
    """Whatever the language, the digits shown are the amount's (no rounding, no raw cents)."""
    with translation.override(language):
        shown = format_money(minor)
    digits = "".join(ch for ch in shown if ch.isdigit())
    assert Decimal(digits) == abs(minor)
    assert shown.startswith(MINUS) == (minor < 0)
    assert "¢" not in shown


@given(st.integers(min_value=-(10**9), max_value=10**9))
def test_a_discount_is_never_minus_zero(minor):
    shown = format_discount(minor)
    assert (shown == "") == (minor == 0)
    assert not shown or shown.startswith(MINUS)


@pytest.mark.django_db(transaction=True)
def test_a_fixed_price_voucher_never_shows_minus_zero(web):
    voucherify.vouchers.create(
        "FIXED", {"type": "DISCOUNT_VOUCHER", "discount": {"type": "FIXED", "fixed_amount": 100000}}
    )
    page = web.post("/checkout/", {"code": "FIXED", "apply": "1"}).content.decode()
    assert "FIXED" in page and "\u22120" not in page and f"{MINUS}€0.00" not in page and "¢" not in page


@pytest.mark.django_db
def test_sign_in_is_the_shops_page_not_the_admins(client):
    response = client.get("/checkout/")
    assert response.status_code == 302 and response["Location"].startswith("/account/signin/")
    page = client.get(response["Location"]).content.decode()
    assert "Sign up" in page and "admin" not in page.lower().split("<nav>")[0]


@pytest.mark.django_db(transaction=True)
def test_a_shopper_signs_up_signs_in_and_sees_their_orders(voucherify_sandbox, django_user_model):
    browser = Client()
    form = {
        "username": "zoe",
        "email": "zoe@example.com",
        "password1": "A-l0ng-pass",
        "password2": "A-l0ng-pass",
    }
    response = browser.post("/account/signup/", {**form, "next": "/checkout/"})
    assert response.status_code == 302 and response["Location"] == "/account/signin/?next=%2Fcheckout%2F"
    zoe = django_user_model.objects.get(username="zoe")
    assert not zoe.is_staff and zoe.email == "zoe@example.com"
    assert browser.get("/orders/").status_code == 302  # not signed in by sign-up itself
    signed_in = browser.post(
        "/account/signin/", {"username": "zoe", "password": "A-l0ng-pass", "next": "/checkout/"}
    )
    assert signed_in.status_code == 302 and signed_in["Location"] == "/checkout/"
    assert "Welcome, zoe!" in browser.get("/checkout/").content.decode()
    voucherify.vouchers.create(
        "ZOE2", {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 200}}
    )
    Product.objects.get_or_create(sku="MUG", defaults={"name": "Mug", "price_cents": 1250})
    browser.post("/cart/add/MUG/")
    browser.post("/checkout/", {"code": "ZOE2", "apply": "1"})
    place(browser)
    order = ShopOrder.objects.get(user=zoe)
    page = browser.get("/orders/").content.decode()
    assert order.number in page and "ZOE2" in page and "€10.50" in page  # what was paid: €12.50 less ZOE2
    other = django_user_model.objects.create_user("max", "max@example.com", "pw")
    stranger = Client()
    stranger.force_login(other)
    assert order.number not in stranger.get("/orders/").content.decode()
    assert stranger.get(f"/orders/{order.number}/").status_code == 404


def _signup_answer(data):
    """What a visitor sees after posting the sign-up form: the redirect and the page it leads to."""
    visitor = Client()
    response = visitor.post("/account/signup/", {**data, "next": "/"})
    page = visitor.get(response["Location"]).content.decode() if response.status_code == 302 else ""
    # Each visitor has its own CSRF token; everything else must be the same.
    return (
        response.status_code,
        response.get("Location"),
        re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", page),
    )


@pytest.mark.django_db
def test_sign_up_answers_the_same_whether_or_not_the_account_exists(voucherify_sandbox, django_user_model):
    """No user enumeration: a taken user name, a taken e-mail (any case) and a new account get
    the same answer, byte for byte; only the new one creates an account, and it can sign in."""
    django_user_model.objects.create_user("ann", "ann@example.com", "Old-pass-123")
    password = {"password1": "A-l0ng-pass", "password2": "A-l0ng-pass"}
    new = _signup_answer({"username": "bob", "email": "bob@example.com", **password})
    taken_name = _signup_answer({"username": "ANN", "email": "other@example.com", **password})
    taken_mail = _signup_answer({"username": "ann2", "email": "ANN@example.com", **password})
    assert new == taken_name == taken_mail
    assert new[0] == 302 and "already exists" not in new[2] and "your account is ready" in new[2]
    assert set(django_user_model.objects.values_list("username", flat=True)) == {"ann", "bob"}
    assert django_user_model.objects.get(username="ann").check_password("Old-pass-123")
    bob = Client()
    assert bob.post("/account/signin/", {"username": "bob", "password": "A-l0ng-pass"}).status_code == 302
    assert "Welcome, bob!" in bob.get("/").content.decode()


@pytest.mark.django_db
def test_sign_up_still_says_what_is_wrong_with_what_was_typed(voucherify_sandbox, django_user_model):
    page = Client().post(
        "/account/signup/", {"username": "x y!", "email": "nope", "password1": "a", "password2": "b"}
    )
    assert page.status_code == 200 and not django_user_model.objects.exists()
    assert "valid email" in page.content.decode() and "didn\u2019t match" in page.content.decode()


def test_the_shop_speaks_german(web):
    """The shop's own strings come from its catalog (example_project/shop/locale), its money
    from Django's German format; the code rule's message from the app's catalog."""
    with override_settings(LANGUAGE_CODE="de"), translation.override("de"):
        page = web.get("/checkout/").content.decode()
        assert "<th>Zwischensumme</th>" in page and "Gutscheincode" in page and ">Anwenden</button>" in page
        assert 'id="subtotal">32,49\u00a0€' in page and "Bestellen und bezahlen" in page
        page = web.post("/checkout/", {"code": "", "apply": "1"}).content.decode()
        assert "Geben Sie einen Gutscheincode ein." in page


@pytest.mark.django_db(transaction=True)
def test_my_orders_shows_an_amount_only_for_paid_orders(web):
    """A declined payment ("nothing was charged") or an order still being placed is not listed
    with its total in the Paid column: only PAID and SHIPPED orders show what was paid."""
    place(web, fail_payment="1")
    declined = ShopOrder.objects.get()
    assert declined.status == ShopOrder.Status.CANCELLED
    new = ShopOrder.objects.create(number="DEMO-NEW", user=declined.user, lines=declined.lines)
    shipped = ShopOrder.objects.create(
        number="DEMO-SHIPPED", user=declined.user, lines=declined.lines, status="shipped", paid_cents=1234
    )
    page = web.get("/orders/").content.decode()
    assert "€32.49" not in page, "an order nobody paid is listed with its total in the Paid column"
    assert page.count("—</td>") >= 2 and "€12.34" in page
    assert (new.amount_paid, declined.amount_paid, shipped.amount_paid) == (None, None, 1234)


@pytest.mark.django_db
def test_a_signed_in_shopper_sent_to_the_sign_in_page_is_not_shown_a_redirection_loop(
    client, django_user_model
):
    """``/account/signin/?next=/account/signin/`` signed in: Django's "Redirection loop" 500."""
    client.force_login(django_user_model.objects.create_user("ann", "ann@example.com", "pw"))
    for target in ["/account/signin/", "/account/signin/?next=/orders/", "http://testserver/account/signin/"]:
        response = client.get("/account/signin/", {"next": target})
        assert response.status_code == 302 and response["Location"] == "/", target
    assert client.get("/account/signin/", {"next": "/orders/"})["Location"] == "/orders/"
    assert client.get("/account/signin/", {"next": "https://evil.example/"})["Location"] == "/"


@pytest.mark.django_db
def test_signing_in_keeps_a_safe_next_and_drops_the_sign_in_page(client, django_user_model):
    django_user_model.objects.create_user("ann", "ann@example.com", "pw")
    form = {"username": "ann", "password": "pw"}
    assert client.post("/account/signin/", {**form, "next": "/orders/"})["Location"] == "/orders/"
    client.logout()
    assert client.post("/account/signin/", {**form, "next": "/account/signin/"})["Location"] == "/"
    client.logout()
    assert client.post("/account/signin/", {**form, "next": "//evil.example/"})["Location"] == "/"


@pytest.mark.django_db(transaction=True)
def test_two_sign_ups_of_one_name_in_different_cases_make_one_account(
    voucherify_sandbox, django_user_model, monkeypatch
):
    """Both sign-ups pass the case-insensitive check before either commits (simulated: the
    check answers "free" to both); only the first creates an account, the second is told the
    same as any sign-up, and no "Alice" stands beside "alice"."""
    from django.db.models.query import QuerySet

    monkeypatch.setattr(QuerySet, "exists", lambda self: False)  # the race's window, held open
    password = {"password1": "A-l0ng-pass", "password2": "A-l0ng-pass"}
    first = _signup_answer({"username": "alice", "email": "alice@example.com", **password})
    second = _signup_answer({"username": "Alice", "email": "other@example.com", **password})
    third = _signup_answer({"username": "al", "email": "ALICE@example.com", **password})
    assert first == second == third
    assert list(django_user_model.objects.values_list("username", flat=True)) == ["alice"]
