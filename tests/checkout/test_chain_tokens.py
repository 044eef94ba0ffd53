"""One task chain per ledger row, also when a chain stalls past its lease.

Chain A's lease ran out (a stalled worker); the sweep gave the row to chain B with a new lease
token. A's late steps must neither act nor free or take B's lease: else the next sweep starts a
third chain while B runs, and rollbacks or reads reach Voucherify twice. Each task message
carries its chain's token (``schedule.send``); a step of a superseded chain ends untouched.
"""

from __future__ import annotations

import importlib
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from django_voucherify import background
from django_voucherify.checkout import schedule
from django_voucherify.models import CheckoutRedemption, LedgerState

pytestmark = pytest.mark.django_db(transaction=True)

# The module, not the function of the same name the package exports.
reconcile_module = importlib.import_module("django_voucherify.checkout.reconcile")


def taken_over(monkeypatch: Any) -> tuple[CheckoutRedemption, str, str, list[Any]]:
    """A row leased by chain A, then (A's lease over) handed to chain B by the sweep."""
    sent: list[Any] = []

    def send(*args: Any, **kw: Any) -> bool:
        sent.append(args)
        return True

    monkeypatch.setattr(schedule, "send", send)
    row = CheckoutRedemption.objects.create(order_source_id="O-1", codes=["X"], state=LedgerState.UNKNOWN)
    chain_a = background.lease(CheckoutRedemption, row.pk, due_in=None, lease_for=timedelta(seconds=1))
    assert chain_a is not None
    past = timezone.now() - timedelta(hours=1)
    CheckoutRedemption.objects.filter(pk=row.pk).update(lease_until=past, due_at=past, created_at=past)
    assert schedule.sweep()["reconcile"] == 1  # chain B
    chain_b = CheckoutRedemption.objects.get(pk=row.pk).lease_token
    assert chain_b != chain_a.token
    return row, chain_a.token, chain_b, sent


def test_a_superseded_chain_frees_nothing(monkeypatch):
    row, chain_a, chain_b, _sent = taken_over(monkeypatch)
    schedule.release(row.pk, keep_due=True, token=chain_a)
    row.refresh_from_db()
    assert row.lease_until is not None and row.lease_token == chain_b


def test_a_superseded_chain_does_not_take_the_row_back(monkeypatch):
    row, chain_a, chain_b, sent = taken_over(monkeypatch)
    sent.clear()
    assert schedule.next_step(row.pk, 5, token=chain_a) == "superseded"
    row.refresh_from_db()
    assert row.lease_token == chain_b and sent == []


def test_a_superseded_chains_step_does_nothing(monkeypatch):
    row, chain_a, chain_b, sent = taken_over(monkeypatch)
    sent.clear()
    called: list[int] = []
    monkeypatch.setattr(reconcile_module, "reconcile", lambda *a, **k: called.append(1))
    assert schedule.reconcile_step(row.pk, chain_a) == "superseded"
    assert called == [] and sent == []
    assert CheckoutRedemption.objects.get(pk=row.pk).lease_token == chain_b


def test_the_sweep_sends_the_chains_token(monkeypatch):
    row, _chain_a, chain_b, sent = taken_over(monkeypatch)
    assert sent and sent[-1][1] == row.pk and sent[-1][3].token == chain_b


def test_a_sweep_stops_at_the_first_refused_send_and_frees_the_rest(monkeypatch):
    attempts: list[int] = []

    def refused(name: str, args: Any, **kw: Any) -> bool:
        attempts.append(args[0])
        return False  # what background.send answers when the broker refuses

    monkeypatch.setattr(background, "send", refused)
    past = timezone.now() - timedelta(hours=1)
    for n in range(3):
        CheckoutRedemption.objects.create(order_source_id=f"O-{n}", codes=["X"], state=LedgerState.UNKNOWN)
    CheckoutRedemption.objects.update(created_at=past)
    assert schedule.sweep() == {"reconcile": 0, "rollback": 0}
    assert len(attempts) == 1  # each further try would have waited for the broker's timeout
    freed = CheckoutRedemption.objects.exclude(pk=attempts[0])
    assert all(r.lease_until is None and r.due_at is not None for r in freed)
