"""A mirror deleted while a bulk push that read it is queued stays deleted.

The push reads the mirrors when the job is created; a mirror deleted afterwards has its deletion
delivered by the outbox at once; the queued bulk update is applied later and upserts it again.
``resend_overwritten`` re-sent only the entries of rows that still exist: the deletion was not
sent again, so Voucherify kept an object the shop deleted (and discounts naming it)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from django_voucherify.jobs import runner
from django_voucherify.models import Job, JobKind, JobState, Product
from django_voucherify.sandbox.catalog import catalog

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_product_deleted_while_a_push_is_queued_stays_deleted(sandbox):
    keep = Product.objects.create(source_id="keep", name="Keep")
    gone = Product.objects.create(source_id="gone", name="Gone")  # delivered at once (eager)
    assert catalog(sandbox.state).find_product("gone") is not None
    sandbox.state.job_delay = 1.0  # Voucherify applies the bulk update later
    call_command("voucherify_sync", "products", no_progress=True, no_wait=True, stdout=StringIO())
    gone.delete()  # its deletion is delivered at once, before the queued bulk update
    assert catalog(sandbox.state).find_product("gone") is None
    job = runner.drive(Job.objects.get(kind=JobKind.PUSH_PRODUCTS), timeout=20)
    assert job.state == JobState.DONE, job.error
    from django_voucherify.sync.outbox import redrive

    redrive(inline=True)
    assert catalog(sandbox.state).find_product("keep")["name"] == keep.name
    assert catalog(sandbox.state).find_product("gone") is None, "deleted in the shop, back in Voucherify"


def test_a_customer_deleted_while_a_push_is_queued_stays_deleted(sandbox):
    from django_voucherify.models import Customer

    Customer.objects.create(source_id="keep-c", email="keep@example.com")
    gone = Customer.objects.create(source_id="gone-c", email="gone@example.com")
    assert sandbox.state.find_customer("gone-c") is not None
    sandbox.state.job_delay = 1.0  # Voucherify applies the bulk update later
    call_command("voucherify_sync", "customers", no_progress=True, no_wait=True, stdout=StringIO())
    gone.delete()
    assert sandbox.state.find_customer("gone-c") is None
    job = runner.drive(Job.objects.get(kind=JobKind.PUSH_CUSTOMERS), timeout=20)
    assert job.state == JobState.DONE, job.error
    from django_voucherify.sync.outbox import redrive

    redrive(inline=True)
    assert sandbox.state.find_customer("keep-c") is not None
    assert sandbox.state.find_customer("gone-c") is None, "deleted in the shop, back in Voucherify"
