"""One metadata rule at both doors: Voucherify ends with exactly the mirror's metadata, whether
the change goes through the outbox (an upsert: replaces) or a bulk push (Voucherify's bulk
updates of customers and products merge key by key: the push sends the rows that dropped a
key once more through the outbox). Before, a key dropped from a mirror survived a push."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from django_voucherify.models import Customer, Product, SyncState
from django_voucherify.sandbox.catalog import catalog
from tests.support.jobs import FAST
from tests.support.sandbox import options

pytestmark = pytest.mark.django_db


def _push(sandbox, kind: str) -> None:
    with options(sandbox, **FAST):
        call_command("voucherify_sync", kind, no_progress=True, here=True, stdout=StringIO())


def _remote_metadata(sandbox, model, source_id: str) -> dict:
    if model is Customer:
        return sandbox.state.find_customer(source_id).get("metadata") or {}
    return catalog(sandbox.state).find_product(source_id).get("metadata") or {}


@pytest.mark.parametrize(("model", "kind"), [(Customer, "customers"), (Product, "products")])
def test_a_dropped_metadata_key_is_dropped_in_voucherify_through_both_doors(
    sandbox, django_capture_on_commit_callbacks, model, kind
):
    with django_capture_on_commit_callbacks(execute=True):
        by_outbox = model.objects.create(source_id="by-outbox", metadata={"keep": 1, "drop": 2})
        by_push = model.objects.create(source_id="by-push", metadata={"keep": 1, "drop": 2})
    assert _remote_metadata(sandbox, model, "by-push") == {"keep": 1, "drop": 2}
    # The outbox door: a save.
    with django_capture_on_commit_callbacks(execute=True):
        by_outbox.metadata = {"keep": 1, "new": 3}
        by_outbox.save()
    # The push door: a change made without signals (a data migration, a bulk edit), then a push.
    model.objects.filter(pk=by_push.pk).update(metadata={"keep": 1, "new": 3})
    with django_capture_on_commit_callbacks(execute=True):
        _push(sandbox, kind)
    assert _remote_metadata(sandbox, model, "by-outbox") == {"keep": 1, "new": 3}
    assert _remote_metadata(sandbox, model, "by-push") == {"keep": 1, "new": 3}
    assert set(model.objects.values_list("sync_state", flat=True)) == {SyncState.SYNCED}


def test_a_push_that_drops_no_key_sends_nothing_more(sandbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        customer = Customer.objects.create(source_id="same-keys", metadata={"a": 1})
    Customer.objects.filter(pk=customer.pk).update(metadata={"a": 2, "b": 1})
    upserts = sandbox.calls.count("POST", "/v1/customers")
    with django_capture_on_commit_callbacks(execute=True):
        _push(sandbox, "customers")
    assert sandbox.calls.count("POST", "/v1/customers") == upserts  # the merge was the whole change
    assert _remote_metadata(sandbox, Customer, "same-keys") == {"a": 2, "b": 1}
