"""The automatic promotion tiers of one campaign in that campaign's hierarchy.

A qualifications answer lists the tiers best deal first, each priced on the cart alone, and
carries no ``hierarchy``; the spec says a customer qualifying for several tiers of one campaign
gets them "in the order defined in the hierarchy", and a stack is applied in the order sent (a
10.00-off tier then a 20% tier take 28.00 off 100.00, the other way round 30.00). So when two or
more qualifying tiers share a campaign, that campaign's tiers are read
(``GET /v1/promotions/{campaignId}/tiers``, bounded by ``CHECKOUT_TIMEOUT`` like every checkout
call) and its tiers take the slots they held in hierarchy order; the other tiers keep theirs.
One tier per campaign (the common case) costs no read.

A read that fails (no answer, an error status, an answer of another shape, a tier missing from
it) leaves that campaign's tiers in the qualifications order, with a logged warning: nothing is
written at this point, the tiers all qualified, and the validation or redeem that follows
prices the stack as sent and applies the outage policy itself if Voucherify is down; refusing
a checkout over the order of its discounts would cost the customer more than a different order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import conf
from ..api.errors import APIError, VoucherifyError
from ..validation import SHAPE_ERRORS, code_problem

if TYPE_CHECKING:
    from ..api.client import VoucherifyClient

logger = logging.getLogger("django_voucherify.checkout")

#: The clock the reads' time bound is measured with (monotonic: immune to clock changes).
clock = time.monotonic


@dataclass(frozen=True)
class QualifiedTier:
    """A tier of a qualifications answer: its id and its campaign's (None when not given)."""

    id: str
    campaign_id: str | None


def in_hierarchy(found: Sequence[QualifiedTier], api: VoucherifyClient) -> list[str]:
    """The ids of ``found`` (qualifications order), the tiers of a campaign holding two or more
    of them reordered by that campaign's ``hierarchy`` in the slots they hold (ties keep their
    order). One read per such campaign; none starts once ``CHECKOUT_TIMEOUT`` has passed since
    the first began (the remaining campaigns keep the qualifications order)."""
    slots: dict[str, list[int]] = {}
    for slot, tier in enumerate(found):
        if tier.campaign_id:
            slots.setdefault(tier.campaign_id, []).append(slot)
    ids = [tier.id for tier in found]
    shared = {campaign_id: held for campaign_id, held in slots.items() if len(held) > 1}
    deadline: float | None = None
    for campaign_id, held in shared.items():
        now = clock()
        if deadline is None:
            deadline = now + conf.settings().checkout_timeout
        elif now >= deadline:
            logger.warning(
                "Voucherify checkout: no time left to read the hierarchy of campaign %s; its "
                "automatic promotions keep the qualifications order",
                campaign_id,
            )
            continue
        members = [ids[slot] for slot in held]
        ranks = _hierarchy(campaign_id, members, api)
        if ranks is not None:
            for slot, tier_id in zip(held, sorted(members, key=ranks.__getitem__), strict=True):
                ids[slot] = tier_id
    return ids


def _hierarchy(campaign_id: str, members: list[str], api: VoucherifyClient) -> dict[str, int] | None:
    """``members``' hierarchy in their campaign, or None (logged) when it cannot be read."""
    try:
        answer = api.promotions.list_campaign_tiers(campaign_id)
        wanted = set(members)
        # Only the qualifying tiers are ranked: the spec does not require ``hierarchy`` of a
        # tier, and another tier without one must not undo their order (review 20).
        ranks = {
            str(tier["id"]): _rank(tier.get("hierarchy"))
            for tier in answer["tiers"]
            if str(tier["id"]) in wanted
        }
    except VoucherifyError as exc:
        log = logger.error if isinstance(exc, APIError) and exc.status in (401, 403) else logger.warning
        log(
            "Voucherify checkout: reading the tiers of campaign %s failed (%s); its automatic "
            "promotions keep the qualifications order",
            campaign_id,
            exc,
        )
        return None
    except SHAPE_ERRORS as exc:
        logger.warning(
            "Voucherify checkout: the tiers of campaign %s have an unexpected shape (%s); its "
            "automatic promotions keep the qualifications order",
            campaign_id,
            exc,
        )
        return None
    missing = [tier_id for tier_id in members if tier_id not in ranks]
    if missing:
        logger.warning(
            "Voucherify checkout: campaign %s does not list its qualifying tiers %s; its "
            "automatic promotions keep the qualifications order",
            campaign_id,
            missing,
        )
        return None
    return ranks


def _rank(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"hierarchy {value!r} is not an integer")
    return value


def qualified(entry: Mapping[str, Any]) -> QualifiedTier:
    """A qualifications answer's tier entry (``options.expand: ["redeemable"]`` adds its
    ``campaign_id``)."""
    campaign_id = entry.get("campaign_id")
    if campaign_id is not None and not isinstance(campaign_id, str):
        raise TypeError(f"campaign_id {campaign_id!r} is not a string")
    tier_id = entry["id"]
    if code_problem(tier_id):  # the rule of every tier id given (review 20: a NUL was a 500)
        raise ValueError(f"tier id {str(tier_id)[:50]!r} breaks the tier id rule")
    return QualifiedTier(tier_id, campaign_id or None)
