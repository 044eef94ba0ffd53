"""``client.promotions``: the Promotions API group, promotion tiers and promotion stacks.

A promotion tier is an automatic discount of a ``PROMOTION`` campaign (no code: it is redeemed
as ``{"object": "promotion_tier", "id": ...}``); a stack groups tiers that apply together.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, cast

from ..endpoints import endpoint
from ..paging import iter_pages
from ..transport import encode_path as p
from ..types import PromotionStack, PromotionTier
from .base import Resource

#: Fixed segments after ``/v1/promotions/``: a campaign id equal to one of them would make the
#: path another operation's (``/v1/promotions/tiers/tiers`` is the tier whose id is "tiers").
_RESERVED = frozenset({"tiers", "stacks"})


def _campaign(template: str, campaign_id: str, *rest: str) -> str:
    """``template`` filled with a campaign id that cannot be read as a fixed segment."""
    if campaign_id in _RESERVED:
        raise ValueError(
            f"{campaign_id!r} cannot be used as a campaign id in /v1/promotions/...: Voucherify "
            "would read the path as another operation's; pass the campaign's id (camp_...)"
        )
    return p(template, campaign_id, *rest)


class Promotions(Resource):
    namespace = "promotions"

    # --- tiers ---------------------------------------------------------------------------------

    @endpoint("list-promotion-tiers", "GET", "/v1/promotions/tiers")
    def list_tiers(self, **params: Any) -> dict[str, Any]:
        """One page of ``GET /v1/promotions/tiers`` (every campaign's): ``is_available``,
        ``limit``, ``page``, ``order``."""
        return cast(dict[str, Any], self._get("/v1/promotions/tiers", params))

    def iterate_tiers(self, **params: Any) -> Iterator[PromotionTier]:
        """Every promotion tier matching ``params``: pages of 100, at most 100 pages (no date
        filter to slide with; past 10,000 tiers this raises PaginationLimitError)."""
        return cast(
            Iterator[PromotionTier], iter_pages(self.list_tiers, "tiers", params=params, max_page=100)
        )

    @endpoint("list-promotion-tiers-from-campaign", "GET", "/v1/promotions/{campaignId}/tiers")
    def list_campaign_tiers(self, campaign_id: str) -> dict[str, Any]:
        """All tiers of one promotion campaign, unpaged (``GET /v1/promotions/{campaignId}/tiers``)."""
        return cast(dict[str, Any], self._get(_campaign("/v1/promotions/{}/tiers", campaign_id)))

    @endpoint("add-promotion-tier-to-campaign", "POST", "/v1/promotions/{campaignId}/tiers")
    def create_tier(self, campaign_id: str, tier: Mapping[str, Any]) -> PromotionTier:
        """Add a tier to a promotion campaign (``POST /v1/promotions/{campaignId}/tiers``):
        ``name``, ``banner``, ``action={"discount": {...}}``, ``hierarchy``, ``active``,
        ``validation_rule_assignments``, dates, ``metadata``."""
        return cast(PromotionTier, self._post(_campaign("/v1/promotions/{}/tiers", campaign_id), dict(tier)))

    @endpoint("get-promotion-tier", "GET", "/v1/promotions/tiers/{promotionTierId}")
    def get_tier(self, tier_id: str) -> PromotionTier:
        """``GET /v1/promotions/tiers/{promotionTierId}``."""
        return cast(PromotionTier, self._get(p("/v1/promotions/tiers/{}", tier_id)))

    @endpoint("update-promotion-tier", "PUT", "/v1/promotions/tiers/{promotionTierId}")
    def update_tier(self, tier_id: str, changes: Mapping[str, Any]) -> PromotionTier:
        """``PUT /v1/promotions/tiers/{promotionTierId}``."""
        return cast(PromotionTier, self._put(p("/v1/promotions/tiers/{}", tier_id), dict(changes)))

    @endpoint("delete-promotion-tier", "DELETE", "/v1/promotions/tiers/{promotionTierId}")
    def delete_tier(self, tier_id: str) -> None:
        """``DELETE /v1/promotions/tiers/{promotionTierId}``."""
        self._delete(p("/v1/promotions/tiers/{}", tier_id))

    @endpoint("enable-promotion-tier", "POST", "/v1/promotions/tiers/{promotionTierId}/enable")
    def enable_tier(self, tier_id: str) -> PromotionTier:
        """``POST /v1/promotions/tiers/{promotionTierId}/enable``."""
        return cast(PromotionTier, self._post(p("/v1/promotions/tiers/{}/enable", tier_id)))

    @endpoint("disable-promotion-tier", "POST", "/v1/promotions/tiers/{promotionTierId}/disable")
    def disable_tier(self, tier_id: str) -> PromotionTier:
        """``POST /v1/promotions/tiers/{promotionTierId}/disable``."""
        return cast(PromotionTier, self._post(p("/v1/promotions/tiers/{}/disable", tier_id)))

    # --- stacks --------------------------------------------------------------------------------

    @endpoint("list-all-promotion-stacks", "GET", "/v1/promotions/stacks")
    def list_stacks(self, **params: Any) -> dict[str, Any]:
        """One page of ``GET /v1/promotions/stacks`` (every campaign's): ``limit``, ``page``,
        ``order``, ``created_at={'before':..., 'after':...}``, ``updated_at``."""
        return cast(dict[str, Any], self._get("/v1/promotions/stacks", params))

    def iterate_stacks(self, **params: Any) -> Iterator[PromotionStack]:
        """Every promotion stack matching ``params``, oldest first: pages of 100 within a
        ``created_at`` window that slides on past page 100 (as for vouchers)."""
        return cast(
            Iterator[PromotionStack],
            iter_pages(self.list_stacks, "data", params=params, max_page=100, date_filter="created_at"),
        )

    @endpoint("list-promotion-stacks-in-campaign", "GET", "/v1/promotions/{campaignId}/stacks")
    def list_campaign_stacks(self, campaign_id: str) -> dict[str, Any]:
        """All stacks of one promotion campaign, unpaged
        (``GET /v1/promotions/{campaignId}/stacks``)."""
        return cast(dict[str, Any], self._get(_campaign("/v1/promotions/{}/stacks", campaign_id)))

    @endpoint("create-promotion-stack", "POST", "/v1/promotions/{campaignId}/stacks")
    def create_stack(self, campaign_id: str, stack: Mapping[str, Any]) -> PromotionStack:
        """Group tiers of a campaign (``POST /v1/promotions/{campaignId}/stacks``): ``name``,
        ``tiers={"ids": [...], "hierarchy_mode": "MANUAL"}``, ``category_id``."""
        return cast(
            PromotionStack, self._post(_campaign("/v1/promotions/{}/stacks", campaign_id), dict(stack))
        )

    @endpoint("get-promotion-stack", "GET", "/v1/promotions/{campaignId}/stacks/{stackId}")
    def get_stack(self, campaign_id: str, stack_id: str) -> PromotionStack:
        """``GET /v1/promotions/{campaignId}/stacks/{stackId}``."""
        return cast(
            PromotionStack, self._get(_campaign("/v1/promotions/{}/stacks/{}", campaign_id, stack_id))
        )

    @endpoint("update-promotion-stack", "PUT", "/v1/promotions/{campaignId}/stacks/{stackId}")
    def update_stack(self, campaign_id: str, stack_id: str, changes: Mapping[str, Any]) -> PromotionStack:
        """``PUT /v1/promotions/{campaignId}/stacks/{stackId}``."""
        path = _campaign("/v1/promotions/{}/stacks/{}", campaign_id, stack_id)
        return cast(PromotionStack, self._put(path, dict(changes)))

    @endpoint("delete-promotion-stack", "DELETE", "/v1/promotions/{campaignId}/stacks/{stackId}")
    def delete_stack(self, campaign_id: str, stack_id: str) -> None:
        """``DELETE /v1/promotions/{campaignId}/stacks/{stackId}``."""
        self._delete(_campaign("/v1/promotions/{}/stacks/{}", campaign_id, stack_id))
