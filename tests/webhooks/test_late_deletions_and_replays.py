"""Third review: a deletion judged against the copy the mirror holds, like every other change;
an event older than the retention (its id may be forgotten) refused at the door; the endpoint
answering JSON when the settings are invalid."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from django_voucherify import sync
from django_voucherify.conf import problems
from django_voucherify.models import Customer, Voucher, WebhookEvent, WebhookEventState
from django_voucherify.vouchers import refresh
from django_voucherify.webhooks import events, sign
from tests.support.webhooks import SECRETS, URL, customer, deliver, envelope, voucher

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


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _balance_event(balance: int, at: datetime) -> bytes:
    data = {"voucher": {"code": "GIFT"}, "balance": {"balance": balance, "amount": balance}}
    body = envelope("voucher.gift.balance_added", data, at=_stamp(at))
    return json.dumps(body, separators=(",", ":")).encode()


def _send(client: Client, raw: bytes) -> Any:
    """Post ``raw`` signed, and process what it stored (the test's transaction never commits)."""
    signature = sign(raw, SECRETS[0])
    response = client.post(
        URL, data=raw, content_type="application/json", HTTP_X_VOUCHERIFY_SIGNATURE=signature
    )
    for pk in WebhookEvent.objects.filter(state=WebhookEventState.PENDING).values_list("pk", flat=True):
        events.process(pk)
    return response


def test_a_replay_after_the_retention_is_refused_not_applied_again(
    client: Client, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Voucherify's signature covers the body only, no time: a captured request verifies
    # forever. Its id was purged after WEBHOOK_RETENTION_DAYS; sent again, it was stored and
    # applied as a first delivery, and put the card's balance back to an old value.
    settings.VOUCHERIFY = {**settings.VOUCHERIFY, "WEBHOOK_RETENTION_DAYS": 3}
    now = timezone.now()
    Voucher.objects.create(
        code="GIFT",
        type="GIFT_VOUCHER",
        gift_balance=0,
        remote_payload={"updated_at": _stamp(now - timedelta(days=9))},
    )
    first = _balance_event(1000, now - timedelta(days=2))
    assert _send(client, first).status_code == 202
    assert _send(client, _balance_event(5000, now - timedelta(days=1))).status_code == 202
    assert Voucher.objects.get().gift_balance == 5000
    later = now + timedelta(days=5)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert events.sweep()["purged"] == 2
    response = _send(client, first)
    assert (response.status_code, response.json()["error"]) == (400, "too_old")
    assert WebhookEvent.objects.count() == 0
    assert Voucher.objects.get().gift_balance == 5000


def test_an_event_that_happened_within_the_retention_keeps_its_id(client: Client, settings: Any) -> None:
    # Received long ago (a slow first delivery, or clocks apart) but happened recently: the
    # receiver still accepts the body, so the purge must keep the id it is deduplicated by.
    settings.VOUCHERIFY = {**settings.VOUCHERIFY, "WEBHOOK_RETENTION_DAYS": 3}
    raw = _balance_event(1000, timezone.now() - timedelta(days=1))
    assert _send(client, raw).status_code == 202
    WebhookEvent.objects.update(received_at=timezone.now() - timedelta(days=10))
    assert events.purge() == 0
    again = _send(client, raw)
    assert again.status_code == 200 and again.json()["duplicate"] is True


def test_an_event_without_a_time_is_refused(client: Client) -> None:
    # Required by the spec; without it a replay's age cannot be judged.
    body = envelope("voucher.updated", {"voucher": voucher()})
    del body["created_at"], body["event"]["created_at"]
    response = _send(client, json.dumps(body).encode())
    assert (response.status_code, response.json()["error"]) == (400, "malformed")
    assert WebhookEvent.objects.count() == 0


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("configured", ["one-secret-not-a-list", {"main": "one-secret-not-a-list"}])
def test_invalid_settings_answer_json_and_never_show_the_secret(
    settings: Any, caplog: Any, debug: bool, configured: Any
) -> None:
    # WEBHOOK_SECRETS as one string (env(...) without the list) is an easy slip. The settings'
    # error quoted the value, secret included ("got 'one-secret...'"), and the endpoint let it
    # through as a 500: Django's error page (DEBUG on), its request log line and error mails
    # (DEBUG off) all carried the secret, at every delivery.
    settings.DEBUG = debug
    settings.VOUCHERIFY = {**settings.VOUCHERIFY, "WEBHOOK_SECRETS": configured}
    caplog.set_level(logging.DEBUG)
    raw = json.dumps(envelope("voucher.updated", {"voucher": voucher()})).encode()
    signature = sign(raw, "one-secret-not-a-list")
    client = Client(raise_request_exception=False)
    response = client.post(
        URL, data=raw, content_type="application/json", HTTP_X_VOUCHERIFY_SIGNATURE=signature
    )
    assert response.status_code == 503 and response["Content-Type"] == "application/json"
    assert response.json()["error"] == "not_configured"
    assert b"one-secret" not in response.content and "one-secret" not in caplog.text
    assert WebhookEvent.objects.count() == 0
    assert all("one-secret" not in problem.message for problem in problems(settings.VOUCHERIFY))
