"""The campaign refresh reads a validation rule's assignments only from a real list: a 2xx page
of ``list-validation-rules-assignments`` without its ``data`` (a gateway's or a proxy's ``{}``,
``null``) is no answer.

Old code walked such a page as an empty one (the assignments have no total to compare with):
every validation rule mirror was stored with no assignment, and the run SUCCEEDED.
"""

from __future__ import annotations

from typing import Any

import pytest

from django_voucherify.api.errors import InvalidResponseError
from django_voucherify.models import RefreshState, RefreshSubject, ValidationRule
from django_voucherify.vouchers import campaigns as mirrors
from django_voucherify.vouchers import refresh_runs
from tests.support import adversary
from tests.support.campaigns import MIN_100

pytestmark = pytest.mark.django_db

NOT_A_LIST: list[Any] = [{}, {"object": "list", "total": 0}, {"object": "list", "data": None}]


@pytest.mark.parametrize("body", NOT_A_LIST, ids=["empty", "no-list", "null"])
def test_an_assignment_page_without_its_list_does_not_strip_the_rules(sandbox, api, campaigns, body):
    (spring,) = campaigns("Spring")
    rule = api.validation_rules.create({"name": "Over 100", "rules": MIN_100, "error": {"message": "Spend"}})
    api.validation_rules.create_assignment(rule["id"], "campaign", spring.voucherify_id)
    mirrors.refresh_all()
    before = ValidationRule.objects.get(voucherify_id=rule["id"])
    assert before.assignments_count == 1

    gateway = adversary.answer_gets(sandbox, "/v1/validation-rules-assignments", body)
    raised: BaseException | None = None
    try:
        refresh_runs.run(subject=RefreshSubject.CAMPAIGNS)
    except InvalidResponseError as exc:
        raised = exc
    assert gateway.hits == 1
    after = ValidationRule.objects.get(voucherify_id=rule["id"])
    assert after.assignments_count == 1, "the rule mirror lost its assignment"
    assert after.assignments == before.assignments
    run = refresh_runs.last(RefreshSubject.CAMPAIGNS)
    assert run is not None and run.state == RefreshState.FAILED
    assert raised is not None and "'data' list" in run.error

    gateway.body = None  # Voucherify's own list gets through
    assert not refresh_runs.run(subject=RefreshSubject.CAMPAIGNS)["error"]
    assert ValidationRule.objects.get(voucherify_id=rule["id"]).assignments_count == 1
