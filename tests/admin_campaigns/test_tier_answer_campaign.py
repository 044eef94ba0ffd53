"""The promotion tier mirror reads its campaign from Voucherify's enable/disable (and update)
answers, which name it only in ``campaign.id`` (``campaign_id`` and ``promotion_id`` are null
there: openapi.json's examples of ``enable-promotion-tier``, ``disable-promotion-tier``,
``update-promotion-tier``). Review 20 found the mirror read only the two flat fields: after an
enable or disable from the admin the tier lost its campaign link, vanishing from its campaign's
page and filter until the next refresh."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from django_voucherify.api.resources.promotions import Promotions
from django_voucherify.models import PromotionTier
from django_voucherify.vouchers import campaigns as mirrors
from tests.support.admin import post_action

pytestmark = pytest.mark.django_db


def as_documented(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer in the shape of Voucherify's documented example."""
    campaign = {"id": answer.get("campaign_id"), "object": "campaign", "active": True}
    return {**answer, "campaign_id": None, "promotion_id": None, "campaign": campaign}


def test_the_documented_answer_names_the_campaign():
    tier = PromotionTier(voucherify_id="promo_1")
    tier.apply_voucherify(as_documented({"id": "promo_1", "name": "Ten off", "campaign_id": "camp_1"}))
    assert tier.campaign_voucherify_id == "camp_1"


def test_an_answer_naming_no_campaign_keeps_the_known_one():
    tier = PromotionTier(voucherify_id="promo_1", campaign_voucherify_id="camp_1")
    tier.apply_voucherify({"id": "promo_1", "name": "Ten off"})
    assert tier.campaign_voucherify_id == "camp_1"  # a tier never moves to another campaign


def test_a_tier_disabled_from_the_admin_stays_on_its_campaign(client, sandbox, api, staff, monkeypatch):
    tiers = [{"name": "Ten off", "action": {"discount": {"type": "PERCENT", "percent_off": 10}}}]
    made = api.campaigns.create(
        {"name": "Big basket", "campaign_type": "PROMOTION", "promotion": {"tiers": tiers}}
    )
    mirrors.refresh_all()
    tier = PromotionTier.objects.get()
    assert tier.campaign is not None
    real = Promotions.disable_tier
    monkeypatch.setattr(Promotions, "disable_tier", lambda self, tier_id: as_documented(real(self, tier_id)))
    staff("view_promotiontier", "disable_promotiontier")
    url = reverse("admin:django_voucherify_promotiontier_disable", args=[tier.pk])
    assert post_action(client, url, None, [tier], post="yes").status_code == 302
    stored = PromotionTier.objects.get()
    assert stored.active is False
    assert stored.campaign_voucherify_id == made["id"] and stored.campaign_id == tier.campaign_id
