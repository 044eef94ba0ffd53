"""The campaign refresh's tests: a promotion campaign to mirror, and a client whose walk yields one
object more than Voucherify holds (one the database cannot store)."""

from __future__ import annotations

from typing import Any

TEN_PERCENT = {"type": "PERCENT", "percent_off": 10}


def one_tier_promotion(api: Any) -> Any:
    """The PROMOTION campaign "Big basket" with one tier, "Ten off" (10 %), created with ``api``."""
    return api.campaigns.create(
        {
            "name": "Big basket",
            "campaign_type": "PROMOTION",
            "promotion": {"tiers": [{"name": "Ten off", "action": {"discount": TEN_PERCENT}}]},
        }
    )


class Spoiled:
    """The sandbox's client, with one more object (``extra``) in one of the walks."""

    def __init__(self, api: Any, walk: str, extra: dict[str, Any]) -> None:
        self.vouchers = api.vouchers
        self.campaigns = api.campaigns
        self.promotions = api.promotions
        self.validation_rules = api.validation_rules
        resource_name, method = walk.split(".")
        resource = getattr(api, resource_name)
        real = getattr(resource, method)

        class Wrapped:
            def __getattr__(self, name: str) -> Any:
                return getattr(resource, name)

        wrapped = Wrapped()

        def iterate(*args: Any, **kwargs: Any) -> Any:
            yield from real(*args, **kwargs)
            yield extra

        setattr(wrapped, method, iterate)
        setattr(self, resource_name, wrapped)
