"""The Voucherify overview page (``admin/django_voucherify/overview/``): does anything need staff?

One block per area, each shown only to staff with the view permission of its model, each count
linking to the changelist filtered to those rows (the worklist):

- sync: outbox entries pending and failed, and the age of the oldest pending one;
- checkout: ledger rows UNKNOWN, needing attention, with a rollback pending;
- webhooks: events needing attention, and parked ones;
- jobs: the unfinished ones and the latest few;
- redemptions and discount given per day over :data:`CHART_DAYS` days, as an inline SVG
  (no script, no inline style, no asset from the internet: it works under a strict CSP).

The page is the changelist of :class:`~django_voucherify.models.Overview`, a model without a
table, so the admin's index lists it with the other Voucherify models and the page gets the
admin's breadcrumbs. It only reads the database: nothing here calls Voucherify.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Min, Sum
from django.db.models.functions import TruncDate
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from ..models import (
    CheckoutRedemption,
    Job,
    JobState,
    LedgerState,
    OutboxEntry,
    OutboxState,
    Overview,
    WebhookEvent,
    WebhookEventState,
)
from ..models.jobs import FINAL_JOB_STATES
from .mixins import VoucherifyModelAdmin
from .money import currency
from .overview_chart import daily_chart

TEMPLATE = "admin/django_voucherify/overview.html"
#: Days shown on the redemptions chart (today included).
CHART_DAYS = 30
#: Latest jobs listed.
RECENT_JOBS = 5
#: The models whose view permission shows a block, by block.
BLOCK_MODELS: dict[str, type[Any]] = {
    "sync": OutboxEntry,
    "checkout": CheckoutRedemption,
    "webhooks": WebhookEvent,
    "jobs": Job,
}


def worklist(model: type[Any], **filters: Any) -> str:
    """The admin changelist of ``model`` filtered by ``filters`` (query-string lookups)."""
    url = reverse(f"admin:django_voucherify_{model._meta.model_name}_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


def can_view(request: HttpRequest, model: type[Any]) -> bool:
    return bool(request.user.has_perm(f"django_voucherify.view_{model._meta.model_name}"))


def sync_block() -> dict[str, Any]:
    counts = dict(
        OutboxEntry.objects.filter(state__in=(OutboxState.PENDING, OutboxState.FAILED))
        .values_list("state")
        .annotate(n=Count("pk"))
        .values_list("state", "n")
    )
    oldest = OutboxEntry.objects.filter(state=OutboxState.PENDING).aggregate(at=Min("created_at"))["at"]
    return {
        "pending": counts.get(OutboxState.PENDING, 0),
        "pending_url": worklist(OutboxEntry, state__exact=OutboxState.PENDING),
        "failed": counts.get(OutboxState.FAILED, 0),
        "failed_url": worklist(OutboxEntry, state__exact=OutboxState.FAILED),
        "oldest_pending_at": oldest,
        "oldest_pending_age": (timezone.now() - oldest) if oldest else None,
    }


def checkout_block() -> dict[str, Any]:
    rows = CheckoutRedemption.objects
    return {
        "unknown": rows.filter(state=LedgerState.UNKNOWN).count(),
        "unknown_url": worklist(CheckoutRedemption, state__exact=LedgerState.UNKNOWN),
        "attention": rows.filter(needs_attention=True).count(),
        "attention_url": worklist(CheckoutRedemption, needs_attention__exact=1),
        "rollbacks": rows.rollback_due().count(),
        "rollbacks_url": worklist(CheckoutRedemption, rollback="pending"),
    }


def webhooks_block() -> dict[str, Any]:
    return {
        "attention": WebhookEvent.objects.filter(needs_attention=True).count(),
        "attention_url": worklist(WebhookEvent, needs_attention__exact=1),
        "parked": WebhookEvent.objects.filter(state=WebhookEventState.PARKED).count(),
        "parked_url": worklist(WebhookEvent, state__exact=WebhookEventState.PARKED),
    }


#: Failed jobs count as needing staff for this long after they ended (a job has no "seen" mark).
FAILED_JOBS_WINDOW = timedelta(days=7)


def failed_jobs_window() -> tuple[datetime, datetime]:
    """From midnight 7 days ago to midnight tomorrow (current time zone): the bounds the job
    changelist's "Past 7 days" filter uses, so the count and the list it links to agree."""
    today = _start_of(timezone.localdate())
    return today - FAILED_JOBS_WINDOW, today + timedelta(days=1)


def jobs_block() -> dict[str, Any]:
    unfinished = Job.objects.exclude(state__in=FINAL_JOB_STATES)
    since, until = failed_jobs_window()
    return {
        "unfinished": unfinished.count(),
        "unfinished_url": worklist(Job, state__in=",".join(s for s in JobState if s not in FINAL_JOB_STATES)),
        "failed": Job.objects.filter(
            state=JobState.FAILED, updated_at__gte=since, updated_at__lt=until
        ).count(),
        "failed_url": worklist(
            Job, state__exact=JobState.FAILED, updated_at__gte=str(since), updated_at__lt=str(until)
        ),
        "recent": list(Job.objects.order_by("-pk")[:RECENT_JOBS]),
    }


def _start_of(day: date) -> datetime:
    """Midnight starting ``day`` in the current time zone (what ``TruncDate`` groups by)."""
    start = datetime.combine(day, time.min)
    return timezone.make_aware(start) if settings.USE_TZ else start


def redemptions_per_day(today: date, days: int = CHART_DAYS) -> list[dict[str, Any]]:
    """Succeeded checkout redemptions and the discount they gave, per day (by ``redeemed_at``
    in the current time zone), ``days`` days up to ``today``, days without any included.

    ``count`` counts every redemption; ``discount`` sums those in the shop's currency
    (``CURRENCY``) only: a row's currency is its order mirror's, and a row without one (no
    mirror, or a mirror without a currency) counts as the shop's. ``other`` holds the rest,
    ``{currency: (redemptions, discount)}``: amounts of two currencies are never added up
    (docs/admin.md, "Overview"). With ``CURRENCY`` unset the shop's currency is the one its
    order mirrors use most in the period (most redemptions; ties: the first code): a project
    has one currency, and every mirror naming one must not empty the discount bars. One query,
    however many rows and currencies."""
    first = today - timedelta(days=days - 1)
    rows = list(
        CheckoutRedemption.objects.filter(
            # A range on the column itself (not ``__date``, a function of it) so the index serves.
            state=LedgerState.SUCCEEDED,
            redeemed_at__gte=_start_of(first),
            redeemed_at__lt=_start_of(today + timedelta(days=1)),
        )
        .annotate(day=TruncDate("redeemed_at"))
        .values("day", "order__currency")
        .annotate(count=Count("pk"), discount=Sum("discount_amount"))
        .order_by()
    )
    shop = (currency() or "").upper() or _most_used_currency(rows)
    found: dict[date, dict[str, Any]] = {}
    for row in rows:
        day = found.setdefault(row["day"], {"count": 0, "discount": 0, "other": {}})
        day["count"] += row["count"]
        code = (row["order__currency"] or "").upper()  # a mirror's "eur" is EUR
        if code in ("", shop):
            day["discount"] += row["discount"] or 0
        else:
            count, discount = day["other"].get(code, (0, 0))
            day["other"][code] = (count + row["count"], discount + (row["discount"] or 0))
    return [
        {"day": day, **found.get(day, {"count": 0, "discount": 0, "other": {}})}
        for day in (first + timedelta(days=i) for i in range(days))
    ]


def _most_used_currency(rows: Sequence[Mapping[str, Any]]) -> str:
    """The currency code (upper case) of the most redemptions among ``rows``; "" if none names one."""
    counts: dict[str, int] = {}
    for row in rows:
        code = (row["order__currency"] or "").upper()
        if code:
            counts[code] = counts.get(code, 0) + row["count"]
    return min(counts, key=lambda code: (-counts[code], code), default="")


BUILDERS = {"sync": sync_block, "checkout": checkout_block, "webhooks": webhooks_block, "jobs": jobs_block}


def needs_staff(blocks: dict[str, dict[str, Any]]) -> bool:
    """Whether any visible count is a problem staff should look at."""
    keys = {
        "sync": ("failed",),
        "checkout": ("unknown", "attention", "rollbacks"),
        "webhooks": ("attention", "parked"),
        "jobs": ("failed",),
    }
    return any(blocks[name].get(key) for name, names in keys.items() if name in blocks for key in names)


@admin.register(Overview)
class OverviewAdmin(VoucherifyModelAdmin):
    """The overview page instead of a changelist; nothing to add, change or delete."""

    class Media:
        css = {"all": ("django_voucherify/voucherify_admin.css",)}

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return any(can_view(request, model) for model in BLOCK_MODELS.values())

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_model_perms(self, request: HttpRequest) -> dict[str, bool]:
        return {"view": self.has_view_permission(request)}

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        blocks = {name: BUILDERS[name]() for name, model in BLOCK_MODELS.items() if can_view(request, model)}
        chart = None
        if "checkout" in blocks:
            days = redemptions_per_day(timezone.localdate())
            chart = daily_chart(days, worklist(CheckoutRedemption, state__exact=LedgerState.SUCCEEDED))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "title": _("Voucherify overview"),
            "blocks": blocks,
            "chart": chart,
            "needs_staff": needs_staff(blocks),
            "media": self.media,
            **(extra_context or {}),
        }
        return TemplateResponse(request, TEMPLATE, context)
