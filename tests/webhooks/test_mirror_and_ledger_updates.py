"""What an event leaves in the mirrors and the ledger: a refresh or pull read before a newer event
does not undo it, an event that changed nothing or a balance event does not make later ones
look stale, transaction events update balances, a stacked rollback delivered child first leaves
no false flag, a deletion named by id finds its mirror, a value the database cannot hold is not
retried; and the sandbox's event ids differ across restarts. From the second hostile review of
the webhooks (issue 15): "Finding N" below is that review's finding."""

from __future__ import annotations

import pytest

from django_voucherify.models import Customer, LedgerState, Voucher, WebhookEventState
from django_voucherify.vouchers import refresh
from tests.support.webhooks import deliver, envelope, ledger_row, redemption, voucher

pytestmark = pytest.mark.django_db


def test_a_refresh_read_before_a_newer_event_does_not_undo_it() -> None:
    """Finding 2: the refresh's older copy was written over the event's newer one."""
    deliver(envelope("voucher.disabled", {"voucher": voucher(active=False, updated="2026-01-01T11:00:00Z")}))
    refresh.store(voucher(active=True, updated="2026-01-01T10:00:00Z"))  # read at 10:00, written now
    assert Voucher.objects.get(code="SUMMER").active is False


def test_a_pull_read_before_a_newer_event_does_not_undo_it() -> None:
    """Finding 2, for customers: the pull goes through the same comparison."""
    from django_voucherify.sync import bulk

    newer = {"source_id": "c1", "name": "New", "object": "customer", "updated_at": "2026-01-01T11:00:00Z"}
    deliver(envelope("customer.updated", {"customer": newer}))
    stats = bulk.store_remote("customers", [{**newer, "name": "Old", "updated_at": "2026-01-01T10:00:00Z"}])
    assert Customer.objects.get(source_id="c1").name == "New" and stats["older"] == 1


def test_an_event_that_changed_nothing_does_not_make_older_ones_stale() -> None:
    """Finding 3: an unhandled type (a transaction event) carrying the voucher hid a late
    voucher.disabled from an earlier minute."""
    refresh.store(voucher(active=True, updated="2026-01-01T09:00:00Z"))
    deliver(envelope("voucher.some_future_type", {"voucher": voucher()}, at="2026-01-01T10:01:00Z"))
    late = deliver(
        envelope(
            "voucher.disabled",
            {"voucher": voucher(active=False, updated="2026-01-01T10:00:00Z")},
            at="2026-01-01T10:00:00Z",
        )
    )
    assert late.state == WebhookEventState.PROCESSED
    assert Voucher.objects.get(code="SUMMER").active is False


def test_a_balance_event_does_not_make_the_next_voucher_event_look_older() -> None:
    """Finding 4: the balance event wrote its own time as the voucher's updated_at."""
    refresh.store(
        voucher(
            "GIFT",
            type="GIFT_VOUCHER",
            gift={"amount": 5000, "balance": 5000},
            updated="2026-01-01T09:00:00Z",
        )
    )
    added = {"voucher": {"code": "GIFT"}, "balance": {"balance": 6000}}
    deliver(envelope("voucher.gift.balance_added", added, at="2026-01-01T10:00:00.050Z"))
    disabled = voucher(
        "GIFT",
        active=False,
        type="GIFT_VOUCHER",
        gift={"amount": 5000, "balance": 6000},
        updated="2026-01-01T10:00:00.020Z",
    )
    row = deliver(envelope("voucher.disabled", {"voucher": disabled}, at="2026-01-01T10:00:00.070Z"))
    assert row.state == WebhookEventState.PROCESSED and "updated" in row.outcome
    assert Voucher.objects.get(code="GIFT").active is False


def test_a_gift_transaction_event_updates_the_balance() -> None:
    """Finding 5: redemptions and removals are transactions; their events had no handler."""
    refresh.store(
        voucher(
            "GIFT",
            type="GIFT_VOUCHER",
            gift={"amount": 10000, "balance": 10000},
            updated="2026-01-01T09:00:00Z",
        )
    )
    card = voucher(
        "GIFT", type="GIFT_VOUCHER", gift={"amount": 10000, "balance": 7000}, updated="2026-01-01T10:00:00Z"
    )
    transaction = {
        "id": "vtx_1",
        "type": "CREDITS_REDEMPTION",
        "details": {"balance": {"balance": 7000, "amount": -3000}},
    }
    deliver(envelope("voucher.gift.transaction.created", {"voucher": card, "transaction": transaction}))
    assert Voucher.objects.get(code="GIFT").gift_balance == 7000


def test_a_transaction_event_with_a_partial_voucher_writes_its_balance() -> None:
    Voucher.objects.create(code="CARD", type="LOYALTY_CARD", loyalty_balance=100)
    data = {"voucher": {"code": "CARD"}, "transaction": {"details": {"balance": {"balance": 40}}}}
    deliver(envelope("voucher.loyalty_card.transaction.created", data))
    assert Voucher.objects.get(code="CARD").loyalty_balance == 40


def test_a_stacked_rollback_delivered_child_first_ends_without_a_false_flag() -> None:
    """Finding 7: the child's rollback flagged the row; the parent's did not clear the flag."""
    row = ledger_row(LedgerState.SUCCEEDED, parent_redemption_id="r_parent", redemption_ids=["r_1", "r_2"])
    child = {"redemption": redemption(None, "r_1"), "redemption_rollback": {"id": "rr_1"}}
    deliver(envelope("redemption.rollback.succeeded", child, at="2026-01-01T10:00:01Z"))
    parent = {"redemption": redemption(row, "r_parent"), "redemption_rollback": {"id": "rr_parent"}}
    deliver(envelope("redemption.rollback.succeeded", parent, at="2026-01-01T10:00:00Z"))
    row.refresh_from_db()
    assert row.state == LedgerState.ROLLED_BACK and not row.needs_attention


def test_customer_deleted_named_by_id_only_finds_its_mirror() -> None:
    """Finding 9: a deletion without source_id was ignored."""
    from django_voucherify import sync

    with sync.muted():
        Customer.objects.create(source_id="c9", voucherify_id="cust_abc123", name="X")
    deliver(envelope("customer.deleted", {"customer": {"id": "cust_abc123", "object": "customer"}}))
    assert not Customer.objects.filter(source_id="c9").exists()


def test_a_value_the_database_cannot_hold_is_not_applied_and_not_retried() -> None:
    """Finding 10: a balance of 10**30 raised DataError, was retried, then parked."""
    Voucher.objects.create(code="GIFT", type="GIFT_VOUCHER", gift_balance=1)
    row = deliver(
        envelope("voucher.gift.balance_added", {"voucher": {"code": "GIFT"}, "balance": {"balance": 10**30}})
    )
    assert row.state == WebhookEventState.PROCESSED and row.needs_attention and row.attempts == 1
    assert Voucher.objects.get(code="GIFT").gift_balance == 1


def test_sandbox_event_ids_differ_across_restarts() -> None:
    """Finding 1: a restarted sandbox counted from 1 again; the shop took its events for
    duplicates of the previous run's and dropped them."""
    import json

    from django_voucherify.sandbox.webhooks import WebhookSender

    ids: list[str] = []
    for _run in range(2):
        sender = WebhookSender(["http://127.0.0.1:9/"], "s")
        sender._push = lambda due, delivery: ids.append(json.loads(delivery.body)["event"]["id"])  # type: ignore[method-assign]
        sender.emit("voucher.updated", {"voucher": {"code": "A"}})
    assert len(set(ids)) == 2
