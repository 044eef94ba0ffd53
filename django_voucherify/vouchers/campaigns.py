"""Fill and refresh the :class:`~django_voucherify.models.Campaign`,
:class:`~django_voucherify.models.PromotionTier` and
:class:`~django_voucherify.models.ValidationRule` mirrors from Voucherify.

:func:`refresh_all` walks every campaign, every promotion tier (:mod:`.promotion_tiers`), then
every validation rule and every assignment, and writes the mirrors in batches; the same rule as
the voucher refresh (:mod:`.refresh`) applies to removal: mirrors Voucherify no longer lists are
removed only after a walk that ended normally and brought at least the ``total`` Voucherify
reported (none reported: nothing is removed). ``list-campaigns`` pages through at most 100
pages of 100 and has no ``created_at`` parameter to slide with, so past 10,000 campaigns (or
10,000 tiers: ``list-promotion-tiers`` has none either) the walk stops with a
:class:`~django_voucherify.api.PaginationError`: what it saw is stored, nothing is removed, and
the run ends ``incomplete`` with the reason (docs/admin.md). A copy older than the stored one (``updated_at``,
:mod:`~django_voucherify.freshness`) is not written: a walk that read a campaign before an
enable/disable does not undo it.

:func:`refresh_one` re-reads one campaign (after an enable/disable); :func:`mirror_vouchers_of`
mirrors a campaign's vouchers (after a code generation), without the full voucher walk.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..api.errors import NotFoundError, VoucherifyError
from ..api.paging import PaginationError
from ..freshness import is_older
from ..models import Campaign, PromotionTier, ValidationRule
from ..validation import applied_problem
from . import promotion_tiers, refresh, unstorable

logger = logging.getLogger("django_voucherify.vouchers")

Progress = Callable[[int, int, int], None]
BATCH_SIZE = 500
_CAMPAIGN_FIELDS = [f.name for f in Campaign._meta.concrete_fields if f.name not in ("id", "voucherify_id")]
_RULE_FIELDS = [f.name for f in ValidationRule._meta.concrete_fields if f.name not in ("id", "voucherify_id")]


def _total(page: Any) -> int | None:
    total = page.get("total") if isinstance(page, dict) else None
    return total if isinstance(total, int) and not isinstance(total, bool) else None


def _ident(data: Any) -> str | None:
    ident = data.get("id") if isinstance(data, dict) else None
    return ident if isinstance(ident, str) and ident and len(ident) <= 100 else None


def _store_campaigns(batch: list[dict[str, Any]], stats: dict[str, Any]) -> None:
    now = timezone.now()
    by_id = {ident: data for data in batch if (ident := _ident(data))}
    stats["skipped"] += len(batch) - len(by_id)
    with transaction.atomic():
        existing = {
            c.voucherify_id: c for c in Campaign.objects.select_for_update().filter(voucherify_id__in=by_id)
        }
        new: list[Campaign] = []
        updated: list[Campaign] = []
        kept: list[Campaign] = []
        for ident, data in by_id.items():
            if ident in existing and is_older(data, existing[ident].remote_payload):
                stats["kept_newer"] = stats.get("kept_newer", 0) + 1  # read before a newer write
                continue
            # Checked on a scratch copy: a refused copy leaves the stored mirror as it was.
            if problem := applied_problem(Campaign(voucherify_id=ident), data):
                unstorable.skip(stats, "campaign", ident, problem)
                if ident in existing:
                    unstorable.keep(existing[ident], problem, now)
                    kept.append(existing[ident])
                continue
            campaign = existing.get(ident) or Campaign(voucherify_id=ident)
            campaign.apply_voucherify(data)
            campaign.refreshed_at = now
            (updated if campaign.pk else new).append(campaign)
        Campaign.objects.bulk_update(updated, _CAMPAIGN_FIELDS)
        Campaign.objects.bulk_update(kept, ["refreshed_at", "last_error", "last_error_key"])
        Campaign.objects.bulk_create(new)
    stats["created"] += len(new)
    stats["updated"] += len(updated)


def _store_rules(
    batch: list[dict[str, Any]], assignments: dict[str, list[dict[str, Any]]], stats: dict[str, Any]
) -> None:
    now = timezone.now()
    by_id = {ident: data for data in batch if (ident := _ident(data))}
    stats["skipped"] += len(batch) - len(by_id)
    with transaction.atomic():
        existing = {
            r.voucherify_id: r
            for r in ValidationRule.objects.select_for_update().filter(voucherify_id__in=by_id)
        }
        new: list[ValidationRule] = []
        updated: list[ValidationRule] = []
        kept: list[ValidationRule] = []
        for ident, data in by_id.items():
            mine = assignments.get(ident, [])
            if problem := applied_problem(ValidationRule(voucherify_id=ident), data, mine):
                unstorable.skip(stats, "validation rule", ident, problem)
                if ident in existing:
                    unstorable.keep(existing[ident], problem, now)
                    kept.append(existing[ident])
                continue
            rule = existing.get(ident) or ValidationRule(voucherify_id=ident)
            rule.apply_voucherify(data, mine)
            rule.refreshed_at = now
            (updated if rule.pk else new).append(rule)
        ValidationRule.objects.bulk_update(updated, _RULE_FIELDS)
        ValidationRule.objects.bulk_update(kept, ["refreshed_at"])
        ValidationRule.objects.bulk_create(new)
    stats["rules"] += len(new) + len(updated)


def _in_batches(items: Iterable[dict[str, Any]], store: Callable[[list[dict[str, Any]]], None]) -> int:
    seen, batch = 0, []
    for item in items:
        batch.append(item)
        if len(batch) >= BATCH_SIZE:
            store(batch)
            seen, batch = seen + len(batch), []
    if batch:
        store(batch)
        seen += len(batch)
    return seen


def refresh_all(
    *, progress: Progress | None = None, client: Any = None, prune: bool = True
) -> dict[str, Any]:
    """Mirror every campaign and validation rule (see the module docstring).

    Returns ``created``/``updated``/``removed``/``skipped`` (campaigns; ``skipped`` counts
    tiers without an id too), ``tiers``, ``rules``, ``seen``, ``total`` and ``error`` ("" after
    a complete walk, else why nothing was removed)."""
    api = refresh._client(client)
    started = timezone.now()
    stats: dict[str, Any] = {
        "created": 0,
        "updated": 0,
        "removed": 0,
        "skipped": 0,
        "tiers": 0,
        "rules": 0,
        "seen": 0,
        "total": None,
        "error": "",
    }
    campaigns_total = _total(api.campaigns.list(limit=1))
    tiers_total = _total(api.promotions.list_tiers(limit=1))
    rules_total = _total(api.validation_rules.list(limit=1))
    total = (campaigns_total or 0) + (tiers_total or 0) + (rules_total or 0)
    stats["total"] = total
    done = 0

    def counted(store: Callable[[list[dict[str, Any]]], None]) -> Callable[[list[dict[str, Any]]], None]:
        def run(batch: list[dict[str, Any]]) -> None:
            nonlocal done
            store(batch)
            done += len(batch)
            if progress:
                progress(done, max(done, total), 0)

        return run

    campaigns_seen = tiers_seen = rules_seen = 0
    try:
        campaigns_seen = _in_batches(api.campaigns.iterate(), counted(lambda b: _store_campaigns(b, stats)))
        # After the campaigns: a tier is linked to its campaign's mirror when stored.
        tiers_seen = _in_batches(
            api.promotions.iterate_tiers(), counted(lambda b: promotion_tiers.store_batch(b, stats))
        )
        assignments: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for assignment in api.validation_rules.iterate_all_assignments():
            if isinstance(assignment, dict) and isinstance(assignment.get("rule_id"), str):
                assignments[assignment["rule_id"]].append(assignment)
        rules_seen = _in_batches(
            api.validation_rules.iterate(), counted(lambda b: _store_rules(b, assignments, stats))
        )
    except PaginationError as exc:
        stats["error"] = f"{type(exc).__name__}: {exc}"
    stats["seen"] = done
    if not stats["error"]:
        # Without a total (a count read answered by a gateway's {}: only the walks' pages raise
        # on a missing list, api.paging) the walk cannot be shown complete: removing then
        # could empty a mirror.
        short = [
            f"Voucherify reported no total of {what}"
            if reported is None
            else f"the walk brought {seen} {what}, Voucherify reported {reported}"
            for what, seen, reported in (
                ("campaigns", campaigns_seen, campaigns_total),
                ("promotion tiers", tiers_seen, tiers_total),
                ("validation rules", rules_seen, rules_total),
            )
            if reported is None or seen < reported
        ]
        stats["error"] = "; ".join(short)
    if stats["error"]:
        logger.warning("Campaign refresh incomplete, no mirror removed: %s", stats["error"])
    elif prune:
        PromotionTier.objects.filter(refreshed_at__lt=started).delete()
        # Counted per model: a removed campaign's remaining tiers go with it (cascade).
        _, removed = Campaign.objects.filter(refreshed_at__lt=started).delete()
        stats["removed"] = removed.get(Campaign._meta.label, 0)
        ValidationRule.objects.filter(refreshed_at__lt=started).delete()
    if progress and not done:
        progress(0, 0, 0)
    return stats


def store(data: dict[str, Any]) -> Campaign:
    """Create or update the mirror of one Voucherify campaign object."""
    ident = _ident(data)
    if ident is None:
        raise ValueError("a campaign without an id cannot be mirrored")
    with transaction.atomic():
        found = Campaign.objects.select_for_update().filter(voucherify_id=ident).first()
        if found is not None and is_older(data, found.remote_payload):
            return found  # a newer copy is stored already (freshness: one rule for every writer)
        if problem := applied_problem(Campaign(voucherify_id=ident), data):
            if found is None:
                raise ValueError(f"the campaign cannot be stored: {problem}")
            unstorable.keep(found, problem, timezone.now())
            found.save(update_fields=["refreshed_at", "last_error", "last_error_key"])
            return found  # kept as it was, with the reason
        campaign = found or Campaign(voucherify_id=ident)
        campaign.apply_voucherify(data)
        campaign.refreshed_at = timezone.now()
        campaign.save()
    return campaign


def refresh_one(campaign: Campaign, *, client: Any = None) -> Campaign | None:
    """Re-read ``campaign``; deletes the mirror and returns None when Voucherify has no such
    campaign any more. A 2xx that is not this campaign (another shape, another id: a gateway's
    ``{}``) raises :class:`~django_voucherify.api.VoucherifyError` and stores nothing (review
    3: a ``ValueError``, a 500 in the admin after Voucherify had applied the change, or another
    campaign's copy stored)."""
    try:
        data = refresh._client(client).campaigns.get(campaign.voucherify_id)
    except NotFoundError:
        campaign.delete()
        return None
    if _ident(data) != campaign.voucherify_id:
        raise VoucherifyError(
            f"get-campaign answered {type(data).__name__}, not campaign {campaign.voucherify_id}"
        )
    return store(data)


def mirror_vouchers_of(campaign_id: str, *, client: Any = None) -> dict[str, Any]:
    """Mirror every voucher of one campaign (after codes were generated in it) and re-read the
    campaign; returns the voucher refresh's counts (``created``, ``updated``, ``skipped``)."""
    api = refresh._client(client)
    stats: dict[str, Any] = {"created": 0, "updated": 0, "skipped": 0, "skipped_objects": []}
    _in_batches(api.vouchers.iterate(campaign_id=campaign_id), lambda b: refresh._store_batch(b, stats))
    campaign = Campaign.objects.filter(voucherify_id=campaign_id).first()
    if campaign is not None:
        refresh_one(campaign, client=api)
    return stats
