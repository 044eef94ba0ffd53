"""One code rule for every door: the admin's voucher form, the REST API and the shop's code
field (``validation.CodeFormField``) accept exactly the same codes, cleaned the same way, so
the shop can always take a code the admin created."""

from __future__ import annotations

import pytest
from django import forms
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework import serializers

from django_voucherify.admin.voucher_forms import VoucherForm
from django_voucherify.rest.serializers import CodeField
from django_voucherify.validation import MAX_CODE_LENGTH, CodeFormField, code_problem, validate_code
from tests.support.vouchers import VOUCHER_FORM_BLANK as BASE

pytestmark = pytest.mark.django_db

#: "SPRING20" in full-width letters and digits (U+FF21...), a look-alike of SPRING20.
FULL_WIDTH = "".join(chr(ord(c) + 0xFEE0) for c in "SPRING20")
ODD_SPACES = ["\u00a0", "\u2007", "\u202f", "\u3000", "\u2003"]


class ShopForm(forms.Form):
    code = CodeFormField()


def admin_accepts(code: str) -> str | None:
    form = VoucherForm({**BASE, "code": code, "discount_type": "AMOUNT", "amount_off": "100"})
    form.is_valid()
    return None if "code" in form.errors else form.cleaned_data["code"]


def rest_accepts(code: str) -> str | None:
    try:
        return CodeField().run_validation(code)
    except serializers.ValidationError:
        return None


def shop_accepts(code: str) -> str | None:
    form = ShopForm({"code": code})
    return form.cleaned_data["code"] if form.is_valid() else None


codes = st.one_of(
    st.text(max_size=MAX_CODE_LENGTH + 5),
    st.text(alphabet=st.sampled_from(["A", "7", "-", " ", "\t", "\u200b", "é", *ODD_SPACES]), max_size=12),
    st.sampled_from([".", "..", " SUMMER ", "A" * MAX_CODE_LENGTH, "A" * (MAX_CODE_LENGTH + 1), "X Y"]),
    st.sampled_from([FULL_WIDTH, FULL_WIDTH[:6] + "20", "ﬁVE", "X²", "e\u0301", "Ⅻ", "ｶﾀ"]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(codes)
def test_admin_rest_and_shop_accept_the_same_codes(code):
    admin, rest, shop = admin_accepts(code), rest_accepts(code), shop_accepts(code)
    assert admin == rest == shop, (code, admin, rest, shop)
    if admin is not None:
        assert code_problem(admin) is None  # what is stored passes the rule as stored


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=20))
def test_only_nfkc_stable_codes_pass_at_every_door(text):
    """A full-width or other compatibility look-alike is refused by all three doors, never
    normalised into a different code; an NFKC-stable code is judged by the other rules only."""
    import unicodedata

    code = f"A{text}Z"  # ends that the strip of typed input leaves alone
    stable = unicodedata.normalize("NFKC", code) == code
    answers = {admin_accepts(code), rest_accepts(code), shop_accepts(code)}
    assert len(answers) == 1, (code, answers)
    if not stable:
        assert answers == {None}
        assert code_problem(code) is not None
    accepted = answers.pop()
    assert accepted is None or unicodedata.normalize("NFKC", accepted) == accepted


@pytest.mark.parametrize("code", [FULL_WIDTH, FULL_WIDTH[:6] + "20", "ﬁVE", "SALE²", "CAFE\u0301"])
def test_full_width_and_other_look_alike_codes_are_refused_everywhere(code):
    assert admin_accepts(code) is rest_accepts(code) is shop_accepts(code) is None
    problem = code_problem(code)
    assert problem is not None and "look-alike" in problem
    assert code_problem("SPRING20") is None and "“SPRING20”" in code_problem(FULL_WIDTH)


@pytest.mark.parametrize("space", ODD_SPACES)
def test_a_space_a_shopper_cannot_type_is_refused_everywhere(space):
    code = f"SUMMER{space}10"
    assert admin_accepts(code) is rest_accepts(code) is shop_accepts(code) is None
    with pytest.raises(forms.ValidationError):
        validate_code(code)


def test_plain_spaces_inside_a_code_are_fine_and_ends_are_stripped():
    typed = ("  BLACK FRIDAY \n", "BLACK FRIDAY ", " BLACK FRIDAY")
    assert admin_accepts(typed[0]) == rest_accepts(typed[1]) == shop_accepts(typed[2]) == "BLACK FRIDAY"


def test_an_overlong_code_is_refused_once_with_the_rules_words():
    form = ShopForm({"code": "A" * (MAX_CODE_LENGTH + 1)})
    assert not form.is_valid()
    assert form.errors["code"] == [f"A voucher code has at most {MAX_CODE_LENGTH} characters."]


def test_long_codes_do_not_push_the_changelist_columns(admin_client, mirrored):
    from django.urls import reverse

    long_code = "LONG-" + "X" * 90
    mirrored(long_code)
    page = admin_client.get(reverse("admin:django_voucherify_voucher_changelist")).content.decode()
    assert f'<span class="voucherify-code" title="{long_code}">{long_code}</span>' in page
    assert "django_voucherify/voucherify_admin.css" in page
