"""Review 18: campaign admin (issue 17), reproductions against the sandbox."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.admin_campaigns.conftest import api, campaigns, sandbox, staff

__all__ = ["api", "campaigns", "sandbox", "staff"]

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
