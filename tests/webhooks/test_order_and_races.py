"""Adversarial: events of one voucher delivered in any order, duplicated, processed by
concurrent workers on PostgreSQL: the mirror ends as the newest event says, each event is
stored once and its signals sent once."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_voucherify.models import Voucher, WebhookEvent, WebhookEventState
from django_voucherify.webhooks import process, record, sign, webhook_event
from tests.support.webhooks import SECRETS, URL, envelope, voucher

HOURS = [f"2026-01-01T{h:02d}:00:00.000Z" for h in range(10, 16)]


def _events(order: list[int], dupes: list[int]) -> list[dict[str, Any]]:
    """Events i = 0..5 at hour i: enable/disable alternating, the last one a deletion when 5."""
    made = []
    for i in range(len(HOURS)):
        kind = "voucher.deleted" if i == 5 else ("voucher.enabled" if i % 2 else "voucher.disabled")
        body = envelope(
            kind, {"voucher": voucher(active=bool(i % 2), updated=HOURS[i])}, at=HOURS[i], event_id=f"ev_{i}"
        )
        made.append(body)
    return [made[i] for i in order] + [made[i] for i in dupes]


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(range(6)), dupes=st.lists(st.integers(0, 5), max_size=4), last=st.integers(1, 6))
def test_any_order_with_duplicates_ends_as_the_newest_event_says(
    order: list[int], dupes: list[int], last: int
) -> None:
    """Deliver a prefix of the events (the first ``last`` in time) in the given order."""
    WebhookEvent.objects.all().delete()
    Voucher.objects.all().delete()
    wanted = [i for i in order if i < last]
    for body in _events(wanted, [d for d in dupes if d < last]):
        row, _created = record(body)
        process(row.pk)
    newest = last - 1
    mirror = Voucher.objects.filter(code="SUMMER").first()
    if newest == 5:
        assert mirror is None
    else:
        assert mirror is not None and mirror.active is bool(newest % 2)
    assert WebhookEvent.objects.count() == last  # duplicates stored once
    assert not WebhookEvent.objects.filter(state=WebhookEventState.PENDING).exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_deliveries_are_stored_and_processed_once() -> None:
    assert connection.vendor == "postgresql"
    body = envelope("voucher.disabled", {"voucher": voucher(active=False)}, event_id="ev_race")
    data = json.dumps(body).encode()
    header = sign(data, SECRETS[0])
    statuses: list[int] = []
    signalled: list[int] = []
    barrier = threading.Barrier(8)

    def on_event(sender: Any, event: WebhookEvent, **kwargs: Any) -> None:
        signalled.append(event.pk)

    def deliver() -> None:
        try:
            barrier.wait()
            response = Client().post(
                URL, data=data, content_type="application/json", HTTP_X_VOUCHERIFY_SIGNATURE=header
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    webhook_event.connect(on_event)
    try:
        threads = [threading.Thread(target=deliver) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        webhook_event.disconnect(on_event)
    assert sorted(statuses) == [200] * 7 + [202]
    assert WebhookEvent.objects.count() == 1
    assert len(signalled) == 1  # processed once (eager: inline on commit of the one new row)
    assert WebhookEvent.objects.get().state == WebhookEventState.PROCESSED


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_on_one_subject_apply_newest_last(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two workers process an older and a newer event of one voucher at the same moment: the
    subject lock serialises them and the older one, if second, is judged stale."""
    older = envelope("voucher.enabled", {"voucher": voucher(active=True, updated=HOURS[0])}, at=HOURS[0])
    newer = envelope("voucher.disabled", {"voucher": voucher(active=False, updated=HOURS[1])}, at=HOURS[1])
    for _round in range(5):
        WebhookEvent.objects.all().delete()
        Voucher.objects.all().delete()
        with monkeypatch.context() as patch:
            patch.setattr("django_voucherify.background.enqueue", lambda *a, **k: None)
            rows = [
                record({**body, "event": {**body["event"], "id": f"{body['event']['id']}-{_round}"}})[0]
                for body in (older, newer)
            ]
        barrier = threading.Barrier(2)

        def work(pk: int) -> None:
            try:
                barrier.wait()
                process(pk)
            finally:
                connection.close()

        threads = [threading.Thread(target=work, args=(row.pk,)) for row in rows]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert Voucher.objects.get(code="SUMMER").active is False
