"""Unknown submit outcomes are reconciled against Voucherify's async actions, never blindly
re-sent; answers given before processing (429, 503) are retried."""

from __future__ import annotations

import pytest

from django_voucherify import jobs
from django_voucherify.jobs import runner
from django_voucherify.models import JobState

pytestmark = pytest.mark.django_db(transaction=True)

VOUCHER = {"code": "X1", "type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1}}


def imports(sandbox):
    return [a for a in sandbox.state.async_actions.values() if a["type"] == "VOUCHERS.IMPORT"]


def test_connection_lost_after_voucherify_acted_adopts_the_action(sandbox):
    sandbox.faults.add(path="/v1/vouchers/import", method="POST", drop=True, after=True, times=1)
    job = runner.drive(jobs.import_vouchers([VOUCHER]), timeout=20)
    assert job.state == JobState.DONE and job.done_count == 1
    assert len(imports(sandbox)) == 1 and job.parts.get().async_action_id == imports(sandbox)[0]["id"]


def test_request_that_never_arrived_is_sent_again_after_the_grace_period(sandbox, tune):
    tune(JOB_RESUBMIT_AFTER=0.3)
    sandbox.faults.add(path="/v1/vouchers/import", method="POST", drop=True, times=1)
    job = runner.drive(jobs.import_vouchers([VOUCHER]), timeout=20)
    assert job.state == JobState.DONE and len(imports(sandbox)) == 1
    assert job.parts.get().submit_attempts == 2


def test_an_action_owned_by_another_part_is_not_adopted(sandbox, tune):
    tune(JOB_RESUBMIT_AFTER=0.3)
    done = runner.drive(jobs.import_vouchers([VOUCHER]), timeout=20)  # its action is recent
    sandbox.faults.add(path="/v1/vouchers/import", method="POST", drop=True, times=1)
    job = runner.drive(jobs.import_vouchers([{**VOUCHER, "code": "X2"}]), timeout=20)
    assert job.parts.get().async_action_id != done.parts.get().async_action_id
    assert len(imports(sandbox)) == 2 and "X2" in sandbox.state.vouchers


@pytest.mark.parametrize("status", [429, 503])
def test_answers_before_processing_are_retried(sandbox, status):
    sandbox.faults.add(path="/v1/vouchers/import", method="POST", status=status, retry_after=0, times=2)
    job = runner.drive(jobs.import_vouchers([VOUCHER]), timeout=20)
    assert job.state == JobState.DONE and len(imports(sandbox)) == 1
    assert job.parts.get().submit_attempts == 3
