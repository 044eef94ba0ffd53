"""The campaign refresh when a list page answers a 2xx of another shape (``{}``: no ``tiers``
list, no ``total``): without a total the walk cannot be shown complete, so no mirror is removed
and the run says why. Review 20 found the walk ended as on an empty page and, with nothing to
compare with, the refresh removed every promotion tier mirror (the same for campaigns, which
took their tiers along, and validation rules)."""

from __future__ import annotations

from typing import Any

import pytest

from django_voucherify.models import Campaign, PromotionTier
from django_voucherify.vouchers import campaigns as mirrors
from tests.support.campaign_refresh import one_tier_promotion

pytestmark = pytest.mark.django_db


class Blank:
    """The sandbox's client whose ``resource.method`` answers ``{}`` (a 2xx of another shape)."""

    def __init__(self, api: Any, resource_name: str, method: str) -> None:
        self.vouchers, self.campaigns = api.vouchers, api.campaigns
        self.promotions, self.validation_rules = api.promotions, api.validation_rules
        resource = getattr(api, resource_name)

        class Wrapped:
            def __getattr__(self, name: str) -> Any:
                return getattr(resource, name)

        wrapped = Wrapped()
        setattr(wrapped, method, lambda **params: {})
        iterate = "iterate_tiers" if method == "list_tiers" else "iterate"

        def walk(**params: Any) -> Any:
            from django_voucherify.api.paging import iter_pages

            key = {"list_tiers": "tiers", "list": resource_name}[method]
            return iter_pages(getattr(wrapped, method), key, params=params)

        setattr(wrapped, iterate, walk)
        setattr(self, resource_name, wrapped)


@pytest.mark.parametrize(("resource", "method"), [("promotions", "list_tiers"), ("campaigns", "list")])
def test_a_list_answering_another_shape_removes_nothing(sandbox, api, resource, method):
    one_tier_promotion(api)
    mirrors.refresh_all()
    assert PromotionTier.objects.count() == 1 and Campaign.objects.count() == 1
    stats = mirrors.refresh_all(client=Blank(api, resource, method))
    assert "no total" in stats["error"]
    assert PromotionTier.objects.count() == 1 and Campaign.objects.count() == 1
