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


@pytest.mark.parametrize(
    ("start", "path"),
    [
        (lambda: jobs.import_vouchers([VOUCHER]), "/v1/vouchers/import"),
        (lambda: jobs.export_orders(), "/v1/orders/export"),
    ],
    ids=["import", "export"],
)
@pytest.mark.parametrize("fault", [{"status": 500}, {"drop": True}], ids=["500", "dropped"])
def test_a_part_voucherify_never_answers_fails_after_the_attempts(sandbox, tune, fault, start, path):
    """Every send of the part has an unknown outcome (and, for an import, no async action comes
    of it): it was sent again every JOB_RESUBMIT_AFTER (an export: every 5 s) until JOB_MAX_AGE
    (83 sends in 8 s here; by default every 2 minutes for 7 days, a 9 MB body each time), and
    while an import's part was submitting no other part of its async type could be
    (JobSubmitLock). It now fails after MAX_SUBMIT_ATTEMPTS sends, saying so, and the next job
    of its type goes through."""
    tune(JOB_RESUBMIT_AFTER=0.05)
    rule = sandbox.faults.add(path=path, method="POST", **fault)
    job = runner.drive(start(), timeout=20)
    part = job.parts.get()
    assert job.state == JobState.FAILED and rule.hits == part.submit_attempts == runner.MAX_SUBMIT_ATTEMPTS
    assert f"Not sent after {runner.MAX_SUBMIT_ATTEMPTS} attempts, none with a usable answer" in job.error
    assert ("500" if "status" in fault else "unreachable") in job.error

    sandbox.faults.clear()
    assert runner.drive(start(), timeout=20).state == JobState.DONE
