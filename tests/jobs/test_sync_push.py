"""``manage.py voucherify_sync``: the push is a job whose parts' async actions are followed to the
end, marking the pushed mirrors synced, or failed with Voucherify's reason."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command

from django_voucherify.jobs import runner
from django_voucherify.models import Customer, Job, JobKind, JobState, Order, SyncState
from django_voucherify.sync import muted

pytestmark = pytest.mark.django_db(transaction=True)


def push(kind: str, **options) -> Job:
    out = StringIO()
    call_command("voucherify_sync", kind, no_progress=True, no_wait=True, stdout=out, **options)
    job_id = int(re.search(r"job id (\d+)", out.getvalue()).group(1))
    return runner.drive(Job.objects.get(pk=job_id), timeout=20)


def test_pushed_customers_are_marked_synced_and_refused_ones_failed(sandbox):
    sandbox.state.jobs_may_run.clear()  # hold the queued jobs while one row is spoiled
    try:
        with muted():
            for i in range(30):
                Customer.objects.create(source_id=f"p-{i}", name=f"P {i}")
        assert set(Customer.objects.values_list("sync_state", flat=True)) == {SyncState.PENDING}
        out = StringIO()
        call_command(
            "voucherify_sync", "customers", no_progress=True, no_wait=True, chunk_bytes=600, stdout=out
        )
        job = Job.objects.get(kind=JobKind.PUSH_CUSTOMERS)
        assert f"job id {job.pk}" in out.getvalue() and job.parts.count() > 1
        queued = sandbox.state.extra["jobs"]
        first_action = job.parts.order_by("index").first().async_action_id
        queued[first_action]["payload"]["items"][0]["metadata"] = "not an object"
    finally:
        sandbox.state.jobs_may_run.set()
    job = runner.drive(job, timeout=20)
    assert job.state == JobState.DONE, job.error
    assert job.total_rows == 30 and (job.done_count, job.failed_count) == (29, 1)
    failed = Customer.objects.get(source_id="p-0")
    assert failed.sync_state == SyncState.FAILED and "metadata" in failed.last_error
    assert Customer.objects.filter(sync_state=SyncState.SYNCED).count() == 29


def test_rows_saved_after_they_were_read_stay_pending(sandbox):
    with muted():
        orders = [Order.objects.create(source_id=f"po-{i}", amount=100) for i in range(3)]
    call_command("voucherify_sync", "orders", no_progress=True, no_wait=True, stdout=StringIO())
    with muted():  # changed after the push read it: the pushed payload is stale for this one
        orders[0].amount = 200
        orders[0].save()
    job = runner.drive(Job.objects.get(kind=JobKind.PUSH_ORDERS), timeout=20)
    assert job.state == JobState.DONE and job.done_count == 3
    states = dict(Order.objects.values_list("source_id", "sync_state"))
    assert states == {"po-0": SyncState.PENDING, "po-1": SyncState.SYNCED, "po-2": SyncState.SYNCED}


def test_an_empty_push_is_a_finished_job(sandbox):
    job = push("customers")
    assert job.state == JobState.DONE and job.total_rows == 0
