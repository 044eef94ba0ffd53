"""Two writers mirroring the same new voucher at once (a refresh and a ``voucher.created``
webhook, two webhook workers on events of two subjects naming one code): each found no row,
so its ``SELECT ... FOR UPDATE`` locked nothing, and the second INSERT hit the unique code once
the first committed. The webhook event failed (IntegrityError) and waited for its retry; a
refresh lost the voucher's row from its counts. Found under load by
tests/webhooks/test_end_to_end.py (seed 2: an event left pending after the sender flushed)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from django_voucherify.models import Voucher
from django_voucherify.vouchers import refresh
from tests.support.concurrency import run_in_threads, wait_until_another_session_waits_for_a_lock

pytestmark = pytest.mark.django_db(transaction=True)


def copy(code: str, updated_at: str, **extra) -> dict:
    return {
        "id": "v_" + code,
        "code": code,
        "type": "DISCOUNT_VOUCHER",
        "discount": {"type": "AMOUNT", "amount_off": 500},
        "active": True,
        "created_at": "2026-12-01T10:00:00.000Z",
        "updated_at": updated_at,
        **extra,
    }


def test_two_writers_storing_one_new_voucher_both_succeed_and_the_newer_copy_stays():
    if connection.vendor != "postgresql":
        pytest.skip("row locks and unique-index waits are PostgreSQL's")
    first_inserted = threading.Event()
    stored: list[str] = []

    def older_writer_holding_its_insert() -> None:
        with transaction.atomic():
            refresh.store(copy("RACE-1", "2026-12-01T10:00:00.000Z", metadata={"by": "older"}))
            first_inserted.set()
            # The other writer's INSERT now waits on this one's unique index entry.
            assert wait_until_another_session_waits_for_a_lock()
        stored.append("older")

    def newer_writer() -> None:
        assert first_inserted.wait(10)
        refresh.store(copy("RACE-1", "2026-12-01T11:00:00.000Z", metadata={"by": "newer"}))
        stored.append("newer")

    errors = run_in_threads(older_writer_holding_its_insert, newer_writer)
    assert errors == {}
    assert sorted(stored) == ["newer", "older"]
    voucher = Voucher.objects.get(code="RACE-1")
    assert voucher.remote_payload["metadata"] == {"by": "newer"}
