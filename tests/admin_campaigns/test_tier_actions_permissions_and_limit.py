"""The promotion tier admin's Enable/Disable: the permissions and the action limit (review 20).

- the tier page's Enable/Disable URL checked only enable/disable_promotiontier: a user without
  ``view_promotiontier`` (who gets 403 on the list and the tier page) got the confirmation page
  listing the tier's name and campaign and could change it; the changelist's actions need the
  view permission too (Django's rule), so the buttons' URL does now;
- a selection over the action limit (select all 10,000 tiers) was confirmed on a page that did
  not say it would be refused, then refused after the confirmation: the page says so first."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from django_voucherify.admin import promotion_tiers as tier_admin
from django_voucherify.models import PromotionTier
from django_voucherify.vouchers import campaigns as mirrors
from tests.support.admin import post_action

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:django_voucherify_promotiontier_changelist")


def _tiers(api: Any, count: int) -> list[PromotionTier]:
    tiers = [
        {"name": f"Tier {i}", "action": {"discount": {"type": "PERCENT", "percent_off": 5}}}
        for i in range(count)
    ]
    api.campaigns.create({"name": "Big basket", "campaign_type": "PROMOTION", "promotion": {"tiers": tiers}})
    mirrors.refresh_all()
    return list(PromotionTier.objects.order_by("name"))


@pytest.mark.parametrize("action", ["enable", "disable"])
def test_the_tier_buttons_need_the_view_permission_too(client, sandbox, api, staff, action):
    (tier,) = _tiers(api, 1)
    staff(f"{action}_promotiontier")  # no view_promotiontier
    url = reverse(f"admin:django_voucherify_promotiontier_{action}", args=[tier.pk])
    assert (
        client.get(reverse("admin:django_voucherify_promotiontier_change", args=[tier.pk])).status_code == 403
    )
    assert client.post(url).status_code == 403  # no confirmation page naming the tier
    assert post_action(client, url, None, [tier], post="yes").status_code == 403
    assert api.promotions.get_tier(tier.voucherify_id)["active"] is True


def test_the_confirmation_says_a_selection_over_the_limit_will_be_refused(
    client, sandbox, api, staff, monkeypatch
):
    _tiers(api, 3)
    monkeypatch.setattr(tier_admin, "ACTION_LIMIT", 2)
    staff("view_promotiontier", "disable_promotiontier")
    page = post_action(
        client, CHANGELIST, "disable_selected", [PromotionTier.objects.first()], select_across="1"
    )
    assert page.status_code == 200
    assert "at most 2 promotion tiers" in page.content.decode()
