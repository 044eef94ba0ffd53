"""The endpoint: what it refuses (stores nothing, answers JSON, logs without the body), what it
accepts (stored once, answered fast, no call to Voucherify)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.test import Client

from django_voucherify.models import WebhookEvent
from django_voucherify.webhooks import sign, views
from tests.support.webhooks import SECRETS, URL, envelope

pytestmark = pytest.mark.django_db

VOUCHER = {"voucher": {"code": "SUMMER", "active": False, "updated_at": "2026-01-01T10:00:00.000Z"}}


@pytest.fixture(autouse=True)
def _fresh_refusal_counters() -> None:
    views._refusals.clear()


def test_accepted_event_is_stored_and_answered_202(
    post: Any, no_http: list[str], django_capture_on_commit_callbacks: Any
) -> None:
    body = envelope("voucher.disabled", VOUCHER)
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(body)
    assert response.status_code == 202
    assert response.json() == {"id": body["event"]["id"], "duplicate": False}
    row = WebhookEvent.objects.get()
    assert (row.event_id, row.type, row.payload, row.state) == (
        body["event"]["id"],
        "voucher.disabled",
        body,
        "pending",
    )
    assert row.subject == "voucher:SUMMER" and row.occurred_at is not None
    assert len(callbacks) == 1  # processing is sent once the request commits, not run in it
    assert no_http == []


def test_duplicate_delivery_is_stored_once(post: Any) -> None:
    body = envelope("voucher.disabled", VOUCHER)
    assert post(body).status_code == 202
    again = post({**body, "id": "whs_another_sendout"})  # same event, another sendout
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert WebhookEvent.objects.count() == 1


def test_old_secret_still_accepted_during_rotation(post: Any) -> None:
    assert post(envelope("voucher.enabled", VOUCHER), secret=SECRETS[1]).status_code == 202


@pytest.mark.parametrize(
    ("kwargs", "status", "reason"),
    [
        ({"header": ""}, 401, "unsigned"),
        ({"header": "0" * 64}, 403, "bad_signature"),
        ({"secret": "not-a-configured-secret"}, 403, "bad_signature"),
    ],
)
def test_unsigned_or_badly_signed_is_refused(
    post: Any, kwargs: dict[str, Any], status: int, reason: str
) -> None:
    response = post(envelope("voucher.disabled", VOUCHER), **kwargs)
    assert response.status_code == status
    assert response.json()["error"] == reason
    assert not WebhookEvent.objects.exists()


def test_truncated_signature_is_refused(post: Any) -> None:
    body = json.dumps(envelope("voucher.disabled", VOUCHER)).encode()
    response = post(None, raw=body, header=sign(body, SECRETS[0])[:-2])
    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize(
    "raw",
    [
        b"not json at all",
        b'{"id": "whs_1"',
        b"[1, 2, 3]",
        b'{"id": "whs_1", "type": "voucher.updated"}',  # no data
        b'{"id": "whs_1", "type": 7, "data": {}}',
        b'{"id": "' + b"x" * 500 + b'", "type": "voucher.updated", "data": {}}',
        b"\xff\xfe\x00garbage",
    ],
)
def test_signed_but_malformed_bodies_are_refused_with_json(post: Any, raw: bytes) -> None:
    response = post(None, raw=raw)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "malformed"
    assert not WebhookEvent.objects.exists()


def test_oversized_body_is_refused_before_reading_it(post: Any, settings: Any) -> None:
    settings.VOUCHERIFY = {**settings.VOUCHERIFY, "WEBHOOK_MAX_BODY_BYTES": 2048}
    body = envelope("voucher.updated", {"voucher": {"code": "X", "additional_info": "y" * 4000}})
    response = post(body)
    assert response.status_code == 413
    assert not WebhookEvent.objects.exists()


def test_body_longer_than_declared_length_is_cut_at_the_limit(settings: Any, rf: Any) -> None:
    """A lying Content-Length (smaller than the body) does not let more than the limit in."""
    settings.VOUCHERIFY = {**settings.VOUCHERIFY, "WEBHOOK_MAX_BODY_BYTES": 2048}
    data = json.dumps(envelope("voucher.updated", {"voucher": {"code": "X", "n": "y" * 4000}})).encode()
    request = rf.post(
        URL, data=data, content_type="application/json", HTTP_X_VOUCHERIFY_SIGNATURE=sign(data, SECRETS[0])
    )
    request.META["CONTENT_LENGTH"] = "100"
    assert views._read_body(request, 2048) is None


def test_get_is_405_with_allow(client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert response.json()["error"] == "method_not_allowed"


def test_without_secrets_every_event_is_refused(post: Any, settings: Any) -> None:
    settings.VOUCHERIFY = {**settings.VOUCHERIFY, "WEBHOOK_SECRETS": []}
    response = post(envelope("voucher.disabled", VOUCHER))
    assert response.status_code == 503
    assert not WebhookEvent.objects.exists()


def test_csrf_exempt_by_design() -> None:
    client = Client(enforce_csrf_checks=True)
    data = json.dumps(envelope("voucher.disabled", VOUCHER)).encode()
    response = client.post(
        URL, data=data, content_type="application/json", HTTP_X_VOUCHERIFY_SIGNATURE=sign(data, SECRETS[0])
    )
    assert response.status_code == 202


def test_refusals_are_counted_and_rate_limited_without_body_or_secret(post: Any, caplog: Any) -> None:
    caplog.set_level(logging.WARNING, logger="django_voucherify.webhooks")
    body = envelope("voucher.disabled", {"voucher": {"code": "SECRET-CUSTOMER-DATA"}})
    for _ in range(50):
        post(body, secret="wrong")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1  # one line per reason per minute, not one per request
    assert "bad_signature" in lines[0]
    text = caplog.text
    assert "SECRET-CUSTOMER-DATA" not in text and SECRETS[0] not in text and "wrong" not in text


@pytest.mark.parametrize(
    "raw",
    [
        b'{"id": "whs_1", "type": "voucher.updated", "data": {"voucher": {"code": "A\\u0000B"}}}',
        b'{"id": "whs_1", "type": "voucher.updated", "data": {"voucher": {"code": "\\ud800"}}}',
        b"[" * 100_000 + b"]" * 100_000,
    ],
    ids=["nul", "lone-surrogate", "deep"],
)
def test_bodies_the_database_cannot_hold_are_refused_not_500(post: Any, raw: bytes) -> None:
    response = post(None, raw=raw)
    assert response.status_code == 400 and response.json()["error"] == "malformed"
    assert not WebhookEvent.objects.exists()


def test_database_outage_answers_503_so_voucherify_sends_again(
    post: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import OperationalError

    def down(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("connection refused")

    monkeypatch.setattr(WebhookEvent.objects, "create", down)
    response = post(envelope("voucher.disabled", VOUCHER))
    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert response.json()["error"] == "unavailable"
