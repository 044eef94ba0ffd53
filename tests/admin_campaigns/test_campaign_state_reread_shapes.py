"""Enabling or disabling campaigns in the admin when Voucherify applied the change but the
re-read of the campaign (``get-campaign``) answers a 2xx that is not that campaign (a gateway's
``{}``, a list, another campaign): review 3 (offers layer) found a 500 after the first campaign
had changed in Voucherify, the others never sent and no message said which had changed."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from django_voucherify.api.resources.campaigns import Campaigns
from django_voucherify.models import Campaign
from tests.support.admin import post_action

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:django_voucherify_campaign_changelist")


@pytest.mark.parametrize("answer", [{}, [], "ok", {"id": "camp_someone_else", "name": "Other"}])
def test_a_reread_in_another_shape_keeps_going_and_says_what_changed(
    client, sandbox, api, campaigns, staff, monkeypatch, answer: Any
):
    autumn, spring = campaigns("Autumn", "Spring")
    staff("view_campaign", "change_campaign_state")
    monkeypatch.setattr(Campaigns, "get", lambda self, campaign_id: answer)
    response = post_action(client, CHANGELIST, "disable_selected", [autumn, spring], post="yes")
    assert response.status_code == 302
    for campaign in (autumn, spring):
        campaign.refresh_from_db()
        assert campaign.active is False  # disabled in Voucherify: the mirror says so
        assert campaign.last_error  # and why it could not be re-read
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("Autumn, Spring" in m for m in shown), shown
    assert not Campaign.objects.filter(voucherify_id="camp_someone_else").exists()
