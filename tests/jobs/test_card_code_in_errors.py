"""A card's code stays behind the permission to see vouchers in a transactions export's errors.

The job page hides a transactions export's parameters (the card's code spends its balance)
from staff without ``view_voucher``, but the errors quoted it: a 503 or a connection failure
carries the request's path (``POST /v1/vouchers/<code>/transactions/export``), shown in the
parts' last error while the export is retried and in the job's error once it gives up, and
Voucherify's 404 details name it too; all on the job page and in its status JSON."""

from __future__ import annotations

import pytest
from django.urls import reverse

from django_voucherify import jobs
from django_voucherify.jobs import dispatch, runner
from django_voucherify.models import PartState
from tests.support.vouchers import make_voucher

pytestmark = pytest.mark.django_db(transaction=True)

CODE = "LIVE GIFT/42"  # a space and a slash: percent-encoded in the path


def shown_to_job_staff(client, job) -> str:
    page = client.get(reverse("admin:django_voucherify_job_change", args=[job.pk])).content.decode()
    status = client.get(reverse("admin:django_voucherify_job_status", args=[job.pk])).content.decode()
    return page + status


def test_a_retried_export_does_not_show_the_cards_code(sandbox, staff, client):
    make_voucher(CODE, "gift")
    sandbox.faults.add(path="/v1/vouchers/*/transactions/export", status=503, times=1)
    with dispatch.queueing_paused():
        job = jobs.export_voucher_transactions(CODE)
    part = job.parts.get()
    assert runner.submit_part(part.pk)  # answered 503: back to pending, to be sent again
    part.refresh_from_db()
    assert part.state == PartState.PENDING and "/transactions/export" in part.last_error
    assert "LIVE%20GIFT%2F42" not in part.last_error and "[card code]" in part.last_error

    staff("view_job", "view_jobpart")  # the parts' details (last error) too, not the vouchers
    shown = shown_to_job_staff(client, job)
    assert "Hidden: an error may quote" in shown and "[card code]" not in shown  # the error itself
    assert "LIVE%20GIFT%2F42" not in shown and CODE not in shown
    staff("view_job", "view_jobpart", "view_voucher")  # sees the error (and the job's parameters)
    shown = shown_to_job_staff(client, job)
    assert "[card code]" in shown and "LIVE%20GIFT%2F42" not in shown


def test_a_refused_export_does_not_show_the_cards_code(sandbox, staff, client):
    job = runner.drive(jobs.export_voucher_transactions("NO-SUCH-CARD-7"), timeout=20)
    assert "404" in job.error and "[card code]" in job.error and "NO-SUCH-CARD-7" not in job.error
    staff("view_job")
    assert "NO-SUCH-CARD-7" not in shown_to_job_staff(client, job)
