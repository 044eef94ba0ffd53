"""Create and edit forms: validated locally first, Voucherify's refusals as form errors."""

from __future__ import annotations

import pytest
from django.urls import reverse

from django_voucherify import client
from django_voucherify.models import Voucher
from tests.support.vouchers import VOUCHER_FORM_BLANK as BASE
from tests.support.vouchers import make_voucher

pytestmark = pytest.mark.django_db
ADD = reverse("admin:django_voucherify_voucher_add")


def post(admin_client, url=ADD, **fields):
    return admin_client.post(url, {**BASE, **fields})


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"discount_type": "AMOUNT", "amount_off": "500"}, {"type": "AMOUNT", "amount_off": 500}),
        (
            {"discount_type": "PERCENT", "percent_off": "15", "amount_limit": "2000"},
            {"type": "PERCENT", "percent_off": 15, "amount_limit": 2000},
        ),
        ({"discount_type": "FIXED", "fixed_amount": "999"}, {"type": "FIXED", "fixed_amount": 999}),
    ],
)
def test_create_discount_vouchers(admin_client, sandbox, fields, expected):
    resp = post(
        admin_client,
        code="NEW-1",
        redemption_quantity="5",
        category="summer",
        start_date_0="2030-01-01",
        start_date_1="00:00:00",
        expiration_date_0="2030-12-31",
        expiration_date_1="23:59:00",
        metadata='{"channel": "newsletter"}',
        **fields,
    )
    assert resp.status_code == 302, resp.content.decode()[:3000]
    remote = sandbox.state.vouchers["NEW-1"]
    assert {k: remote["discount"][k] for k in expected} == expected
    assert remote["redemption"]["quantity"] == 5 and remote["category"] == "summer"
    assert remote["metadata"] == {"channel": "newsletter"}
    assert remote["expiration_date"].startswith("2030-12-31T23:59")
    mirror = Voucher.objects.get(code="NEW-1")
    assert mirror.voucherify_id == remote["id"] and mirror.category == "summer"


def test_create_gift_and_loyalty_cards(admin_client, sandbox):
    assert post(admin_client, code="GIFT-1", type="GIFT_VOUCHER", gift_amount="5000").status_code == 302
    loyalty = {"code": "LOY-1", "type": "LOYALTY_CARD", "loyalty_points": "0"}
    assert post(admin_client, **loyalty, campaign="Loyalty Program").status_code == 302
    assert sandbox.state.vouchers["GIFT-1"]["gift"]["balance"] == 5000
    assert sandbox.state.vouchers["LOY-1"]["type"] == "LOYALTY_CARD"
    assert sandbox.state.vouchers["LOY-1"]["campaign"] == "Loyalty Program"
    assert Voucher.objects.get(code="LOY-1").campaign == "Loyalty Program"
    assert Voucher.objects.get(code="GIFT-1").gift_balance == 5000


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"discount_type": "PERCENT", "percent_off": "150"}, "percent_off", "between 0 and 100"),
        ({"discount_type": ""}, "discount_type", "Choose how the voucher discounts"),
        ({"type": "GIFT_VOUCHER"}, "gift_amount", "A gift card needs an amount"),
        # Voucherify refuses a loyalty card without a campaign (create-voucher's description).
        ({"type": "LOYALTY_CARD", "loyalty_points": "5"}, "campaign", "belongs to a campaign"),
        ({"discount_type": "AMOUNT", "amount_off": "5", "metadata": "[1, 2]"}, "metadata", "JSON object"),
        (
            {
                "discount_type": "AMOUNT",
                "amount_off": "5",
                "start_date_0": "2030-02-01",
                "start_date_1": "00:00",
                "expiration_date_0": "2030-01-01",
                "expiration_date_1": "00:00",
            },
            "expiration_date",
            "after the start",
        ),
    ],
)
def test_invalid_input_never_reaches_voucherify(admin_client, sandbox, fields, field, message):
    resp = post(admin_client, code="BAD-1", **fields)
    assert resp.status_code == 200
    assert message in str(resp.context["adminform"].form.errors[field])
    assert sandbox.calls.calls == [] and not Voucher.objects.exists()


def test_duplicate_code_is_a_form_error(admin_client, sandbox):
    make_voucher("TAKEN")  # exists in Voucherify, not (yet) mirrored here
    resp = post(admin_client, code="TAKEN", discount_type="AMOUNT", amount_off="100")
    assert resp.status_code == 200
    errors = resp.context["adminform"].form.errors["code"]
    assert "already exists in Voucherify" in str(errors) and "request id" in str(errors)
    assert not Voucher.objects.exists()


def test_invalid_payload_from_voucherify_is_a_form_error(admin_client, sandbox):
    sandbox.faults.add(path="/v1/vouchers/*", method="POST", status=400, key="invalid_payload", times=1)
    resp = post(admin_client, code="REFUSED", discount_type="AMOUNT", amount_off="100")
    assert resp.status_code == 200
    assert "Voucherify refused the data" in str(resp.context["adminform"].form.non_field_errors())
    assert not Voucher.objects.exists()


def test_voucherify_down_is_a_form_error_not_500(admin_client, sandbox):
    sandbox.faults.add(path="/v1/vouchers/*", method="POST", drop=True, times=1)
    resp = post(admin_client, code="DOWN", discount_type="AMOUNT", amount_off="100")
    assert resp.status_code == 200 and "could not be reached" in resp.content.decode()


def test_edit_sends_changes_and_type_cannot_change(admin_client, sandbox, mirrored):
    (voucher,) = mirrored("EDIT-1", kind="percent")
    url = reverse("admin:django_voucherify_voucher_change", args=[voucher.pk])
    page = admin_client.get(url)
    assert page.context["adminform"].form.fields["type"].disabled
    resp = post(
        admin_client,
        url,
        code="OTHER",
        type="GIFT_VOUCHER",
        discount_type="PERCENT",
        percent_off="30",
        amount_limit="500",
        category="vip",
        metadata='{"tier": "gold"}',
    )
    assert resp.status_code == 302, resp.content.decode()[:2000]
    remote = sandbox.state.vouchers["EDIT-1"]
    assert remote["type"] == "DISCOUNT_VOUCHER" and "OTHER" not in sandbox.state.vouchers
    assert remote["discount"]["percent_off"] == 30 and remote["category"] == "vip"
    assert remote["metadata"] == {"tier": "gold"}
    voucher.refresh_from_db()
    assert (voucher.code, voucher.type, voucher.percent_off, voucher.category) == (
        "EDIT-1",
        "DISCOUNT_VOUCHER",
        30,
        "vip",
    )


def test_edit_of_voucher_deleted_meanwhile_is_a_form_error(admin_client, sandbox, mirrored):
    (voucher,) = mirrored("GONE-1")
    client.vouchers.delete("GONE-1", force=True)
    url = reverse("admin:django_voucherify_voucher_change", args=[voucher.pk])
    resp = post(admin_client, url, discount_type="AMOUNT", amount_off="700")
    assert resp.status_code == 200 and "deleted meanwhile" in resp.content.decode()


def test_unit_voucher_edits_keep_its_discount(admin_client, sandbox):
    from django_voucherify.vouchers.refresh import store

    unit = {"type": "UNIT", "unit_off": 2, "effect": "ADD_MISSING_ITEMS", "unit_type": "prod_1"}
    voucher = store(dict(client.vouchers.create("UNIT-1", {"type": "DISCOUNT_VOUCHER", "discount": unit})))
    url = reverse("admin:django_voucherify_voucher_change", args=[voucher.pk])
    form = admin_client.get(url).context["adminform"].form
    assert form.fields["discount_type"].disabled and form.initial["discount_type"] == "UNIT"
    resp = post(admin_client, url, code="UNIT-1", discount_type="AMOUNT", amount_off="5", category="x")
    assert resp.status_code == 302, resp.context["adminform"].form.errors
    remote = sandbox.state.vouchers["UNIT-1"]
    assert remote["category"] == "x" and {k: remote["discount"][k] for k in unit} == unit


def test_edit_keeps_discount_keys_the_form_does_not_show(admin_client, sandbox):
    from django_voucherify.vouchers.refresh import store

    voucher = store(
        make_voucher("EFFECT-1", discount={"type": "AMOUNT", "amount_off": 100, "effect": "APPLY_TO_ITEMS"})
    )
    url = reverse("admin:django_voucherify_voucher_change", args=[voucher.pk])
    assert post(admin_client, url, discount_type="AMOUNT", amount_off="300").status_code == 302
    assert sandbox.state.vouchers["EFFECT-1"]["discount"] == {
        "type": "AMOUNT",
        "amount_off": 300,
        "effect": "APPLY_TO_ITEMS",
    }


def test_validating_a_form_never_calls_voucherify(sandbox, mirrored):
    from django_voucherify.admin.voucher_forms import VoucherForm

    (voucher,) = mirrored("VALID-1")
    sandbox.calls.calls.clear()
    for instance, code in ((None, "NEW-9"), (voucher, "VALID-1")):
        form = VoucherForm(
            {**BASE, "code": code, "discount_type": "AMOUNT", "amount_off": "100"}, instance=instance
        )
        assert form.is_valid(), form.errors
        form.full_clean()  # again, as any second validation would
        assert form.is_valid()
    assert sandbox.calls.calls == [] and "NEW-9" not in sandbox.state.vouchers


def test_create_is_sent_once_per_submit(admin_client, sandbox):
    resp = post(admin_client, code="ONCE-1", discount_type="AMOUNT", amount_off="100")
    assert resp.status_code == 302 and sandbox.calls.count("POST", "/v1/vouchers/ONCE-1") == 1
    resp = post(admin_client, code="DUP-1", discount_type="AMOUNT", amount_off="100")
    sandbox.calls.calls.clear()
    Voucher.objects.filter(code="DUP-1").delete()  # mirror gone, still in Voucherify
    resp = post(admin_client, code="DUP-1", discount_type="AMOUNT", amount_off="100")
    assert resp.status_code == 200 and "already exists" in str(resp.context["adminform"].form.errors)
    assert sandbox.calls.count("POST", "/v1/vouchers/DUP-1") == 1  # the refusal is not asked twice
