"""The campaign refresh when a list answers a 2xx of another shape (``{}``: no ``tiers`` or
``campaigns`` list, no ``total``): no mirror is removed. Review 20 found the walk ended as on an
empty page and, with nothing to compare with, the refresh removed every promotion tier mirror
(the same for campaigns, which took their tiers along, and validation rules). A page without its
list now raises ``InvalidResponseError`` (api.paging): the refresh stops there, removing
nothing; a count read (``list(limit=1)``) answered so gives no total, and nothing is removed."""

from __future__ import annotations

from typing import Any

import pytest

from django_voucherify.api.errors import InvalidResponseError
from django_voucherify.models import Campaign, PromotionTier
from django_voucherify.vouchers import campaigns as mirrors
from tests.support.campaign_refresh import one_tier_promotion

pytestmark = pytest.mark.django_db

LISTS = [("promotions", "list_tiers"), ("campaigns", "list")]


class Blank:
    """The sandbox's client whose ``resource.method`` answers ``{}`` (a 2xx of another shape),
    in the walk too unless ``walk`` is False (then only the count read gets it)."""

    def __init__(self, api: Any, resource_name: str, method: str, *, walk: bool = True) -> None:
        self.vouchers, self.campaigns = api.vouchers, api.campaigns
        self.promotions, self.validation_rules = api.promotions, api.validation_rules
        resource = getattr(api, resource_name)

        class Wrapped:
            def __getattr__(self, name: str) -> Any:
                return getattr(resource, name)

        wrapped = Wrapped()
        setattr(wrapped, method, lambda **params: {})
        iterate = "iterate_tiers" if method == "list_tiers" else "iterate"

        def blank_walk(**params: Any) -> Any:
            from django_voucherify.api.paging import iter_pages

            key = {"list_tiers": "tiers", "list": resource_name}[method]
            return iter_pages(getattr(wrapped, method), key, params=params)

        if walk:
            setattr(wrapped, iterate, blank_walk)
        setattr(self, resource_name, wrapped)


@pytest.mark.parametrize(("resource", "method"), LISTS)
def test_a_list_answering_another_shape_removes_nothing(sandbox, api, resource, method):
    one_tier_promotion(api)
    mirrors.refresh_all()
    assert PromotionTier.objects.count() == 1 and Campaign.objects.count() == 1
    with pytest.raises(InvalidResponseError):
        mirrors.refresh_all(client=Blank(api, resource, method))
    assert PromotionTier.objects.count() == 1 and Campaign.objects.count() == 1


@pytest.mark.parametrize(("resource", "method"), LISTS)
def test_a_count_answering_another_shape_removes_nothing(sandbox, api, resource, method):
    one_tier_promotion(api)
    mirrors.refresh_all()
    Campaign.objects.create(voucherify_id="camp_gone", name="Gone")  # not in Voucherify's list
    stats = mirrors.refresh_all(client=Blank(api, resource, method, walk=False))
    assert "no total" in stats["error"]
    assert Campaign.objects.filter(voucherify_id="camp_gone").exists()
    assert PromotionTier.objects.count() == 1
