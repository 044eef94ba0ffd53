"""A job part whose submit had an unknown outcome is sent again only when Voucherify's list of
async actions shows none came of it: a 2xx page of that list without its ``async_actions``
(a gateway's or a proxy's ``{}``, ``null``) shows nothing.

Old code walked such a page as an empty one: no action found, the part was sent again once
``JOB_RESUBMIT_AFTER`` had passed, and Voucherify ran the import (or the code generation, the
bulk update...) twice.
"""

from __future__ import annotations

from typing import Any

import pytest

from django_voucherify import jobs
from django_voucherify.jobs import runner
from django_voucherify.models import JobState
from tests.support import adversary

pytestmark = pytest.mark.django_db(transaction=True)

VOUCHER = {"code": "X1", "type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1}}
NOT_A_LIST: list[Any] = [{}, {"object": "list", "has_more": False}, {"object": "list", "async_actions": None}]


def imports(sandbox: Any) -> list[dict[str, Any]]:
    return [a for a in sandbox.state.async_actions.values() if a["type"] == "VOUCHERS.IMPORT"]


@pytest.mark.parametrize("body", NOT_A_LIST, ids=["empty", "no-list", "null"])
def test_an_async_action_page_without_its_list_does_not_send_the_part_again(sandbox, tune, body):
    tune(JOB_RESUBMIT_AFTER=0.01)  # a part no action is found for is sent again at once
    sandbox.faults.add(path="/v1/vouchers/import", method="POST", drop=True, after=True, times=1)
    gateway = adversary.answer_gets(sandbox, "/v1/async-actions", body)
    job = jobs.import_vouchers([VOUCHER])
    steps = runner.pending_steps(job)
    for _ in range(4):  # the send, then the look-ups after it (their delays not waited for)
        steps = [following for step in steps for following in runner.run_step(step)]
    assert len(imports(sandbox)) == 1, "the import was sent again"
    assert gateway.hits >= 2  # looked up again and again, never sent again
    assert job.parts.get().submit_attempts == 1

    gateway.body = None  # Voucherify's own list gets through: the action is adopted
    job = runner.drive(job, timeout=20)
    assert job.state == JobState.DONE and job.done_count == 1
    assert len(imports(sandbox)) == 1 and job.parts.get().async_action_id == imports(sandbox)[0]["id"]
