"""The webhook endpoint fuzzed with raw requests: whatever arrives, a JSON answer below 500, and
an event is stored exactly when it is accepted.

Hypothesis sends events as Voucherify does (voucher, customer, order and redemption events of
known and unknown types), often made hostile at one to three nodes (:func:`tests.support.fuzz.
hostile`: wrong types, lone surrogates, NUL, ``1e400``, nesting past the limit, odd keys), odd
times, or raw bodies (empty, not JSON, ``NaN``, 100 000 brackets, undecodable bytes, a byte
order mark, a body over ``WEBHOOK_MAX_BODY_BYTES``), as escaped ASCII, UTF-8 or re-indented;
signed with a configured secret (its hex in either case, padded with spaces), with another,
truncated, huge, not hex or not ASCII, or not at all; with a JSON or another content type and
now and then another method or a ``Content-Length`` that lies.

Every answer is JSON, below 500, one of the statuses docs/webhooks.md lists, with the body it
lists (``id``/``duplicate``, or ``error``/``message``) and no traceback or secret; a 2xx stores
the event (its id) and a refusal stores nothing. Accepted events are processed as the request
commits (eager Celery): each ends processed or stale at once (applied, or not applied for a
reason staff can read), never with an error to retry: no handler breaks on an event's shape.

The receiver's named cases are tests/webhooks/test_receiver.py's; this is the fuzz.
``FUZZ_WEBHOOK_EXAMPLES`` examples (default 300, about 3 s); a deeper run:
``FUZZ_WEBHOOK_EXAMPLES=4000 pytest -p no:randomly tests/webhooks/test_fuzz_receiver.py``.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from django_voucherify.models import WebhookEvent
from django_voucherify.webhooks import sign, views
from tests.support import fuzz
from tests.support.webhooks import SECRETS, URL, envelope, voucher

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("FUZZ_WEBHOOK_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
MAX_BODY = 64 * 1024
#: docs/webhooks.md, "What the endpoint answers".
STATUSES = {200, 202, 400, 401, 403, 405, 413, 503}

TYPES = [
    "voucher.updated",
    "voucher.disabled",
    "voucher.deleted",
    "voucher.gift.balance_added",
    "customer.created",
    "customer.deleted",
    "customer.order.paid",
    "customer.order.canceled",
    "redemption.succeeded",
    "redemption.rollback.succeeded",
    "publication.succeeded",
    "",
    "x" * 101,
]
DATA = [
    {"voucher": voucher()},
    {"voucher": voucher("GIFT", type="GIFT_VOUCHER", gift={"amount": 1000, "balance": 500})},
    {"customer": {"id": "cust_1", "source_id": "user-ann", "email": "ann@example.com", "updated_at": None}},
    {"order": {"id": "ord_1", "source_id": "ORD-1", "status": "CANCELED", "amount": 100}},
    {
        "redemption": {
            "id": "r_1",
            "result": "SUCCESS",
            "voucher": {"code": "SUMMER"},
            "order": {"id": "ord_1"},
        }
    },
    {},
]
TIMES = [
    *["2026-01-01T10:00:00.000Z"] * 6,
    "2026-01-01T10:00:00",
    "1969-12-31T23:59:59Z",
    "9999-12-31T23:59:59Z",
    "2026-02-30T10:00:00Z",
    "",
    None,
]
#: The start of an event body, its ``data`` and end to follow.
EVENT_START = b'{"id": "whs_1", "type": "voucher.updated", "created_at": "2026-01-01T10:00:00Z", '
RAW_BODIES = [
    b"",
    b"not json",
    b"null",
    b"[]",
    b"NaN",
    EVENT_START + b'"data": {"n": Infinity}}',
    EVENT_START + b'"data": {"n": 1e400}}',
    EVENT_START + b'"data": {"n": ' + b"9" * 5000 + b"}}",
    b"[" * 100_000 + b"]" * 100_000,
    b"\xff\xfe\x00",
    EVENT_START + b'"data": {"code": "\xed\xa0\x80"}}',  # a lone surrogate as UTF-8 bytes
    EVENT_START + b'"data": {"code": "\\ud800\\u0000"}}',
    b"\xef\xbb\xbf" + EVENT_START + b'"data": {}}',  # a byte order mark
    EVENT_START + b'"data": {"x": "' + b"y" * MAX_BODY + b'"}}',
]
CONTENT_TYPES = ["application/json"] * 12 + [
    "application/json; charset=latin-1",
    "text/plain",
    "",
    "multipart/form-data; boundary=x",
]
METHODS = ["POST"] * 40 + ["GET", "PUT", "HEAD", "OPTIONS", "DELETE", "PATCH"]


@st.composite
def events(draw: st.DrawFn) -> Any:
    body = envelope(draw(st.sampled_from(TYPES)), copy.deepcopy(draw(st.sampled_from(DATA))))
    body["event"]["created_at"] = draw(st.sampled_from(TIMES))
    if draw(st.booleans()):
        body = draw(fuzz.hostile(body, ("voucher.updated", "SUMMER", "user-ann")))
    return body


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 4)) == 0:
        return draw(st.sampled_from(RAW_BODIES))
    event = draw(events())
    how = draw(st.sampled_from(["compact", "ascii", "indented"]))
    if how == "indented":  # a proxy re-indented it: verified through its compact form
        try:
            return json.dumps(event, indent=2).encode("utf-8", "surrogatepass")
        except (ValueError, RecursionError):
            how = "ascii"
    return fuzz.json_text(event, ascii_only=how == "ascii").encode("utf-8", "surrogatepass")


@st.composite
def signatures(draw: st.DrawFn, body: bytes) -> str | None:
    right = sign(body, draw(st.sampled_from(SECRETS)))
    return draw(
        st.sampled_from(
            [
                *[right] * 12,
                right.upper(),
                f"  {right} ",
                None,
                "",
                right[:-2],
                sign(body, "not-a-configured-secret"),
                "z" * 64,
                "é" * 64,
                right * 2000,  # 128 KB
                "\x00",
            ]
        )
    )


def check_answer(response: Any, sent: str) -> dict[str, Any]:
    assert response.status_code in STATUSES, (response.status_code, response.content[:300], sent)
    assert response["Content-Type"] == "application/json", sent
    if not response.content:  # HEAD
        return {}
    text = response.content.decode("utf-8")
    assert "Traceback" not in text and 'File "' not in text, sent
    assert not any(s in text for s in (*SECRETS, django_settings.SECRET_KEY)), sent
    data = json.loads(text)
    if response.status_code < 300:
        assert set(data) == {"id", "duplicate"}, (data, sent)
    else:
        assert set(data) == {"error", "message"} and all(isinstance(v, str) for v in data.values()), sent
    return data


@pytest.fixture
def limited(settings: Any) -> None:
    settings.VOUCHERIFY = {**settings.VOUCHERIFY, "WEBHOOK_MAX_BODY_BYTES": MAX_BODY}


@FUZZ
@given(data=st.data())
def test_every_answer_is_json_and_only_accepted_events_are_stored(
    limited: None, django_capture_on_commit_callbacks: Any, data: st.DataObject
) -> None:
    body = data.draw(bodies(), label="body")
    signature = data.draw(signatures(body), label="signature")
    content_type = data.draw(st.sampled_from(CONTENT_TYPES), label="content type")
    method = data.draw(st.sampled_from(METHODS), label="method")
    extra = {} if signature is None else {"HTTP_X_VOUCHERIFY_SIGNATURE": signature}
    if data.draw(st.integers(0, 9), label="lying length") == 0:
        # Shorter than the body, not a number, or past the limit (a longer one only makes the test
        # client's fake socket raise: a real one ends the read or raises OSError, both handled).
        lies = ["0", "-1", "abc", str(len(body) // 2), str(10**20)]
        extra["CONTENT_LENGTH"] = data.draw(st.sampled_from(lies), label="content length")
    views._refusals.clear()
    stored = set(WebhookEvent.objects.values_list("event_id", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        response = Client(raise_request_exception=False).generic(
            method, URL, body, content_type=content_type, **extra
        )
    sent = f"{method} {content_type} {extra} {body[:300]!r}"
    answer = check_answer(response, sent)
    event(f"{response.status_code} {answer.get('error', '')}")
    now = set(WebhookEvent.objects.values_list("event_id", flat=True))
    if response.status_code == 202:
        assert now == stored | {answer["id"]}, sent
        row = WebhookEvent.objects.get(event_id=answer["id"])
        # Processed at once: applied, stale, or not applied for a reason (needs attention); an
        # error retried (pending) or parked means a handler broke on the event's shape.
        assert row.state in ("processed", "stale") and not row.last_error, (row.state, row.last_error, sent)
        event(f"processed: {row.state}, needs attention: {row.needs_attention}")
    else:
        assert now == stored, sent
