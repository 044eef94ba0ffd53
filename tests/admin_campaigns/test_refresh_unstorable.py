"""The campaign refresh with a promotion tier, campaign or validation rule the database cannot
store (a NUL in its name on PostgreSQL, a date that does not exist): that object is skipped and
counted, the rest mirrored, and an existing mirror of it kept (not pruned: it exists) with the
reason. Review 20 found one such object made the whole refresh raise: every later refresh
failed the same way, the tier admin never filled."""

from __future__ import annotations

from typing import Any

import pytest

from django_voucherify.models import Campaign, PromotionTier, ValidationRule
from django_voucherify.vouchers import campaigns as mirrors
from tests.support.campaign_refresh import Spoiled, one_tier_promotion

pytestmark = pytest.mark.django_db


NO_SUCH_DAY = "2026-02-30T00:00:00Z"


BAD = [
    ("promotions.iterate_tiers", {"id": "promo_bad", "name": "Bad\x00tier", "campaign_id": "camp_x"}),
    ("promotions.iterate_tiers", {"id": "promo_bad", "name": "Bad date", "start_date": NO_SUCH_DAY}),
    ("promotions.iterate_tiers", {"id": "promo_bad", "name": "Deep", "metadata": {"k": "v\x00"}}),
    ("campaigns.iterate", {"id": "camp_bad", "name": "Bad\x00campaign", "campaign_type": "PROMOTION"}),
    ("campaigns.iterate", {"id": "camp_bad", "name": "Bad date", "expiration_date": "2026-13-01T00:00:00Z"}),
    ("validation_rules.iterate", {"id": "val_bad", "name": "Bad\x00rule", "rules": {}}),
]


@pytest.mark.parametrize(("walk", "extra"), BAD, ids=[f"{w}-{i}" for i, (w, _e) in enumerate(BAD)])
def test_an_unstorable_object_is_skipped_and_the_rest_is_mirrored(sandbox, api, walk, extra):
    made = one_tier_promotion(api)
    stats = mirrors.refresh_all(client=Spoiled(api, walk, extra))
    assert stats["skipped"] == 1
    assert Campaign.objects.filter(voucherify_id=made["id"]).exists()
    assert PromotionTier.objects.filter(campaign__voucherify_id=made["id"]).count() == 1
    assert not PromotionTier.objects.filter(voucherify_id="promo_bad").exists()
    assert not Campaign.objects.filter(voucherify_id="camp_bad").exists()
    assert not ValidationRule.objects.filter(voucherify_id="val_bad").exists()


def test_an_existing_tier_that_became_unstorable_is_kept_with_the_reason_and_not_pruned(sandbox, api):
    made = one_tier_promotion(api)
    mirrors.refresh_all()
    tier = PromotionTier.objects.get(campaign__voucherify_id=made["id"])
    remote = api.promotions.get_tier(tier.voucherify_id)

    class Renamed(Spoiled):
        def __init__(self) -> None:
            super().__init__(api, "promotions.iterate_tiers", {})

            class Tiers:
                def __getattr__(self, name: str) -> Any:
                    return getattr(api.promotions, name)

                def iterate_tiers(self) -> Any:
                    yield {**remote, "name": "Ten\x00off"}

            self.promotions = Tiers()

    stats = mirrors.refresh_all(client=Renamed())
    assert stats["skipped"] == 1 and stats["error"] == ""
    kept = PromotionTier.objects.get(pk=tier.pk)  # exists in Voucherify: never pruned
    assert kept.name == "Ten off" and "NUL" in kept.last_error
