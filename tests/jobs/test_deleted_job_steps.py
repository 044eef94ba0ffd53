"""A job deleted while it runs (the admin's delete, shop code): its queued steps end quietly.

Deleting is the only way to stop a job here. A poll whose part is gone raised
``JobPart.DoesNotExist``, which the task retried 10 times, 30 s apart, each logged with a
traceback, for a job nobody has any more."""

from __future__ import annotations

import logging

import pytest

from django_voucherify import jobs
from django_voucherify.jobs import runner
from django_voucherify.models import PartState
from django_voucherify.tasks import jobs as job_tasks

pytestmark = pytest.mark.django_db(transaction=True)


def test_steps_of_a_deleted_job_end_without_error(sandbox, caplog):
    job = jobs.import_vouchers(
        [{"code": "DEL-1", "type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1}}]
    )
    part = job.parts.get()
    assert part.state == PartState.SUBMITTED  # the eager submit ran on commit
    job.delete()

    caplog.set_level(logging.WARNING)
    assert runner.poll_part(part.pk, part.lease_token) == []
    assert runner.submit_part(part.pk, part.lease_token) == []
    job_tasks.poll_job_part.apply(args=(part.pk, part.lease_token)).get()  # no retry raised
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
