"""Stale and malformed webhook events: times the app could not read back, non-finite numbers and
an unreadable body refused at the door; an event older than the mirror (per redemption, not per
voucher; naive times read as UTC) not applied; only parked events reprocessed, pending ones not
deletable, the sandbox's sender surviving a garbage answer. From the first hostile review of the
webhooks (issue 15): "Finding N" below is that review's finding, each a test that failed before."""

from __future__ import annotations

import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.utils import timezone

from django_voucherify.models import (
    Customer,
    LedgerState,
    Voucher,
    WebhookEvent,
    WebhookEventState,
)
from django_voucherify.webhooks import process, record, reprocess, views
from tests.support.admin import post_action
from tests.support.webhooks import customer, deliver, envelope, ledger_row, redemption, voucher

pytestmark = pytest.mark.django_db


def test_redemption_events_are_ordered_per_redemption_not_per_voucher() -> None:
    """Finding 1: a rollback of r_A (10:00) after a success of r_B (10:05) of the same code."""
    row = ledger_row(LedgerState.SUCCEEDED, order_source_id="order-A", redemption_ids=["r_A"])
    code = {"id": "v_1", "code": "SUMMER", "object": "voucher"}
    other = {"redemption": redemption(None, "r_B", order="order-B"), "voucher": code}
    deliver(envelope("redemption.succeeded", other, at="2026-01-01T10:05:00Z"))
    data = {
        "redemption": redemption(row, "r_A", order="order-A"),
        "voucher": code,
        "redemption_rollback": {"id": "rr_A"},
    }
    event = deliver(envelope("redemption.rollback.succeeded", data, at="2026-01-01T10:00:00Z"))
    assert event.subject == "redemption:r_A" and event.state == WebhookEventState.PROCESSED
    row.refresh_from_db()
    assert row.state == LedgerState.ROLLED_BACK


@pytest.mark.parametrize(
    "stamp", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1900-01-01T00:00:00Z", "soon"]
)
def test_times_outside_what_can_be_read_back_are_refused_at_the_door(post: Any, stamp: str) -> None:
    """Finding 2: such a time was stored, then broke processing, the sweep and the admin."""
    response = post(envelope("voucher.updated", {"voucher": voucher()}, at=stamp))
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_non_finite_numbers_are_refused_with_400_and_the_body_is_not_logged(
    post: Any, caplog: Any, number: bytes
) -> None:
    """Finding 3: they answered 503 (retried forever) and logged the body."""
    views._refusals.clear()
    caplog.set_level(logging.INFO)
    raw = (
        b'{"id": "whs_1", "type": "voucher.updated", "data": {"voucher": {"code": "SECRETCUSTOMERDATA", "n": '
        + number
        + b"}}}"
    )
    response = post(None, raw=raw)
    assert response.status_code == 400
    assert "SECRETCUSTOMERDATA" not in caplog.text
    assert not WebhookEvent.objects.exists()


def test_customer_event_older_than_the_mirror_is_not_applied() -> None:
    """Finding 5: a pull stored 11:00; a late event of 10:00 made the mirror older."""
    from django_voucherify import sync

    with sync.muted():
        Customer.objects.create(
            source_id="cust-1", name="New Name", remote_payload={"updated_at": "2026-01-01T11:00:00Z"}
        )
    old = {**customer(name="Old Name"), "updated_at": "2026-01-01T10:00:00Z"}
    row = deliver(envelope("customer.updated", {"customer": old}, at="2026-01-01T10:00:00Z"))
    assert Customer.objects.get(source_id="cust-1").name == "New Name"
    assert "newer" in row.outcome


def test_gift_balance_event_older_than_the_mirror_is_not_applied() -> None:
    """Finding 5: a refresh after a redeem stored 2500; a late balance_added set 3500."""
    Voucher.objects.create(
        code="GIFT",
        type="GIFT_VOUCHER",
        gift_balance=2500,
        remote_payload={"updated_at": "2026-01-01T11:00:00Z"},
    )
    data = {"voucher": {"code": "GIFT"}, "balance": {"balance": 3500, "amount": 1000}}
    deliver(envelope("voucher.gift.balance_added", data, at="2026-01-01T10:00:00Z"))
    assert Voucher.objects.get(code="GIFT").gift_balance == 2500


def test_naive_updated_at_is_read_as_utc_not_retried() -> None:
    """Finding 8: comparing a naive and an aware time raised; the event was retried, parked."""
    from django_voucherify.vouchers import refresh

    refresh.store(voucher(updated="2026-01-01T09:00:00Z"))
    row = deliver(
        envelope("voucher.disabled", {"voucher": voucher(active=False, updated="2026-01-01T10:00:00")})
    )
    assert row.state == WebhookEventState.PROCESSED and row.attempts == 1
    assert Voucher.objects.get(code="SUMMER").active is False


def test_reprocess_touches_only_parked_events() -> None:
    """Finding 9: reprocessing an event a worker was finishing processed it twice."""
    pending, _ = record(envelope("voucher.updated", {"voucher": voucher("A")}))
    done, _ = record(envelope("voucher.updated", {"voucher": voucher("B")}))
    process(done.pk)
    parked, _ = record(envelope("voucher.updated", {"voucher": voucher("C")}))
    WebhookEvent.objects.filter(pk=parked.pk).update(state=WebhookEventState.PARKED)
    assert reprocess([pending.pk, done.pk, parked.pk]) == 1
    done.refresh_from_db()
    assert done.state == WebhookEventState.PROCESSED


def test_unreadable_body_is_a_json_400(rf: Any) -> None:
    """Finding 10: an OSError while reading (client gone) escaped as an HTML 500."""
    from django.http import UnreadablePostError

    request = rf.post(
        "/hooks/voucherify/", data=b"{}", content_type="application/json", HTTP_X_VOUCHERIFY_SIGNATURE="x"
    )

    def broken(*args: Any) -> bytes:
        raise UnreadablePostError("connection reset")

    request.read = broken
    response = views.receive(request)
    assert response.status_code == 400 and json.loads(response.content)["error"] == "unreadable"


def test_pending_events_cannot_be_deleted_in_the_admin(admin_client: Any) -> None:
    """Finding 13: a pending event was answered 202; deleting it loses it for good."""
    pending, _ = record(envelope("voucher.updated", {"voucher": voucher("A")}))
    response = admin_client.post(
        f"/admin/django_voucherify/webhookevent/{pending.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 403
    post_action(
        admin_client, "/admin/django_voucherify/webhookevent/", "delete_selected", [pending], post="yes"
    )
    assert WebhookEvent.objects.filter(pk=pending.pk).exists()


def test_sandbox_sender_survives_a_receiver_answering_garbage() -> None:
    """Finding 6: http.client.BadStatusLine killed the delivery thread, stranding everything."""
    from django_voucherify.sandbox.webhooks import WebhookSender

    garbage = socket.socket()
    garbage.bind(("127.0.0.1", 0))
    garbage.listen()
    got: list[bytes] = []

    def answer_garbage() -> None:
        while True:
            try:
                conn, _ = garbage.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            conn.close()

    threading.Thread(target=answer_garbage, daemon=True).start()

    class Ok(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    good = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=good.serve_forever, daemon=True).start()
    bad_url = f"http://127.0.0.1:{garbage.getsockname()[1]}/"
    good_url = f"http://127.0.0.1:{good.server_address[1]}/"
    sender = WebhookSender([bad_url, good_url], "s", max_attempts=2, backoff=0.01)
    try:
        sender.emit("voucher.updated", {"voucher": {"code": "A"}})
        sender.emit("voucher.updated", {"voucher": {"code": "B"}})
        assert sender.flush(timeout=30)
        assert sender.given_up == 2 and sender.delivered == 2
        assert sender._thread is not None and sender._thread.is_alive()
    finally:
        sender.close()
        good.shutdown()
        garbage.close()
    assert len(got) == 2


def test_unknown_timezone_free_event_time_still_orders(post: Any) -> None:
    """A created_at without offset is read as UTC (as Voucherify's are, with Z)."""
    assert (
        post(envelope("voucher.updated", {"voucher": voucher()}, at="2026-01-01T10:00:00")).status_code == 202
    )
    row = WebhookEvent.objects.get()
    assert row.occurred_at == timezone.datetime(2026, 1, 1, 10, tzinfo=timezone.get_fixed_timezone(0))
