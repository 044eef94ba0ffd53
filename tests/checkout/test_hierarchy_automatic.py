"""Automatic tiers of one campaign stack in that campaign's hierarchy (``checkout.validate``
with ``automatic=True``), also when the hierarchy read (``GET /v1/promotions/{campaignId}/tiers``)
holds another tier without a ``hierarchy`` (the spec's ``PromotionTier`` does not require one):
review 20 found that one such tier made the whole read "of another shape", and the qualifying
tiers went back to best deal first (100.00: 30.00 off instead of 28.00)."""

from __future__ import annotations

from typing import Any

import pytest

from django_voucherify import checkout
from django_voucherify.api.resources.promotions import Promotions
from tests.support.hierarchy import AMOUNT, ORDER, PERCENT, tiered_campaign

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("other", [{"id": "promo_other"}, {"id": "promo_other", "hierarchy": None}])
def test_another_tier_without_a_hierarchy_does_not_undo_the_order(sandbox: Any, monkeypatch, other) -> None:
    _campaign_id, (ten_off, twenty_pct) = tiered_campaign(AMOUNT, PERCENT)
    real = Promotions.list_campaign_tiers

    def with_other(self: Any, wanted: str) -> Any:
        answer = dict(real(self, wanted))
        answer["tiers"] = [*answer["tiers"], other]
        return answer

    monkeypatch.setattr(Promotions, "list_campaign_tiers", with_other)
    outcome = checkout.validate([], ORDER, automatic=True)
    assert [c.code for c in outcome.codes] == [ten_off, twenty_pct]
    assert outcome.totals.discount_amount == 1000 + 1800


def test_automatic_tiers_of_one_campaign_stack_in_their_hierarchy(sandbox):
    from django_voucherify import client

    client.campaigns.create(
        {
            "name": "Tiered",
            "campaign_type": "PROMOTION",
            "promotion": {
                "tiers": [
                    {"name": "Ten off", "action": {"discount": {"type": "AMOUNT", "amount_off": 1000}}},
                    {"name": "20%", "action": {"discount": {"type": "PERCENT", "percent_off": 20}}},
                ]
            },
        }
    )
    outcome = checkout.validate([], ORDER, automatic=True)
    assert [c.applicable for c in outcome.codes] == [True, True]
    assert outcome.totals.discount_amount == 1000 + 1800  # 10.00 off, then 20% of 90.00
