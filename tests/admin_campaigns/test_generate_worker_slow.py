"""With a REAL Celery worker process, the Redis broker, PostgreSQL and the sandbox over HTTP:
"generate N codes" runs to the end (submitted, polled, DONE) and the worker then mirrors the
campaign's new vouchers. Waits poll the database with a deadline; nothing asserts on timing."""

from __future__ import annotations

import pytest

import django_voucherify
from django_voucherify import jobs
from django_voucherify.models import Campaign, Job, JobState, Voucher
from django_voucherify.vouchers import campaigns as mirrors
from tests.support.campaigns import campaign_body
from tests.support.job_workers import live, wait_for, workers  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_worker_generates_the_codes_and_mirrors_them(workers):  # noqa: F811
    api = django_voucherify.get_client()
    created = api.campaigns.create(campaign_body("Worker campaign"))
    mirrors.refresh_all()
    campaign = Campaign.objects.get(voucherify_id=created["id"])
    workers.start()
    job = jobs.generate_campaign_codes(campaign.voucherify_id, 120, campaign_name=campaign.name)
    wait_for(
        lambda: Job.objects.get(pk=job.pk).state in (JobState.DONE, JobState.FAILED), 60, "the job's end"
    )
    job.refresh_from_db()
    assert job.state == JobState.DONE, job.error
    assert (job.done_count, job.progress) == (120, 100)
    wait_for(lambda: Voucher.objects.filter(campaign="Worker campaign").count() == 120, 60, "the mirror")
    assert api.campaigns.get(campaign.voucherify_id)["vouchers_count"] == 120
