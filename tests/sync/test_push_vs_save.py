"""A mirror push (async bulk import) read before a save must not land over the newer version the
outbox delivered meanwhile (found by review; deletions: test_push_vs_delete.py)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from django_voucherify.jobs import runner
from django_voucherify.models import Customer, Job, JobKind, JobState, OutboxEntry
from django_voucherify.sync import muted

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_save_delivered_while_a_push_is_queued_is_sent_again_after_it(sandbox):
    sandbox.state.job_delay = 1.0  # Voucherify applies the bulk import later
    with muted():
        customer = Customer.objects.create(source_id="race-1", name="Old name")
    call_command("voucherify_sync", "customers", no_progress=True, no_wait=True, stdout=StringIO())
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


def test_a_save_delivered_after_the_push_read_it_is_sent_again(sandbox):
    """The push reads every part when its job is created and sends them one after the other, so
    a row of a later part saved (and delivered) while an earlier part was sent is pushed as it
    was when read, and the import lands after the delivery."""
    from django_voucherify import client
    from django_voucherify.api.resources.customers import Customers

    sandbox.state.job_delay = 1.0
    with muted():
        customers = [Customer.objects.create(source_id=f"race-c{i}", name="Old") for i in range(6)]
    real = Customers.bulk_update
    sent: list[int] = []

    def bulk_update(self, items):  # between two parts: the last customer is saved and delivered
        answer = real(self, items)
        if not sent:
            last = Customer.objects.get(pk=customers[-1].pk)
            last.name = "New"
            last.save()
        sent.append(len(items))
        return answer

    Customers.bulk_update = bulk_update
    try:
        call_command(
            "voucherify_sync", "customers", no_progress=True, no_wait=True, chunk_bytes=300, stdout=StringIO()
        )
        job = runner.drive(Job.objects.get(kind=JobKind.PUSH_CUSTOMERS), timeout=20)
    finally:
        Customers.bulk_update = real
    assert len(sent) > 1
    assert job.state == JobState.DONE, job.error
    assert client.customers.get("race-c5")["name"] == "New"
