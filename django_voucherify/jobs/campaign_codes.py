""" "Generate N codes" in a campaign as a bulk job: one part, one ``CAMPAIGN.VOUCHERS_GENERATE``
async action (``POST /v1/campaigns/{id}/vouchers?vouchers_count=N``) followed to its end by the
job runner like any import, then the campaign's vouchers mirrored (:func:`after_finish`).

``N`` is bounded (:data:`MIN_CODES` to :data:`MAX_CODES`): Voucherify answers one code with the
voucher itself, not an async action (the voucher form adds one code with its campaign), and the
spec gives no upper bound, so one job asks for at most what a campaign's generation is known to
handle in one action; more codes are more jobs.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from .. import background
from ..models import Job, JobKind, JobPart, JobState
from .service import User, start_job

MIN_CODES = 2
MAX_CODES = 100_000
#: The task that mirrors a campaign's vouchers once its codes are generated (tasks/vouchers.py).
MIRROR_TASK = "django_voucherify.mirror_campaign_vouchers"


def count_problem(count: Any) -> str | None:
    """Why ``count`` cannot be asked for, or None."""
    if not isinstance(count, int) or isinstance(count, bool) or not MIN_CODES <= count <= MAX_CODES:
        return _("The number of codes must be a whole number from %(min)d to %(max)d.") % {
            "min": MIN_CODES,
            "max": MAX_CODES,
        }
    return None


def generate_campaign_codes(
    campaign_id: str, count: int, *, campaign_name: str = "", started_by: User | None = None
) -> Job:
    """Start a job generating ``count`` codes in campaign ``campaign_id`` (its ``camp_`` id).

    Raises ValueError (nothing stored or sent) for a count out of bounds or an empty id."""
    problem = count_problem(count)
    if problem:
        raise ValueError(problem)
    if not isinstance(campaign_id, str) or not campaign_id.strip():
        raise ValueError(_("A campaign id is required."))
    params = {"campaign_id": campaign_id, "campaign": campaign_name or campaign_id, "count": count}
    with transaction.atomic():
        job = Job.objects.create(
            kind=JobKind.GENERATE_CAMPAIGN_CODES,
            state=JobState.PREPARING,
            started_by=started_by,
            params=params,
        )
        JobPart.objects.create(job=job, index=1, payload={"campaign_id": campaign_id}, row_count=count)
        start_job(job, parts_rows=count, rejected=0)
    return job


def after_finish(job: Job) -> None:
    """Once a generation job ended (done or failed: a failed action may have made some codes),
    mirror the campaign's vouchers in the background, so they show in the voucher admin."""
    if job.kind == JobKind.GENERATE_CAMPAIGN_CODES and job.params.get("campaign_id"):
        background.enqueue(MIRROR_TASK, (job.params["campaign_id"],))
