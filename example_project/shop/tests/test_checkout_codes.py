"""Checkout's voucher codes: only accepted codes stay in the session; a refusal is said once and
never creates an order; codes are removed one by one; "being placed" and "confirmed" never show
together; and Place order makes no Voucherify call beyond checkout's own (syncs go to the worker)."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from django_voucherify import checkout
from django_voucherify import client as voucherify
from django_voucherify.sandbox import seed
from example_project.celery import app as celery_app
from example_project.shop import codes as session_codes
from example_project.shop.models import ShopOrder
from example_project.shop.tests.shopping import place, token

pytestmark = pytest.mark.django_db(transaction=True)

AMOUNT_OFF = {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 200}}


def text(response) -> str:
    return response.content.decode()


def kept(browser) -> list[str]:
    return list(browser.session.get(session_codes.SESSION_CODES, []))


def test_a_refused_code_is_said_once_and_does_not_stick(web):
    page = text(web.post("/checkout/", {"code": "NOPE", "apply": "1"}))
    assert page.count("This code does not exist.") == 1
    assert kept(web) == []
    again = text(web.get("/checkout/"))  # the next visit: no error, no code
    assert "This code does not exist." not in again and "NOPE" not in again
    response = place(web, follow=True)  # no code left: the order goes through at full price
    assert "This code does not exist." not in text(response)
    assert list(ShopOrder.objects.values_list("status", flat=True)) == [ShopOrder.Status.PAID]


def test_a_code_refused_after_it_was_applied_creates_no_order(web, voucherify_sandbox):
    web.post("/checkout/", {"code": "SAVE5", "apply": "1"})
    assert kept(web) == ["SAVE5"]
    form = {"checkout_token": token(web)}  # the page shown with the code applied
    voucherify.vouchers.disable("SAVE5")  # refused from now on
    response = web.post("/checkout/place/", form)
    assert response.status_code == 200
    page = text(response)
    assert page.count("SAVE5: ") == 1  # the reason, once, on the page that refused it
    assert not ShopOrder.objects.exists()  # no order created only to be cancelled
    assert kept(web) == []
    assert "SAVE5" not in text(web.get("/checkout/"))


def test_codes_are_removed_one_by_one(web):
    voucherify.vouchers.create("TWO", {**AMOUNT_OFF, "redemption": {"quantity": 5}})
    page = text(web.post("/checkout/", {"code": "SAVE5", "apply": "1"}))
    page = text(web.post("/checkout/", {"code": "TWO", "apply": "1"}))  # added, not replacing
    assert kept(web) == ["SAVE5", "TWO"] and 'id="to-pay">€25.49' in page
    response = web.post("/checkout/", {"remove": "SAVE5"}, follow=True)
    page = text(response)
    assert kept(web) == ["TWO"] and "SAVE5 removed." in page and 'id="to-pay">€30.49' in page
    web.post("/checkout/", {"remove": "TWO"})
    assert kept(web) == []
    assert 'id="to-pay"' not in text(web.get("/checkout/"))


def test_removing_a_code_not_applied_changes_nothing(web):
    web.post("/checkout/", {"code": "SAVE5", "apply": "1"})
    web.post("/checkout/", {"remove": "OTHER"})
    assert kept(web) == ["SAVE5"]


def test_an_unknown_code_among_good_ones_drops_only_itself(web):
    voucherify.vouchers.create("TWO", {**AMOUNT_OFF, "redemption": {"quantity": 5}})
    web.post("/checkout/", {"code": "SAVE5", "apply": "1"})
    web.post("/checkout/", {"code": "TWO", "apply": "1"})
    page = text(web.post("/checkout/", {"code": "NOPE", "apply": "1"}))  # refused with the others
    assert page.count("NOPE: This code does not exist.") == 1
    assert kept(web) == ["SAVE5", "TWO"] and 'id="to-pay">€25.49' in page


def test_being_placed_and_confirmed_never_show_together(web, django_user_model):
    form = {"checkout_token": token(web)}
    order = ShopOrder.objects.create(
        number="DEMO-NEW",
        user=django_user_model.objects.get(username="ann"),
        checkout_token=form["checkout_token"],
    )
    page = text(web.post("/checkout/place/", form, follow=True))  # a second submit while placing
    assert "is being placed" in page and "confirmed" not in page
    order.status = ShopOrder.Status.PAID
    order.save()
    page = text(web.get("/orders/DEMO-NEW/"))
    assert "confirmed" in page and "being placed" not in page


def test_place_order_calls_voucherify_only_for_checkout(web, caplog):
    """The order and customer syncs are queued for the worker (not eager here): the request
    itself only validates and redeems."""
    web.post("/checkout/", {"code": "SAVE5", "apply": "1"})
    form = {"checkout_token": token(web)}
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    celery_app.conf.broker_url = "memory://"
    caplog.clear()  # only Place order's own calls (the checkout page asks for offers too)
    try:
        with caplog.at_level(logging.INFO, logger="django_voucherify.sandbox"):
            response = web.post("/checkout/place/", form)
    finally:
        celery_app.conf.task_always_eager = eager
    assert response.status_code == 302
    assert ShopOrder.objects.get().status == ShopOrder.Status.PAID
    paths = [r.getMessage().split()[1] for r in caplog.records if r.name == "django_voucherify.sandbox"]
    assert paths and set(paths) <= {"/v1/validations", "/v1/redemptions"}, paths


def test_the_code_field_takes_every_code_the_admin_can_create(web, voucherify_sandbox):
    """The shop, the admin and the REST API share one code rule: a code with plain spaces and a
    comma (accepted by the admin's form) is one code here, never split into codes that do not
    exist; what is typed around it is stripped."""
    from django_voucherify.validation import code_problem

    code = "SUMMER SALE, 2026"
    assert code_problem(code) is None  # the admin and the REST API accept it
    voucherify.vouchers.create(code, {**AMOUNT_OFF, "redemption": {"quantity": 5}})
    page = text(web.post("/checkout/", {"code": f"  {code}\n", "apply": "1"}))
    assert kept(web) == [code] and 'id="to-pay">€30.49' in page
    assert "does not exist" not in page


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("SAVE\u00a05", "only plain spaces"),  # a no-break space: a shopper could never type it
        ("X" * 101, "at most 100 characters"),
        ("SAVE\u200b5", "invisible or control characters"),
        ("..", "cannot be a voucher code"),
        ("   ", "Enter a voucher code to apply."),
    ],
)
def test_a_code_no_door_accepts_is_refused_before_voucherify_is_asked(web, typed, reason, caplog):
    with caplog.at_level(logging.INFO, logger="django_voucherify.sandbox"):
        page = text(web.post("/checkout/", {"code": typed, "apply": "1"}))
    assert page.count(reason) == 1 and page.count('class="error"') == 1  # said once, by the field
    assert kept(web) == []
    # The code is never sent: no validation. The page still asks for the cart's offers (the
    # qualifications), which names no typed code.
    paths = [r.getMessage().split()[1] for r in caplog.records if r.name == "django_voucherify.sandbox"]
    assert set(paths) <= {"/v1/qualifications"}, paths


GUESSES = "voucherify_validate_failures"


def budget_of(limit: int) -> dict[str, dict[str, str]]:
    return {"DEFAULT_THROTTLE_RATES": {GUESSES: f"{limit}/hour"}}


def apply(browser, code: str) -> str:
    return text(browser.post("/checkout/", {"code": code, "apply": "1"}))


def test_guessing_codes_in_the_apply_form_pays_the_unknown_codes_budget(web, monkeypatch):
    """The Apply form draws from the budget the REST API draws from (10 unknown codes an hour):
    after that, "try again later" and Voucherify is not asked."""
    asked = []
    real_validate = checkout.validate

    def validate(codes, *args, **kwargs):
        asked.append([getattr(code, "code", code) for code in codes])  # the shop's Redeemables
        return real_validate(codes, *args, **kwargs)

    monkeypatch.setattr(checkout, "validate", validate)
    answered, refused = 0, 0
    for i in range(30):
        page = apply(web, f"GUESS-{i}")
        answered += f"GUESS-{i}: This code does not exist." in page
        refused += "Too many attempts with codes that do not exist. Please try again later." in page
    assert (answered, refused) == (10, 20)
    assert asked == [[f"GUESS-{i}"] for i in range(10)]
    assert kept(web) == []


def test_codes_that_exist_cost_nothing_and_a_spent_budget_refuses_them_too(web, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, **budget_of(2)}
    voucherify.vouchers.create("TWO", {**AMOUNT_OFF, "redemption": {"quantity": 5}})
    for _ in range(5):  # applied, removed, applied again: a code that exists is free
        assert "Too many attempts" not in apply(web, "SAVE5")
        web.post("/checkout/", {"remove": "SAVE5"})
    assert "This code does not exist." in apply(web, "G1")
    assert "This code does not exist." in apply(web, "G2")
    page = apply(web, "TWO")  # spent: even a real code is not asked about (no oracle)
    assert "Too many attempts" in page and kept(web) == []


def test_the_shop_and_the_rest_api_draw_from_one_budget(web, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, **budget_of(3)}
    for i in range(3):
        apply(web, f"G{i}")
    api = web.post(
        "/api/vouchers/validate/",
        {"codes": ["G9"], "order": {"amount": 1000}},
        content_type="application/json",
    )
    assert api.status_code == 429


def test_another_account_from_the_same_address_gets_no_fresh_budget(web, settings, django_user_model):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, **budget_of(2)}
    apply(web, "G1")
    apply(web, "G2")
    other = Client()
    other.force_login(django_user_model.objects.create_user("bob", "bob@example.com", "pw"))
    other.post("/cart/add/MUG/")
    assert "Too many attempts" in apply(other, "G3")
    elsewhere = Client(REMOTE_ADDR="10.1.2.3")  # another address, another user: a budget of its own
    elsewhere.force_login(django_user_model.objects.create_user("cy", "cy@example.com", "pw"))
    elsewhere.post("/cart/add/MUG/")
    assert "G4: This code does not exist." in apply(elsewhere, "G4")


def test_a_code_kept_without_asking_voucherify_stays_charged(web, settings, django_user_model):
    """An empty cart keeps a typed code unchecked: it must not be a free guess checked later."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, **budget_of(2)}
    empty = Client(REMOTE_ADDR="10.1.2.4")
    empty.force_login(django_user_model.objects.create_user("dee", "dee@example.com", "pw"))
    apply(empty, "G1")
    apply(empty, "G2")
    assert "Too many attempts" in apply(empty, "G3")


def test_voucherify_gone_while_the_culprit_is_sought_keeps_the_codes(web, monkeypatch):
    """Voucherify refuses the codes together, then stops answering while each code is checked
    alone: the page says Voucherify is unavailable and keeps the codes (it used to be a 500)."""
    web.post("/checkout/", {"code": "SAVE5", "apply": "1"})

    def validate(codes, *args, **kwargs):
        if len(codes) > 1:  # an unknown code among them: refused as a whole
            raise checkout.CodesRefused("This code does not exist.", key="resource_not_found")
        raise checkout.CheckoutUnavailable()  # then Voucherify stops answering

    monkeypatch.setattr(checkout, "validate", validate)
    response = web.post("/checkout/", {"code": "NOPE", "apply": "1"})
    assert response.status_code == 200
    assert str(checkout.CheckoutUnavailable().message) in text(response)
    assert kept(web) == ["SAVE5", "NOPE"]  # kept unverified, as in any outage: checked again later


def test_a_product_limited_code_needs_its_product_in_the_cart(web, django_user_model):
    """The demo's product-limited code (its rule as the sandbox seeds it): refused with the
    rule's own message on a cart without a mug, applied on one with a mug (the cart's items are
    the products the order mirror sends at redeem)."""
    body, codes = seed.RULES[0]
    voucherify.vouchers.create(codes[0], seed.VOUCHERS[codes[0]])
    rule = voucherify.validation_rules.create(body)
    voucherify.validation_rules.create_assignment(rule["id"], "voucher", codes[0])
    no_mug = Client()
    no_mug.force_login(django_user_model.objects.create_user("bea", "bea@example.com", "pw"))
    no_mug.post("/cart/add/TSHIRT-M/")
    page = text(no_mug.post("/checkout/", {"code": "MUGLOVE", "apply": "1"}))
    assert page.count("MUGLOVE: MUGLOVE applies to orders with a mug.") == 1
    assert kept(no_mug) == []
    page = text(web.post("/checkout/", {"code": "MUGLOVE", "apply": "1"}))  # T-shirt and mug
    assert kept(web) == ["MUGLOVE"] and "applies to orders with a mug" not in page
