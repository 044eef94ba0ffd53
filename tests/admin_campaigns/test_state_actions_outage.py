"""Enabling or disabling selected promotion tiers or campaigns in the admin when Voucherify hangs:
the interactive timeout (``CHECKOUT_TIMEOUT``) is used and the run stops at the first answer
saying Voucherify cannot be reached now (no answer, 429, 5xx); the ones not tried are named.
Review 20 found the loop (up to 100 objects) used the shared client (20 s read timeout,
retries) and went on: a hung Voucherify held the request 100 times 20 s, far past any WSGI
worker timeout (which then kills it with no message said)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from django_voucherify import conf
from django_voucherify.api.errors import RequestTimeout
from django_voucherify.api.resources.promotions import Promotions
from django_voucherify.models import PromotionTier
from django_voucherify.vouchers import campaigns as mirrors
from tests.support.admin import post_action

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:django_voucherify_promotiontier_changelist")


def test_a_hung_voucherify_stops_the_run_at_the_first_timeout(client, sandbox, api, staff, monkeypatch):
    tiers = [
        {"name": f"Tier {i}", "action": {"discount": {"type": "PERCENT", "percent_off": 5}}} for i in range(3)
    ]
    api.campaigns.create({"name": "Big basket", "campaign_type": "PROMOTION", "promotion": {"tiers": tiers}})
    mirrors.refresh_all()
    staff("view_promotiontier", "disable_promotiontier")
    timeouts: list[Any] = []

    def hang(self: Promotions, tier_id: str) -> Any:
        timeouts.append(self._transport.timeout[1])
        raise RequestTimeout("Voucherify read timeout", method="POST", path="/v1/promotions/tiers/x/disable")

    monkeypatch.setattr(Promotions, "disable_tier", hang)
    pks = list(PromotionTier.objects.values_list("pk", flat=True))
    response = post_action(client, CHANGELIST, "disable_selected", pks, post="yes", confirmed_count="3")
    assert response.status_code == 302
    assert timeouts == [conf.settings().checkout_timeout]  # one call, with the short timeout
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("Tier 1, Tier 2" in m for m in shown), shown  # the ones not tried are named
    assert set(PromotionTier.objects.values_list("active", flat=True)) == {True}


def test_the_campaign_actions_stop_at_the_first_timeout_too(
    client, sandbox, api, campaigns, staff, monkeypatch
):
    """The campaign admin's Enable/Disable had the same loop (20 s per campaign, up to 100)."""
    from django_voucherify.api.resources.campaigns import Campaigns
    from django_voucherify.models import Campaign

    made = campaigns("Autumn", "Spring", "Summer")
    staff("view_campaign", "change_campaign_state")
    timeouts: list[Any] = []

    def hang(self: Campaigns, campaign_id: str) -> Any:
        timeouts.append(self._transport.timeout[1])
        raise RequestTimeout("Voucherify read timeout", method="POST", path="/v1/campaigns/x/disable")

    monkeypatch.setattr(Campaigns, "disable", hang)
    changelist = reverse("admin:django_voucherify_campaign_changelist")
    response = post_action(client, changelist, "disable_selected", made, post="yes")
    assert response.status_code == 302
    assert timeouts == [conf.settings().checkout_timeout]
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("Spring, Summer" in m for m in shown), shown
    assert set(Campaign.objects.values_list("active", flat=True)) == {True}


def test_a_timeout_after_voucherify_applied_it_does_not_say_it_failed(client, sandbox, api, campaigns, staff):
    """Voucherify disables the campaign, then its answer does not come within the interactive
    timeout: the message must not say plainly that the disable failed (it happened)."""
    from tests.support.sandbox import options

    (autumn,) = campaigns("Autumn")
    staff("view_campaign", "change_campaign_state")
    path = f"/v1/campaigns/{autumn.voucherify_id}/disable"
    sandbox.faults.add(path=path, method="POST", latency=1.0, after=True, times=1)
    with options(sandbox, CHECKOUT_TIMEOUT=0.2, READ_TIMEOUT=20):
        changelist = reverse("admin:django_voucherify_campaign_changelist")
        response = post_action(client, changelist, "disable_selected", [autumn], post="yes")
    assert response.status_code == 302
    assert api.campaigns.get(autumn.voucherify_id)["active"] is False  # it did happen
    (shown,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert "may have been applied" in shown, shown
