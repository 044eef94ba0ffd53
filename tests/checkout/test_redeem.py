"""validate / redeem / rollback against the in-process sandbox: results, ledger, messages."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from django_voucherify import checkout
from django_voucherify.models import CheckoutRedemption, LedgerState
from tests.support.checkout import redemptions_of
from tests.support.vouchers import make_voucher

pytestmark = pytest.mark.django_db

ORDER = {"source_id": "ORD-1", "amount": 10_000}


def test_validate_reports_discount_per_code_and_totals(sandbox):
    make_voucher("FIVE", amount_off=500)
    make_voucher("TEN", amount_off=1000)
    result = checkout.validate(["FIVE", "TEN"], ORDER, "cust-1")
    assert result.valid
    assert [(c.code, c.applicable, c.discount_amount) for c in result.codes] == [
        ("FIVE", True, 500),
        ("TEN", True, 1000),
    ]
    assert (result.totals.amount, result.totals.discount_amount, result.totals.total_amount) == (
        10_000,
        1500,
        8500,
    )
    assert not sandbox.state.redemptions  # validation stores nothing


def test_validate_gives_translated_reason_per_refused_code(sandbox):
    make_voucher("FIVE")
    make_voucher("OLD", expiration_date="2000-01-01T00:00:00Z")
    result = checkout.validate(["FIVE", "OLD"], ORDER)
    assert not result.valid
    by_code = {c.code: c for c in result.codes}
    assert by_code["OLD"].reason_key == "voucher_expired"
    assert by_code["OLD"].reason == "This code has expired."
    assert by_code["FIVE"].reason_key == "skipped"
    assert result.totals.discount_amount == 0


def test_validate_with_lock_holds_a_session(sandbox):
    make_voucher("ONE", quantity=1)
    held = checkout.validate(["ONE"], ORDER, lock=True)
    assert held.session_key
    other = checkout.validate(["ONE"], {"source_id": "ORD-2", "amount": 1000})
    assert other.codes[0].reason_key == "quantity_exceeded"
    outcome = checkout.redeem(["ONE"], ORDER, session_key=held.session_key)
    assert outcome.applied and outcome.totals.discount_amount == 500


def test_redeem_records_a_succeeded_ledger_row_with_one_http_call(sandbox):
    make_voucher("FIVE")
    before = len(sandbox.calls.calls)
    outcome = checkout.redeem(["FIVE"], ORDER, "cust-1")
    assert len(sandbox.calls.calls) - before == 1
    row = CheckoutRedemption.objects.get()
    assert row.state == LedgerState.SUCCEEDED and outcome.ledger.pk == row.pk
    assert (row.amount, row.discount_amount, row.total_amount) == (10_000, 500, 9500)
    assert row.redemption_ids == [r["id"] for r in redemptions_of(sandbox, str(row.reference))]
    assert row.parent_redemption_id == "" and row.customer_source_id == "cust-1"


def test_stacked_redeem_keeps_parent_and_children_and_rolls_back_through_parent(sandbox):
    make_voucher("A", amount_off=100)
    make_voucher("B", amount_off=200)
    outcome = checkout.redeem(["A", "B"], ORDER)
    row = outcome.ledger
    assert row.parent_redemption_id.startswith("r_") and len(row.redemption_ids) == 2
    assert outcome.totals.discount_amount == 300
    rolled = checkout.rollback(row, "customer changed mind")
    assert rolled.state == LedgerState.ROLLED_BACK and rolled.rollback_ids
    assert sandbox.state.redemptions[row.parent_redemption_id]["status"] == "ROLLED_BACK"
    assert ("POST", f"/v1/redemptions/{row.parent_redemption_id}/rollbacks") in sandbox.calls.by_route()
    for code in ("A", "B"):
        assert sandbox.state.vouchers[code]["redemption"]["redeemed_quantity"] == 0


def test_refused_code_raises_translated_error_and_frees_the_order(sandbox):
    make_voucher("ONCE", quantity=1)
    checkout.redeem(["ONCE"], {"source_id": "ORD-0", "amount": 1000})
    with pytest.raises(checkout.CodesRefused) as refused:
        checkout.redeem(["ONCE"], ORDER)
    assert refused.value.key == "quantity_exceeded"
    assert refused.value.message == "This code has been used up."
    row = refused.value.ledger
    assert row.state == LedgerState.FAILED and row.last_error_key == "quantity_exceeded"
    assert row.last_request_id
    make_voucher("OTHER")
    assert checkout.redeem(["OTHER"], ORDER).applied  # a failed attempt does not block the order


def test_second_redeem_of_same_order_is_refused_without_a_request(sandbox):
    make_voucher("FIVE")
    make_voucher("TEN")
    checkout.redeem(["FIVE"], ORDER)
    sent = len(sandbox.calls.calls)
    with pytest.raises(checkout.AlreadyRedeemed):
        checkout.redeem(["TEN"], ORDER)
    assert len(sandbox.calls.calls) == sent


def test_database_constraint_allows_one_live_row_per_order():
    CheckoutRedemption.objects.create(order_source_id="X", state=LedgerState.SUCCEEDED)
    CheckoutRedemption.objects.create(order_source_id="X", state=LedgerState.FAILED)
    with pytest.raises(IntegrityError), transaction.atomic():
        CheckoutRedemption.objects.create(order_source_id="X", state=LedgerState.UNKNOWN)


def test_bad_input_is_refused_before_anything_is_written(sandbox):
    for codes in ([], ["  "], [f"C{i}" for i in range(31)]):
        with pytest.raises(ValueError):
            checkout.redeem(codes, ORDER)
    with pytest.raises(ValueError):
        checkout.redeem(["A"], {"amount": 100})
    with pytest.raises(ValueError):
        checkout.redeem(["A"], {"source_id": "O", "amount": 10.5})
    assert not CheckoutRedemption.objects.exists() and not sandbox.calls.calls


def test_gift_card_credits_are_redeemed(sandbox):
    from django_voucherify import client

    client.vouchers.create("GIFT", {"type": "GIFT_VOUCHER", "gift": {"amount": 5000}})
    outcome = checkout.redeem([checkout.Redeemable("GIFT", gift_credits=1200)], ORDER)
    assert outcome.totals.total_amount == 8800
    assert sandbox.state.vouchers["GIFT"]["gift"]["balance"] == 3800


def test_redeem_then_pay_rolls_back_when_payment_raises(sandbox):
    make_voucher("FIVE", quantity=1)

    def declined(outcome):
        assert outcome.totals.total_amount == 9500
        raise RuntimeError("card declined")

    with pytest.raises(RuntimeError):
        checkout.redeem_then_pay(["FIVE"], ORDER, declined)
    row = CheckoutRedemption.objects.get()
    assert row.state == LedgerState.ROLLED_BACK and row.rollback_reason == "payment failed"
    assert sandbox.state.vouchers["FIVE"]["redemption"]["redeemed_quantity"] == 0
    paid = checkout.redeem_then_pay(["FIVE"], ORDER, lambda o: "charged")  # the order is free again
    assert paid.payment == "charged" and paid.redemption.ledger.state == LedgerState.SUCCEEDED


@pytest.mark.parametrize(
    ("codes", "order", "message"),
    [
        (["\u200bSPRING"], ORDER, "A voucher code cannot contain invisible or control characters."),
        (["\u202eEVIL"], ORDER, "A voucher code cannot contain invisible or control characters."),
        (["X" * 101], ORDER, "A voucher code has at most 100 characters."),
        (["A"], {"source_id": "O", "amount": 10**12 + 1}, "The order amount is too large"),
        (
            ["A"],
            {"source_id": "O", "items": [{"source_id": "x", "quantity": 1}] * 501},
            "An order has at most 500 lines.",
        ),
        (["A"], {"amount": 100}, "The order needs a source_id"),
    ],
)
def test_bad_input_gets_a_clear_message(sandbox, codes, order, message):
    with pytest.raises(checkout.InvalidCheckoutInput) as invalid:
        checkout.redeem(codes, order)
    assert invalid.value.message.startswith(message)
    assert isinstance(invalid.value, ValueError)  # callers catching ValueError keep working
    assert not CheckoutRedemption.objects.exists() and not sandbox.calls.calls
