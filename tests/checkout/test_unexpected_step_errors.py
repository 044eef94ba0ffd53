"""A ledger step that raises what is not a Voucherify answer (a bug on an odd 2xx payload, a
``requests`` error the transport did not map, a database error) is handled like the step's own
failures: one attempt counted, the error kept on the row, the next attempt after the backoff,
staff flagged past ``CHECKOUT_RECONCILE_MAX_ATTEMPTS``, one log line without a traceback and no
secret anywhere. It used to crash the task: nothing counted, the row waiting for its lease to run
out, re-driven by the sweep at lease speed for ever.
"""

from __future__ import annotations

import importlib
import logging
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from django.utils import timezone

import django_voucherify
from django_voucherify.checkout import schedule
from django_voucherify.conf import settings as voucherify_settings
from django_voucherify.models import CheckoutRedemption, LedgerState
from django_voucherify.secret import MASK

pytestmark = pytest.mark.django_db(transaction=True)

rollback_module = importlib.import_module("django_voucherify.checkout.rollback")


@pytest.fixture
def sent(monkeypatch: Any) -> list[tuple[Any, ...]]:
    """The tasks the chain sends (task, row, countdown, lease, may_run_early), not run."""
    calls: list[tuple[Any, ...]] = []

    def send(*args: Any, **kw: Any) -> bool:
        calls.append(args)
        return True

    monkeypatch.setattr(schedule, "send", send)
    return calls


def odd_redemptions(monkeypatch: Any) -> None:
    """A redemption list whose item's ``metadata`` is a string (a 2xx no code expects)."""

    def iterate(**params: Any) -> Any:
        yield {"object": "redemption", "metadata": "not an object"}

    client = SimpleNamespace(redemptions=SimpleNamespace(iterate=iterate))
    monkeypatch.setattr(django_voucherify, "get_client", lambda: client)


def unknown_row(**fields: Any) -> CheckoutRedemption:
    past = timezone.now() - timedelta(hours=1)
    row = CheckoutRedemption.objects.create(order_source_id="O-1", codes=["X"], state=LedgerState.UNKNOWN)
    CheckoutRedemption.objects.filter(pk=row.pk).update(created_at=past, **fields)
    return row


def awaiting_rollback(source_id: str, **fields: Any) -> CheckoutRedemption:
    """A SUCCEEDED row whose rollback was asked for (the rollback step's input)."""
    return CheckoutRedemption.objects.create(
        order_source_id=source_id,
        codes=["X"],
        state=LedgerState.SUCCEEDED,
        redemption_ids=["r_1"],
        rollback_requested_at=timezone.now(),
        **fields,
    )


def rollbacks_by(monkeypatch: Any, rollback: Any) -> None:
    """Voucherify's rollback call answered by ``rollback(redemption_id, reason)``."""
    client = SimpleNamespace(redemptions=SimpleNamespace(rollback=rollback))
    monkeypatch.setattr(rollback_module, "checkout_client", lambda: client)


def test_an_odd_answer_in_a_reconcile_is_one_counted_attempt_retried_after_the_backoff(
    monkeypatch, sent, caplog
):
    odd_redemptions(monkeypatch)
    row = unknown_row(last_error="timeout")
    caplog.set_level(logging.INFO, logger="django_voucherify.checkout")

    assert schedule.reconcile_step(row.pk) == "retrying"

    row.refresh_from_db()
    assert row.state == LedgerState.UNKNOWN and row.reconcile_attempts == 1
    assert row.last_error_key == "AttributeError" and "AttributeError" in row.last_error
    assert not row.needs_attention
    delay = schedule.reconcile_delay(1)
    assert sent == [(schedule.RECONCILE_TASK, row.pk, delay, sent[0][3], False)]  # never early
    assert row.due_at is not None and row.due_at > timezone.now() + timedelta(seconds=delay / 2)
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1 and errors[0].exc_info is None
    assert "AttributeError" in errors[0].getMessage() and "reconcile" in errors[0].getMessage()


def test_the_reconcile_that_reaches_the_maximum_flags_the_row_for_staff(monkeypatch, sent):
    odd_redemptions(monkeypatch)
    most = voucherify_settings().checkout_reconcile_max_attempts
    row = unknown_row(reconcile_attempts=most - 1)

    assert schedule.reconcile_step(row.pk) == "needs attention"

    row.refresh_from_db()
    assert row.reconcile_attempts == most and row.needs_attention
    assert "reconcile failed: AttributeError" in row.attention_reason
    assert row.lease_until is None and sent == []  # the sweep's slow rate from now on
    interval = voucherify_settings().checkout_attention_interval
    assert row.due_at is not None and row.due_at > timezone.now() + timedelta(seconds=interval / 2)


def test_an_unmapped_requests_error_in_a_rollback_is_counted_once_and_kept_without_the_token(
    monkeypatch, sent, caplog
):
    token = voucherify_settings().secret_key.reveal()

    def rollback(redemption_id: str, reason: Any = None) -> Any:
        raise requests.ConnectionError(f"proxy said: bad header X-App-Token: {token}")

    rollbacks_by(monkeypatch, rollback)
    row = awaiting_rollback("O-2")
    caplog.set_level(logging.INFO)

    assert schedule.rollback_step(row.pk) == "retrying"

    row.refresh_from_db()
    assert row.rollback_pending and row.rollback_attempts == 1  # the attempt the claim counted
    assert "ConnectionError" in row.rollback_error and MASK in row.rollback_error
    assert token not in row.rollback_error and not row.needs_attention
    assert sent == [(schedule.ROLLBACK_TASK, row.pk, schedule.rollback_delay(1), sent[0][3], False)]
    assert all(token not in r.getMessage() and r.exc_info is None for r in caplog.records)


def test_a_late_check_that_raises_keeps_the_rows_failure_and_stays_due(monkeypatch, sent):
    odd_redemptions(monkeypatch)
    row = unknown_row(
        state=LedgerState.FAILED,
        last_error_key="not_redeemed",
        last_error="Voucherify holds no redemption for this attempt.",
        late_check_at=timezone.now() - timedelta(seconds=1),
    )

    assert schedule.late_check_step(row.pk) == "retrying"

    row.refresh_from_db()
    assert row.reconcile_attempts == 1 and row.late_check_at is not None
    assert row.last_error_key == "not_redeemed"  # what a late landing is judged against
    assert sent and sent[0][0] == schedule.LATE_CHECK_TASK and sent[0][4] is False


def test_a_step_of_a_superseded_chain_records_nothing(monkeypatch, sent):
    odd_redemptions(monkeypatch)
    row = unknown_row()
    held = schedule.background.lease(CheckoutRedemption, row.pk, due_in=None, lease_for=timedelta(seconds=60))
    assert held is not None

    def take_over(*args: Any, **kwargs: Any) -> Any:
        CheckoutRedemption.objects.filter(pk=row.pk).update(lease_token="another-chain")
        raise KeyError("id")

    reconcile_module = importlib.import_module("django_voucherify.checkout.reconcile")
    monkeypatch.setattr(reconcile_module, "reconcile", take_over)

    assert schedule.reconcile_step(row.pk, held.token) == "superseded"
    row.refresh_from_db()
    assert row.reconcile_attempts == 0 and row.lease_token == "another-chain" and sent == []


def test_a_rollback_error_whose_text_no_column_can_store_is_still_counted_and_kept(monkeypatch, sent):
    """A NUL in the error's text made saving ``rollback_error`` fail on PostgreSQL: nothing
    counted, no backoff, the row left leased and re-driven at lease speed for ever."""

    def rollback(redemption_id: str, reason: Any = None) -> Any:
        raise ValueError("odd answer: 'r_\x00'")

    rollbacks_by(monkeypatch, rollback)
    row = awaiting_rollback("O-3")

    assert schedule.rollback_step(row.pk) == "retrying"

    row.refresh_from_db()
    assert row.rollback_attempts == 1 and row.rollback_error.startswith("ValueError: odd answer: 'r_\ufffd'")
    assert sent and sent[0][0] == schedule.ROLLBACK_TASK


def test_a_rollback_confirmed_meanwhile_is_neither_marked_failed_nor_flagged(monkeypatch, sent):
    """The failure path compared nothing with what changed meanwhile: a rollback confirmed
    while the step failed (the webhook's ``redemption.rollback.succeeded``) got the error in
    ``rollback_error`` and, past the maximum, the flag "rollback not confirmed"."""
    most = voucherify_settings().checkout_reconcile_max_attempts
    row = awaiting_rollback("O-4", rollback_attempts=most - 1)

    def rollback(redemption_id: str, reason: Any = None) -> Any:
        confirmed = {"state": LedgerState.ROLLED_BACK, "rolled_back_at": timezone.now()}
        CheckoutRedemption.objects.filter(pk=row.pk).update(**confirmed)  # as the webhook does
        raise KeyError("id")

    rollbacks_by(monkeypatch, rollback)

    assert schedule.rollback_step(row.pk) == LedgerState.ROLLED_BACK

    row.refresh_from_db()
    assert row.state == LedgerState.ROLLED_BACK and row.rollback_error == ""
    assert not row.needs_attention and row.lease_until is None and sent == []
