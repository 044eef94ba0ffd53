"""The campaign change page when the validation-rule assignments Voucherify lists hold a NUL
(which PostgreSQL refuses even as a query's parameter) or a lone surrogate (which no page can
encode): review 3 of the offers layer found a 500 (the look-up of the rule mirrors, the page's
encoding). Such an assignment is shown with the character replaced, matched to no mirror."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("rule_id", ["val_\x00x", "val_\ud800x"])
def test_an_assignment_whose_rule_id_no_mirror_can_have_is_shown_not_a_500(
    client, sandbox, campaigns, staff, monkeypatch, rule_id: Any
):
    from django_voucherify.api.resources.validation_rules import ValidationRules

    (spring,) = campaigns("Spring sale")
    staff("view_campaign")
    answer = {"data": [{"id": "asgm_1", "rule_id": rule_id, "related_object_id": spring.voucherify_id}]}
    monkeypatch.setattr(ValidationRules, "list_all_assignments", lambda self, **params: answer)
    page = client.get(reverse("admin:django_voucherify_campaign_change", args=[spring.pk]))
    assert page.status_code == 200
    assert [r["rule"] for r in page.context["rules"]] == [None]
