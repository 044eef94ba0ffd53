"""A 2xx answer holding what PostgreSQL cannot store (NUL, a lone surrogate, at any depth: a
field Voucherify holds that the shop never sent, set by another integration) still records the
delivery: the row is ``synced`` and the mirror keeps the answer with those characters replaced.

Before, recording failed (``DataError: unsupported Unicode escape sequence``) after the call had
succeeded: the row was retried, sent again at every retry and every sweep (a temporary failure)
and never synced, and the batch's record transaction fell back row by row for all its rows."""

from __future__ import annotations

import pytest

from django_voucherify.models import Customer, OutboxEntry, OutboxState, SyncState
from django_voucherify.sync import batches, delivery
from django_voucherify.validation import storable_json
from tests.support.outbox import pending_customers

pytestmark = pytest.mark.django_db


def poisoned(sandbox, source_id: str) -> None:
    sandbox.state.find_customer(source_id)["system_metadata"] = {"imp\x00orted": ["a\x00b"]}


@pytest.mark.parametrize("path", ["batch", "single"])
def test_an_answer_with_a_nul_is_recorded_and_sent_once(sandbox, path):
    ids = pending_customers("n-1", "n-2")
    batches.deliver_batch(ids[0], limit=2)
    poisoned(sandbox, "n-1")
    Customer.objects.filter(source_id__in=["n-1", "n-2"]).update(name="Changed")
    OutboxEntry.objects.update(state=OutboxState.PENDING, version=2)
    sandbox.calls.calls.clear()
    if path == "batch":
        results = dict(batches.deliver_batch(ids[0], limit=2))
    else:
        results = {pk: delivery.deliver(pk) for pk in ids}
    assert {o.status for o in results.values()} == {"sent"}
    assert set(OutboxEntry.objects.values_list("state", flat=True)) == {OutboxState.SYNCED}
    assert sandbox.calls.count("POST", "/v1/customers") == 2  # each once, nothing to retry
    mirror = Customer.objects.get(source_id="n-1")
    assert mirror.sync_state == SyncState.SYNCED
    assert mirror.remote_payload["system_metadata"] == {"imp\ufffdorted": ["a\ufffdb"]}
    assert mirror.remote_payload["name"] == "Changed"


def test_a_storable_answer_is_kept_as_it_is():
    answer = {"id": "cust_1", "metadata": {"k": ["v", 1, None, {"n": 2.5}]}}
    assert storable_json(answer) is answer


def test_lone_surrogates_and_absurd_depth_are_replaced():
    deep: object = "end"
    for _ in range(100):
        deep = [deep]
    cleaned = storable_json({"a": "x\ud800y", "deep": deep})
    assert cleaned["a"] == "x\ufffdy"
    assert storable_json(cleaned) is cleaned  # storable now
