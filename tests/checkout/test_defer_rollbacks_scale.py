"""``checkout.rollback.defer_rollbacks`` at the size of an admin's "select all" (review s1).
It locked, saved, leased and sent a task for each row in one transaction from the request: 5000
UNKNOWN rows took 5041 queries (2.7 s here), SUCCEEDED ones twice that and a broker publish
each, every row locked meanwhile, past a WSGI worker's timeout at a few tens of thousands. Now
the rows are marked in one UPDATE, DEFER_SEND_LIMIT rollbacks are scheduled at once and the
periodic sweep sends the rest, which are due and unleased."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_voucherify.checkout import schedule
from django_voucherify.checkout.rollback import defer_rollbacks
from django_voucherify.models import CheckoutRedemption, LedgerState

# The module: the package's ``rollback`` is the function of that name.
rollback_module = importlib.import_module("django_voucherify.checkout.rollback")


def _rows(tag: str, n: int) -> list[int]:
    made = CheckoutRedemption.objects.bulk_create(
        [
            CheckoutRedemption(
                order_source_id=f"{tag}-{i}",
                codes=["C"],
                redemption_ids=[f"r_{tag}_{i}"],
                state=LedgerState.SUCCEEDED if i % 2 else LedgerState.UNKNOWN,
            )
            for i in range(n)
        ]
    )
    return [row.pk for row in made]


def _defer(pks: list[int], reason: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        asked = defer_rollbacks(CheckoutRedemption.objects.filter(pk__in=pks), reason)
    return (asked if isinstance(asked, int) else len(asked)), len(queries.captured_queries)


@pytest.mark.django_db(transaction=True)  # the tasks are sent when the transaction commits
def test_the_queries_do_not_grow_with_the_rows_and_the_sweep_sends_the_rest(monkeypatch: Any) -> None:
    monkeypatch.setattr(rollback_module, "DEFER_SEND_LIMIT", 2, raising=False)
    sent: list[int] = []
    monkeypatch.setattr(
        schedule, "send", lambda task, ledger_id, *args, **kwargs: sent.append(ledger_id) or True
    )

    small, large = _rows("S", 6), _rows("L", 60)
    asked_small, queries_small = _defer(small, "goodwill")
    sent.clear()
    asked_large, queries_large = _defer(large, "goodwill")
    assert (asked_small, asked_large) == (6, 60)
    assert queries_large == queries_small  # one UPDATE, not a lock, a save and a lease per row

    rows = CheckoutRedemption.objects.filter(pk__in=large)
    assert all(r.rollback_requested_at and r.rollback_reason == "goodwill" for r in rows)
    succeeded = sorted(r.pk for r in rows if r.state == LedgerState.SUCCEEDED)
    assert sent == succeeded[:2]  # scheduled at once: DEFER_SEND_LIMIT of them

    sent.clear()
    schedule.sweep()  # the periodic sweep sends the others (and reads the UNKNOWN ones back)
    assert set(succeeded[2:]) <= set(sent)


@pytest.mark.django_db
def test_the_first_reason_is_kept() -> None:
    pks = _rows("R", 2)
    CheckoutRedemption.objects.filter(pk=pks[0]).update(
        rollback_requested_at="2026-01-01T00:00:00Z", rollback_reason="first"
    )
    assert defer_rollbacks(CheckoutRedemption.objects.filter(pk__in=pks), "second") == 2
    reasons = dict(CheckoutRedemption.objects.filter(pk__in=pks).values_list("pk", "rollback_reason"))
    assert reasons == {pks[0]: "first", pks[1]: "second"}
