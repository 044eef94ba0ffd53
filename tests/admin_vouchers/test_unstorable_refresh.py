"""A voucher Voucherify holds but PostgreSQL cannot (NUL anywhere, even deep in metadata; a
code longer than the column) is skipped and reported by the refresh, never aborting it; the
same for customers and orders pulled."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

import django_voucherify
from django_voucherify.admin.voucher_forms import VoucherForm
from django_voucherify.models import Customer, Order, Voucher
from django_voucherify.vouchers import refresh
from tests.support.vouchers import make_voucher

pytestmark = pytest.mark.django_db


def test_refresh_skips_and_reports_vouchers_it_cannot_store(sandbox):
    for code in ("R-1", "R-2", "R-3", "R-4"):
        make_voucher(code)
    refresh.refresh_all()
    sandbox.state.vouchers["R-2"]["metadata"] = {"deep": {"list": ["ok", "bad\x00"]}}
    make_voucher("R-5")
    sandbox.state.vouchers["R-5"]["metadata"] = {"k": "\x00"}
    out, err = StringIO(), StringIO()
    call_command("voucherify_pull", "vouchers", "--no-progress", stdout=out, stderr=err)
    assert "0 created, 3 updated, 0 removed, 2 skipped (cannot be stored)" in out.getvalue()
    assert "R-5" in err.getvalue() and "NUL" in err.getvalue()
    kept = Voucher.objects.get(code="R-2")  # exists in Voucherify: kept as it was, flagged, not pruned
    assert kept.metadata == {} and kept.last_error_key == "unstorable" and "NUL" in kept.last_error
    assert not Voucher.objects.filter(code="R-5").exists()
    assert set(Voucher.objects.values_list("code", flat=True)) == {"R-1", "R-2", "R-3", "R-4"}


def test_refresh_one_keeps_the_mirror_when_the_answer_cannot_be_stored(sandbox):
    [voucher] = [refresh.store(make_voucher("ONE"))]
    sandbox.state.vouchers["ONE"]["additional_info"] = "a\x00b"
    assert refresh.refresh_one(voucher) is not None
    voucher.refresh_from_db()
    assert voucher.additional_info == "" and voucher.last_error_key == "unstorable"


def test_pull_skips_customers_and_orders_it_cannot_store(sandbox):
    api = django_voucherify.get_client()
    api.customers.create({"source_id": "c-ok", "name": "Fine"})
    api.customers.create({"source_id": "c-bad", "name": "Bad", "metadata": {"x": "a"}})
    sandbox.state.find_customer("c-bad")["metadata"] = {"x": {"y": "nul\x00"}}
    api.orders.create({"source_id": "o-ok", "amount": 100})
    api.orders.create({"source_id": "o-bad", "amount": 100})
    sandbox.state.find_order("o-bad")["metadata"] = {"note": "\x00"}
    out, err = StringIO(), StringIO()
    call_command("voucherify_pull", "customers", "--no-progress", stdout=out, stderr=err)
    assert "1 created" in out.getvalue() and "1 skipped (cannot be stored)" in out.getvalue()
    assert "c-bad" in err.getvalue()
    call_command("voucherify_pull", "orders", "--no-progress", stdout=out, stderr=err)
    assert list(Customer.objects.values_list("source_id", flat=True)) == ["c-ok"]
    assert list(Order.objects.values_list("source_id", flat=True)) == ["o-ok"]


@pytest.mark.parametrize(
    ("code", "metadata"),
    [
        ("A\u200bB", "{}"),
        ("A\u202eB", "{}"),
        ("..", "{}"),
        ("OK-1", '{"k": "v\\u0000"}'),
        ("OK-2", '{"k\\u200b": 1}'),
    ],
)
def test_the_admin_form_refuses_what_every_other_door_refuses(code, metadata):
    form = VoucherForm(
        data={
            "code": code,
            "type": "DISCOUNT_VOUCHER",
            "discount_type": "AMOUNT",
            "amount_off": 5,
            "metadata": metadata,
        }
    )
    assert not form.is_valid()
    assert set(form.errors) & {"code", "metadata"}
