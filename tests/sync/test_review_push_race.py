"""Review: a mirror push (async bulk import) read before a save must not land over the newer
version the outbox delivered meanwhile."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from django_voucherify.jobs import runner
from django_voucherify.models import Customer, Job, JobKind, JobState, OutboxEntry
from django_voucherify.sync.signals import muted

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_save_delivered_while_a_push_is_queued_is_sent_again_after_it(sandbox):
    sandbox.state.job_delay = 1.0  # Voucherify applies the bulk import later
    with muted():
        customer = Customer.objects.create(source_id="race-1", name="Old name")
    call_command("voucherify_sync", "customers", no_progress=True, stdout=StringIO())
    customer.name = "New name"
    customer.save()  # delivered at once (eager), before the queued import is applied
    entry = OutboxEntry.objects.get(kind="customer", object_pk=str(customer.pk))
    assert entry.state == "synced"
    job = runner.drive(Job.objects.get(kind=JobKind.PUSH_CUSTOMERS), timeout=20)
    assert job.state == JobState.DONE, job.error
    from django_voucherify.sync.outbox import redrive

    redrive(inline=True)
    from django_voucherify import client

    remote = client.customers.get("race-1")
    assert remote["name"] == "New name"
