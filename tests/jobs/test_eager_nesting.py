"""Eager mode (tests, the demo): each part's submit queues the next part's, which eager Celery
runs inline inside the previous one. A job of many parts must not nest until Python's recursion
limit (a RecursionError inside a step's transaction): past ``background.INLINE_DEPTH`` nested
runs the next step is left due for the sweep, and the sweep finishes the job."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from django_voucherify import background, jobs
from django_voucherify.models import Job, JobPart, JobState

pytestmark = pytest.mark.django_db(transaction=True)

VOUCHER = {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1}}


def test_a_job_of_many_parts_never_nests_past_the_inline_depth(sandbox: Any, tune: Any, caplog: Any) -> None:
    tune(BULK_CHUNK_BYTES=1400)  # about 3 vouchers per part: 134 parts
    caplog.set_level(logging.INFO, logger="django_voucherify")
    job = jobs.import_vouchers([{**VOUCHER, "code": f"C{i:05d}"} for i in range(400)])
    parts = JobPart.objects.filter(job=job)
    assert parts.count() > 5 * background.INLINE_DEPTH
    assert not [r for r in caplog.records if "could not enqueue" in r.getMessage()]
    assert any("eager nesting" in r.getMessage() for r in caplog.records)
    jobs.drive(Job.objects.get(pk=job.pk))  # what the sweep (or `voucherify_job --here`) does
    assert Job.objects.get(pk=job.pk).state == JobState.DONE
    assert len([c for c in sandbox.state.vouchers if c.startswith("C")]) == 400
