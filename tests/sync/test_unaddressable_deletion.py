"""A deletion that can never be sent (a mirror whose source id is "." or "..", made through the
Python API, which does not validate, deleted before Voucherify's id was known: no URL path can
carry it) ends ``failed`` at once, for staff to see, instead of a temporary failure.

Before: the client's refusal was taken for a local hiccup, retried with backoff, then
``failed`` with a retry time, which every sweep reset: one more attempt per minute, forever."""

from __future__ import annotations

import pytest

from django_voucherify.models import Customer, OutboxEntry, OutboxState
from django_voucherify.sync import delivery, outbox

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("source_id", [".", ".."])
def test_an_unaddressable_deletion_fails_for_good(sandbox, source_id, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        Customer.objects.create(source_id=source_id, name="N").delete()
    [entry] = OutboxEntry.objects.all()
    outcome = delivery.deliver(entry.pk)
    entry.refresh_from_db()
    assert outcome.status == "failed"
    assert (entry.state, entry.due_at) == (OutboxState.FAILED, None)  # not the sweep's
    assert "cannot be used as a Voucherify identifier" in entry.last_error
    assert entry.pk not in outbox.redrive_candidates()
