"""Fill and refresh the :class:`~django_voucherify.models.PromotionTier` mirrors, and enable or
disable a tier in Voucherify.

The campaign refresh (:func:`.campaigns.refresh_all`) walks ``list-promotion-tiers`` (every
campaign's tiers, pages of 100, at most 100 pages) after the campaigns and stores them with
:func:`store_batch`, linking each tier to its campaign's mirror; the same removal rule applies
(only after a complete walk). A copy older than the stored one is not written
(:mod:`~django_voucherify.freshness`), so a walk that read a tier before an enable/disable does
not undo it.

:func:`set_active` enables or disables one tier: Voucherify answers with the tier, which is
stored. A 2xx answer that is not that tier (another shape, another id, no ``active``) is not
trusted: the tier is re-read, and if that fails too the mirror only takes the new ``active``
and says why in ``last_error``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..api.errors import NotFoundError, VoucherifyError
from ..background import error_fields
from ..freshness import is_older
from ..models import Campaign, PromotionTier
from ..validation import applied_problem
from . import refresh, unstorable

logger = logging.getLogger("django_voucherify.vouchers")

_FIELDS = [f.name for f in PromotionTier._meta.concrete_fields if f.name not in ("id", "voucherify_id")]


def ident(data: Any) -> str | None:
    found = data.get("id") if isinstance(data, dict) else None
    return found if isinstance(found, str) and found and len(found) <= 100 else None


def _campaign_pks(tiers: list[PromotionTier]) -> dict[str, int]:
    """The mirror pk of each campaign the tiers name (one query per batch)."""
    wanted = {t.campaign_voucherify_id for t in tiers if t.campaign_voucherify_id}
    if not wanted:
        return {}
    return dict(Campaign.objects.filter(voucherify_id__in=wanted).values_list("voucherify_id", "pk"))


def store_batch(batch: list[dict[str, Any]], stats: dict[str, Any]) -> None:
    """Create or update the mirrors of a batch of tiers (``stats["tiers"]`` counts them,
    ``skipped`` the ones without a usable id, ``kept_newer`` the copies older than stored)."""
    now = timezone.now()
    by_id = {found: data for data in batch if (found := ident(data))}
    stats["skipped"] += len(batch) - len(by_id)
    with transaction.atomic():
        existing = {
            t.voucherify_id: t
            for t in PromotionTier.objects.select_for_update().filter(voucherify_id__in=by_id)
        }
        touched: list[PromotionTier] = []
        refused = 0
        for found, data in by_id.items():
            if found in existing and is_older(data, existing[found].remote_payload):
                stats["kept_newer"] = stats.get("kept_newer", 0) + 1
                existing[found].refreshed_at = now  # seen by this walk: not pruned
                touched.append(existing[found])
                continue
            # Checked on a scratch copy: a refused copy leaves the stored mirror as it was.
            if problem := applied_problem(PromotionTier(voucherify_id=found), data):
                unstorable.skip(stats, "promotion tier", found, problem)
                refused += 1
                if found in existing:
                    unstorable.keep(existing[found], problem, now)
                    touched.append(existing[found])
                continue
            tier = existing.get(found) or PromotionTier(voucherify_id=found)
            tier.apply_voucherify(data)
            tier.refreshed_at = now
            touched.append(tier)
        campaigns = _campaign_pks(touched)
        for tier in touched:
            tier.campaign_id = campaigns.get(tier.campaign_voucherify_id)
        PromotionTier.objects.bulk_update([t for t in touched if t.pk], _FIELDS)
        PromotionTier.objects.bulk_create([t for t in touched if not t.pk])
    stats["tiers"] += len(by_id) - refused


def store(data: dict[str, Any]) -> PromotionTier:
    """Create or update the mirror of one Voucherify promotion tier object."""
    found = ident(data)
    if found is None:
        raise ValueError("a promotion tier without an id cannot be mirrored")
    with transaction.atomic():
        tier = PromotionTier.objects.select_for_update().filter(voucherify_id=found).first()
        if tier is not None and is_older(data, tier.remote_payload):
            return tier  # a newer copy is stored already
        if problem := applied_problem(PromotionTier(voucherify_id=found), data):
            if tier is None:
                raise ValueError(f"the promotion tier cannot be stored: {problem}")
            unstorable.keep(tier, problem, timezone.now())
            tier.save(update_fields=["refreshed_at", "last_error", "last_error_key"])
            return tier  # kept as it was, with the reason
        tier = tier or PromotionTier(voucherify_id=found)
        tier.apply_voucherify(data)
        tier.campaign_id = _campaign_pks([tier]).get(tier.campaign_voucherify_id)
        tier.refreshed_at = timezone.now()
        tier.save()
    return tier


def _is_tier(answer: Any, tier_id: str) -> bool:
    return isinstance(answer, dict) and answer.get("id") == tier_id and isinstance(answer.get("active"), bool)


@dataclass(frozen=True)
class Outcome:
    """What :func:`set_active` did: the mirror (None when Voucherify no longer has the tier,
    re-read after an unexpected answer) and ``unexpected`` (the answer was not the tier)."""

    tier: PromotionTier | None
    unexpected: bool = False


def set_active(tier: PromotionTier, active: bool, *, client: Any = None) -> Outcome:
    """Enable (``active``) or disable ``tier`` in Voucherify and update its mirror from the
    answer. Voucherify's refusal (:class:`~django_voucherify.api.VoucherifyError`) is raised
    after being written on the mirror's last-error fields; nothing changed in Voucherify then."""
    api = refresh._client(client)
    call = api.promotions.enable_tier if active else api.promotions.disable_tier
    try:
        answer = call(tier.voucherify_id)
    except VoucherifyError as exc:
        PromotionTier.objects.filter(pk=tier.pk).update(**error_fields(exc))
        raise
    if _is_tier(answer, tier.voucherify_id):
        return Outcome(store(answer))
    # A 2xx is Voucherify saying it did it; its body is not the tier, so the tier is re-read
    # rather than the answer stored (or the change assumed without a word).
    logger.warning(
        "%s of promotion tier %s answered %s, not the tier; re-reading it",
        "enable" if active else "disable",
        tier.voucherify_id,
        type(answer).__name__,
    )
    again: Any = None
    failure: VoucherifyError | None = None
    try:
        again = api.promotions.get_tier(tier.voucherify_id)
    except NotFoundError:
        tier.delete()
        return Outcome(None, unexpected=True)
    except VoucherifyError as exc:
        failure = exc
    if _is_tier(again, tier.voucherify_id):
        return Outcome(store(again), unexpected=True)
    note = "the answer was not the promotion tier and re-reading it failed"
    fields = error_fields(failure, f"{note}: {failure}" if failure else note)
    PromotionTier.objects.filter(pk=tier.pk).update(active=active, **fields)
    tier.refresh_from_db()
    return Outcome(tier, unexpected=True)
