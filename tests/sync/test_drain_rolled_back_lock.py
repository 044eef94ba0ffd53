"""The outbox drain (``SYNC_DRAIN_CACHE``, sync/drain.py) on PostgreSQL: a row locked by a
transaction that then rolls back is sent by the drain or another drain is asked for, never
left to the sweep (review 18)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from django_voucherify.models import OutboxEntry, OutboxState
from tests.support.drain import run_drain, save_customer

pytestmark = pytest.mark.django_db(transaction=True)


class RolledBack(Exception):
    pass


def test_a_row_locked_by_a_transaction_that_rolls_back_is_not_left_to_the_sweep(sandbox, broker):
    if not connection.features.has_select_for_update_skip_locked:
        pytest.fail("needs PostgreSQL")
    save_customer("locked-1")  # committed: pending, one drain asked for
    assert broker.taken() == [("drain",)]
    holding, release = threading.Event(), threading.Event()

    def a_save_that_rolls_back() -> None:
        try:
            with transaction.atomic():
                OutboxEntry.objects.filter(source_id="locked-1").select_for_update().get()
                holding.set()
                release.wait(30)
                raise RolledBack
        except RolledBack:
            pass
        finally:
            connection.close()

    other = threading.Thread(target=a_save_that_rolls_back)
    other.start()
    assert holding.wait(30)
    run_drain()  # the queued drain runs while the row is locked
    release.set()
    other.join()
    row = OutboxEntry.objects.get(source_id="locked-1")
    # Expected: sent by this drain, or another drain asked for; observed: neither.
    assert row.state == OutboxState.SYNCED or broker.taken() == [("drain",)], row.state
