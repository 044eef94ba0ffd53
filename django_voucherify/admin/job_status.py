"""The job page's live status: a JSON view under the admin and what the page's script reads.

``admin/django_voucherify/job/<pk>/status.json`` answers the job's state, progress, counts, its
parts' progress and the first failed rows, read from :class:`JobFailedRow` (not the job's
cached sample), so rows refused locally show as soon as they are stored, before any part is
sent. ``static/django_voucherify/job_progress.js`` polls it while the job runs and updates the
page in place (no reload, no inline script: CSP-friendly). Always JSON, never HTML: an unknown
job is a JSON 404, a user without the view permission a JSON 403.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _

from ..models import Job, JobFailedRow

#: Failed rows the live page shows (the CSV download has them all).
LIVE_FAILED_ROWS = 50
#: How often the page asks, in milliseconds (read by the script from the page).
POLL_INTERVAL_MS = 2000


def failed_rows(job: Job, limit: int = LIVE_FAILED_ROWS) -> tuple[list[dict[str, Any]], int]:
    """The first ``limit`` failed rows by source row, and how many are stored."""
    rows = JobFailedRow.objects.filter(job_id=job.pk).order_by("row", "pk")
    sample = [{"row": r.row or "", "code": r.code or r.source_id, "reason": r.reason} for r in rows[:limit]]
    return sample, rows.count()


def payload(job: Job) -> dict[str, Any]:
    sample, stored = failed_rows(job)
    parts = job.parts.order_by("index").values("index", "state", "progress", "done_count", "failed_count")
    return {
        "id": job.pk,
        "state": job.state,
        "state_label": str(job.get_state_display()),
        "finished": job.is_finished,
        "progress": job.progress,
        "total_rows": job.total_rows,
        "done_count": job.done_count,
        # Rows refused locally are stored before the job's count is recomputed: show the larger.
        "failed_count": max(job.failed_count, stored),
        "failed_rows": sample,
        "error": job.error,
        "has_result_file": bool(job.result_file),
        "parts": list(parts),
    }


def status_view(request: HttpRequest, pk: int, *, allowed: bool) -> JsonResponse:
    if not allowed:
        return JsonResponse({"error": _("You may not view bulk jobs.")}, status=403)
    job = Job.objects.filter(pk=pk).first()
    if job is None:
        return JsonResponse({"error": _("No bulk job with this id.")}, status=404)
    return JsonResponse(payload(job))  # the admin's view wrapper marks it never-cache
