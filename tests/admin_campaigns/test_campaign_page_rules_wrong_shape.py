"""The campaign change page when Voucherify answers the validation-rule assignments with a
2xx of another shape: an error on the page, never a 500 (review 18)."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("answer", [[], "ok", {"data": "x"}])
def test_assignments_answered_in_the_wrong_shape_are_shown_as_an_error_not_a_500(
    client, sandbox, campaigns, staff, monkeypatch, answer
):
    """2xx with a body that is not the expected shape (REVIEW.md): the campaign page says so."""
    from django_voucherify.api.resources.validation_rules import ValidationRules

    (spring,) = campaigns("Spring sale")
    staff("view_campaign")
    monkeypatch.setattr(ValidationRules, "list_all_assignments", lambda self, **params: answer)
    page = client.get(reverse("admin:django_voucherify_campaign_change", args=[spring.pk]))
    assert page.status_code == 200
    assert page.context["rules"] == [] and page.context["rules_error"]
