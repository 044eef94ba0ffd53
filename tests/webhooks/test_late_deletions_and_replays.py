"""Third review: a deletion judged against the copy the mirror holds, like every other change;
an event older than the retention (its id may be forgotten) refused at the door; the endpoint
answering JSON when the settings are invalid."""

from __future__ import annotations

import pytest

from django_voucherify import sync
from django_voucherify.models import Customer, Voucher, WebhookEventState
from django_voucherify.vouchers import refresh
from tests.support.webhooks import customer, deliver, envelope, voucher

pytestmark = pytest.mark.django_db


def test_a_late_voucher_deletion_leaves_a_voucher_made_again_since() -> None:
    # Deleted at 10:00, made again under the same code at 11:00 (a refresh stored that copy,
    # never updated: no updated_at). The deletion, delivered late, deleted the live voucher's mirror.
    refresh.store(voucher("AGAIN", updated=None, created_at="2026-01-01T11:00:00Z"))
    gone = voucher("AGAIN", updated="2026-01-01T09:00:00Z")
    row = deliver(envelope("voucher.deleted", {"voucher": gone}, at="2026-01-01T10:00:00Z"))
    assert Voucher.objects.filter(code="AGAIN").exists()
    assert row.state == WebhookEventState.PROCESSED and "newer" in row.outcome and not row.applied


def test_a_voucher_deletion_newer_than_the_copy_deletes_it() -> None:
    refresh.store(voucher("OLD", updated="2026-01-01T09:00:00Z"))
    row = deliver(envelope("voucher.deleted", {"voucher": voucher("OLD")}, at="2026-01-01T10:00:00Z"))
    assert not Voucher.objects.filter(code="OLD").exists() and row.applied


def test_a_late_customer_deletion_leaves_a_customer_made_again_since() -> None:
    # The shop saved the customer again after Voucherify deleted it at 10:00: the outbox made it
    # anew at 11:00 (Voucherify's answer has created_at, no updated_at). The late deletion
    # removed the mirror of a customer that exists in Voucherify.
    with sync.muted():
        Customer.objects.create(
            source_id="cust-1", name="Back", remote_payload={"created_at": "2026-01-01T11:00:00Z"}
        )
    row = deliver(envelope("customer.deleted", {"customer": customer()}, at="2026-01-01T10:00:00Z"))
    assert Customer.objects.filter(source_id="cust-1").exists()
    assert "newer" in row.outcome and not row.applied


def test_forget_remote_without_a_time_still_deletes() -> None:
    with sync.muted():
        Customer.objects.create(source_id="cust-2", remote_payload={"created_at": "2026-01-01T11:00:00Z"})
    assert sync.forget_remote("customers", "cust-2") == "deleted"
