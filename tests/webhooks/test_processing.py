"""What events do: mirrors updated newest-wins, no echo to Voucherify, the ledger settled,
failures retried then parked, reprocessing, signals."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.utils import timezone

from django_voucherify import sync
from django_voucherify.models import (
    Customer,
    LedgerState,
    Order,
    OutboxEntry,
    Voucher,
    WebhookEvent,
    WebhookEventState,
)
from django_voucherify.webhooks import events, process, record, reprocess, signal_for, webhook_event
from tests.support.webhooks import customer, deliver, envelope, ledger_row, redemption, voucher

pytestmark = pytest.mark.django_db


def test_voucher_disabled_updates_the_mirror() -> None:
    Voucher.objects.create(code="SUMMER", active=True)
    row = deliver(envelope("voucher.disabled", {"voucher": voucher(active=False)}))
    assert row.state == WebhookEventState.PROCESSED and row.attempts == 1
    assert Voucher.objects.get(code="SUMMER").active is False


def test_voucher_created_then_deleted() -> None:
    deliver(envelope("voucher.created", {"voucher": voucher("NEW")}, at="2026-01-01T10:00:00Z"))
    assert Voucher.objects.filter(code="NEW").exists()
    deliver(envelope("voucher.deleted", {"voucher": voucher("NEW")}, at="2026-01-01T11:00:00Z"))
    assert not Voucher.objects.filter(code="NEW").exists()


def test_older_event_after_a_newer_one_is_stale() -> None:
    deliver(
        envelope(
            "voucher.disabled",
            {"voucher": voucher(active=False, updated="2026-01-01T11:00:00Z")},
            at="2026-01-01T11:00:00Z",
        )
    )
    old = deliver(
        envelope(
            "voucher.enabled",
            {"voucher": voucher(active=True, updated="2026-01-01T10:00:00Z")},
            at="2026-01-01T10:00:00Z",
        )
    )
    assert old.state == WebhookEventState.STALE
    assert Voucher.objects.get(code="SUMMER").active is False


def test_an_update_older_than_a_delete_does_not_bring_the_voucher_back() -> None:
    deliver(envelope("voucher.created", {"voucher": voucher()}, at="2026-01-01T09:00:00Z"))
    deliver(envelope("voucher.deleted", {"voucher": voucher()}, at="2026-01-01T12:00:00Z"))
    late = deliver(
        envelope(
            "voucher.updated", {"voucher": voucher(updated="2026-01-01T11:00:00Z")}, at="2026-01-01T11:00:00Z"
        )
    )
    assert late.state == WebhookEventState.STALE
    assert not Voucher.objects.filter(code="SUMMER").exists()


def test_an_event_older_than_a_refresh_does_not_make_the_mirror_older() -> None:
    from django_voucherify.vouchers import refresh

    refresh.store(voucher(active=False, updated="2026-01-02T00:00:00Z"))
    row = deliver(
        envelope("voucher.enabled", {"voucher": voucher(active=True, updated="2026-01-01T00:00:00Z")})
    )
    assert row.state == WebhookEventState.PROCESSED and "newer" in row.outcome
    assert Voucher.objects.get(code="SUMMER").active is False


def test_gift_balance_added_writes_only_the_balance() -> None:
    Voucher.objects.create(
        code="GIFT", type="GIFT_VOUCHER", gift_amount=5000, gift_balance=1000, category="cards"
    )
    data = {
        "voucher": {"id": "v_GIFT", "code": "GIFT"},
        "balance": {"balance": 3000, "amount": 2000, "type": "gift_voucher"},
    }
    deliver(envelope("voucher.gift.balance_added", data))
    gift = Voucher.objects.get(code="GIFT")
    assert (gift.gift_balance, gift.gift_amount, gift.category) == (3000, 5000, "cards")


def test_a_balance_event_older_than_a_never_updated_copy_is_skipped() -> None:
    """The card's copy was made after the event (the code made again since; never updated:
    ``updated_at`` null): the old card's balance is not written over the new card's."""
    Voucher.objects.create(
        code="GIFT",
        type="GIFT_VOUCHER",
        gift_amount=1000,
        gift_balance=1000,
        remote_payload={"code": "GIFT", "created_at": "2026-01-01T11:00:00.000Z", "updated_at": None},
    )
    data = {"voucher": {"id": "v_GIFT", "code": "GIFT"}, "balance": {"balance": 3000, "type": "gift_voucher"}}
    row = deliver(envelope("voucher.gift.balance_added", data, at="2026-01-01T10:00:00.000Z"))
    assert Voucher.objects.get(code="GIFT").gift_balance == 1000
    assert "newer" in row.outcome


def test_customer_updated_updates_the_mirror_without_echo(settings: Any) -> None:
    settings.VOUCHERIFY = {**settings.VOUCHERIFY, "SYNC_ENABLED": True}
    with sync.muted():
        Customer.objects.create(source_id="cust-1", name="Old", email="a@example.com")
    OutboxEntry.objects.all().delete()
    deliver(envelope("customer.updated", {"customer": customer()}))
    assert Customer.objects.get(source_id="cust-1").name == "Remote Name"
    assert not OutboxEntry.objects.exists()  # nothing queued back to Voucherify


def test_customer_update_does_not_clobber_unsent_local_edits(settings: Any) -> None:
    settings.VOUCHERIFY = {**settings.VOUCHERIFY, "SYNC_ENABLED": True}
    Customer.objects.create(source_id="cust-1", name="Local edit", email="a@example.com")
    assert OutboxEntry.objects.exclude(state="synced").exists()
    row = deliver(envelope("customer.updated", {"customer": customer()}))
    assert Customer.objects.get(source_id="cust-1").name == "Local edit"
    assert "not sent yet" in row.outcome


def test_customer_update_does_not_bring_back_a_customer_whose_deletion_is_unsent(settings: Any) -> None:
    with sync.muted():
        mirror = Customer.objects.create(source_id="cust-1", name="Old", email="a@example.com")
    settings.VOUCHERIFY = {**settings.VOUCHERIFY, "SYNC_ENABLED": True}
    mirror.delete()  # its deletion is in the outbox, not in Voucherify yet
    row = deliver(envelope("customer.updated", {"customer": customer()}))
    assert not Customer.objects.filter(source_id="cust-1").exists()
    assert "not sent yet" in row.outcome


def test_a_late_created_event_does_not_undo_a_newer_change_of_the_order() -> None:
    """An object never updated has ``updated_at: null`` (its ``created_at`` is its last change).
    Before, such a copy counted as "time unknown" and was always written: the late
    ``customer.order.created`` event put the order back to CREATED over the PAID copy the
    mirror received after it (the answer to its own update), and marked it synced."""
    paid = {"id": "ord_1", "source_id": "o-1", "object": "order", "status": "PAID", "amount": 100}
    created = {**paid, "status": "CREATED", "created_at": "2026-01-01T10:00:00.000Z", "updated_at": None}
    with sync.muted():
        Order.objects.create(
            source_id="o-1",
            status="PAID",
            amount=100,
            remote_payload={**created, **paid, "updated_at": "2026-01-01T11:00:00.000Z"},
        )
    row = deliver(envelope("customer.order.created", {"order": created}, at="2026-01-01T10:00:00.000Z"))
    assert Order.objects.get(source_id="o-1").status == "PAID"
    assert "newer" in row.outcome


def test_a_created_copy_still_replaces_an_older_one() -> None:
    """The other way round: a copy made again after the one stored (created later, never
    updated) is newer, and written."""
    with sync.muted():
        Customer.objects.create(
            source_id="cust-1",
            name="Old",
            remote_payload={"id": "c_old", "source_id": "cust-1", "updated_at": "2026-01-01T09:00:00.000Z"},
        )
    again = {**customer(), "id": "c_new", "created_at": "2026-01-01T10:00:00.000Z", "updated_at": None}
    deliver(envelope("customer.created", {"customer": again}))
    assert Customer.objects.get(source_id="cust-1").name == "Remote Name"


def test_customer_deleted_removes_the_mirror_without_echo(settings: Any) -> None:
    settings.VOUCHERIFY = {**settings.VOUCHERIFY, "SYNC_ENABLED": True, "SYNC_PERMANENT_DELETE": True}
    with sync.muted():
        Customer.objects.create(source_id="cust-1", name="Old", email="a@example.com")
    OutboxEntry.objects.all().delete()
    deliver(envelope("customer.deleted", {"customer": customer()}))
    assert not Customer.objects.filter(source_id="cust-1").exists()
    assert not OutboxEntry.objects.exists()


def test_rollback_in_the_dashboard_shows_as_rolled_back() -> None:
    row = ledger_row(LedgerState.SUCCEEDED, redemption_ids=["r_1"])
    data = {"redemption": redemption(row), "redemption_rollback": {"id": "rr_1"}}
    event = deliver(envelope("redemption.rollback.succeeded", data))
    row.refresh_from_db()
    assert row.state == LedgerState.ROLLED_BACK and row.rollback_ids == ["rr_1"] and row.rolled_back_at
    assert event.state == WebhookEventState.PROCESSED


def test_rollback_of_one_part_of_a_stacked_redemption_flags_the_row() -> None:
    row = ledger_row(LedgerState.SUCCEEDED, parent_redemption_id="r_parent", redemption_ids=["r_1", "r_2"])
    data = {"redemption": redemption(None, "r_1"), "redemption_rollback": {"id": "rr_1"}}
    event = deliver(envelope("redemption.rollback.succeeded", data))
    row.refresh_from_db()
    assert row.state == LedgerState.SUCCEEDED and row.needs_attention
    assert event.needs_attention


def test_redemption_unknown_to_the_ledger_is_recorded_for_staff() -> None:
    event = deliver(
        envelope("redemption.succeeded", {"redemption": redemption(None, "r_elsewhere", order="pos-7")})
    )
    assert event.needs_attention and "unknown" in event.outcome


def test_unknown_row_is_sent_to_reconciliation(django_capture_on_commit_callbacks: Any) -> None:
    row = ledger_row(LedgerState.UNKNOWN)
    with django_capture_on_commit_callbacks() as callbacks:
        deliver(envelope("redemption.succeeded", {"redemption": redemption(row)}))
    row.refresh_from_db()
    assert row.lease_token and row.lease_until  # a reconcile chain holds it now
    assert callbacks  # and its task is sent on commit


def test_failed_row_whose_redemption_succeeded_gets_its_late_check_now() -> None:
    row = ledger_row(LedgerState.FAILED)
    event = deliver(envelope("redemption.succeeded", {"redemption": redemption(row)}))
    row.refresh_from_db()
    assert row.late_check_at is not None and row.late_check_at <= timezone.now()
    assert event.needs_attention


def test_handler_failure_is_retried_then_parked_then_reprocessed(monkeypatch: pytest.MonkeyPatch) -> None:
    from django_voucherify.webhooks import handlers

    def boom(data: dict[str, Any], occurred_at: Any) -> Any:
        raise RuntimeError("poison")

    monkeypatch.setitem(handlers.HANDLERS, "voucher.updated", boom)
    Voucher.objects.create(code="SUMMER")
    row, _ = record(envelope("voucher.updated", {"voucher": voucher(active=False)}))
    for attempt in (1, 2):
        process(row.pk)
        row.refresh_from_db()
        assert (row.state, row.attempts, row.last_error_key) == (
            WebhookEventState.PENDING,
            attempt,
            "RuntimeError",
        )
        assert row.due_at and row.due_at > timezone.now()
        row.lease_until = None
        row.save()
    process(row.pk)
    row.refresh_from_db()
    assert row.state == WebhookEventState.PARKED and row.needs_attention and row.attempts == 3
    assert Voucher.objects.get(code="SUMMER").active is True  # nothing half-applied
    monkeypatch.undo()
    assert reprocess([row.pk]) == 1
    process(row.pk)
    row.refresh_from_db()
    assert row.state == WebhookEventState.PROCESSED and not row.needs_attention and not row.last_error
    assert Voucher.objects.get(code="SUMMER").active is False


def test_signals_for_all_and_per_type_and_a_failing_receiver_rolls_back() -> None:
    seen: list[tuple[str, bool]] = []

    def on_any(sender: Any, event: WebhookEvent, data: dict[str, Any], stale: bool, **kwargs: Any) -> None:
        seen.append(("any", stale))

    def on_disabled(
        sender: Any, event: WebhookEvent, data: dict[str, Any], stale: bool, **kwargs: Any
    ) -> None:
        seen.append((data["voucher"]["code"], stale))
        raise RuntimeError("shop receiver broke")

    webhook_event.connect(on_any)
    signal_for("voucher.disabled").connect(on_disabled)
    try:
        Voucher.objects.create(code="SUMMER")
        row = deliver(envelope("voucher.disabled", {"voucher": voucher(active=False)}))
    finally:
        webhook_event.disconnect(on_any)
        signal_for("voucher.disabled").disconnect(on_disabled)
    assert seen == [("any", False), ("SUMMER", False)]
    assert row.state == WebhookEventState.PENDING and row.last_error_key == "RuntimeError"
    assert row.last_error.startswith("RuntimeError: shop receiver broke (at ")
    assert Voucher.objects.get(code="SUMMER").active is True  # rolled back with the receiver


def test_sweep_sends_due_events_and_purges_old_ones(settings: Any) -> None:
    old, _ = record(envelope("voucher.updated", {"voucher": voucher("OLD")}))
    process(old.pk)
    WebhookEvent.objects.filter(pk=old.pk).update(received_at=timezone.now() - timezone.timedelta(days=2))
    parked, _ = record(envelope("voucher.updated", {"voucher": voucher("P")}))
    WebhookEvent.objects.filter(pk=parked.pk).update(
        state=WebhookEventState.PARKED, received_at=timezone.now() - timezone.timedelta(days=9)
    )
    record(envelope("voucher.updated", {"voucher": voucher("DUE")}))
    # (After recording: the events happened in January 2026, older than a day.)
    settings.VOUCHERIFY = {**settings.VOUCHERIFY, "WEBHOOK_RETENTION_DAYS": 1}
    result = events.sweep()
    assert result["purged"] == 1 and result["sent"] == 1
    assert not WebhookEvent.objects.filter(pk=old.pk).exists()
    assert WebhookEvent.objects.filter(pk=parked.pk).exists()  # parked: kept for staff


def test_an_event_that_cannot_be_applied_is_recorded_for_staff_not_retried() -> None:
    row = deliver(envelope("voucher.updated", {"not_a_voucher": True}))
    assert row.state == WebhookEventState.PROCESSED and row.needs_attention and row.attempts == 1
    assert "not applied" in row.outcome


def test_a_failure_is_logged_once_as_one_line_without_the_events_data(
    monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    """It was logged with its traceback, whose frame locals (the event's data: a customer's
    email) error reporters render; and its type was only in the traceback."""
    from django_voucherify.webhooks import handlers

    def boom(data: dict[str, Any], occurred_at: Any) -> Any:
        raise TypeError("odd field")

    monkeypatch.setitem(handlers.HANDLERS, "customer.updated", boom)
    row, _ = record(envelope("customer.updated", {"customer": customer("c-1")}))
    caplog.set_level(logging.INFO, logger="django_voucherify.webhooks")
    process(row.pk)
    (record_,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert record_.exc_info is None and "TypeError: odd field (at " in record_.getMessage()
