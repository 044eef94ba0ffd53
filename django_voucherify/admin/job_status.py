"""The job page's live status: a JSON view under the admin and what the page's script reads.

``admin/django_voucherify/job/<pk>/status.json`` answers the job's state, progress, counts, its
parts' progress and the first failed rows, read from :class:`JobFailedRow` (not the job's
cached sample), so rows refused locally show as soon as they are stored, before any part is
sent. ``static/django_voucherify/job_progress.js`` polls it while the job runs and updates the
page in place (no reload, no inline script: CSP-friendly): the counts, the failed rows and the
parts table (:func:`parts_table`, drawn here first and redrawn by the script with the same
cells), so progress moves part by part. Always JSON, never HTML: an unknown job, or a segment
that is no id (``abc/status.json``), is a JSON 404, a user without the view permission a JSON 403.
The failed rows and the job's error are the job's data: without the permission to view it
(``admin.jobs.ROW_DATA_PERMISSIONS``) the rows are left out and the error is a note
(:func:`error_shown`, also used for the parts' last errors on the page).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from ..models import Job, JobFailedRow, PartState

#: Failed rows the live page shows (the CSV download has them all).
LIVE_FAILED_ROWS = 50
#: How often the page asks, in milliseconds (read by the script from the page).
POLL_INTERVAL_MS = 2000


def failed_rows(job: Job, limit: int = LIVE_FAILED_ROWS) -> tuple[list[dict[str, Any]], int]:
    """The first ``limit`` failed rows by source row, and how many are stored."""
    rows = JobFailedRow.objects.filter(job_id=job.pk).order_by("row", "pk")
    sample = [{"row": r.row or "", "code": r.code or r.source_id, "reason": r.reason} for r in rows[:limit]]
    return sample, rows.count()


#: The parts table's cells, in order: what the page draws and the script redraws.
PART_CELLS = ("index", "first_row", "row_count", "state_label", "progress", "done_count", "failed_count")


def parts(job: Job) -> list[dict[str, Any]]:
    """Each part's progress, for the live parts table (a part is a request body of rows)."""
    labels = dict(PartState.choices)
    rows = job.parts.order_by("index").values(
        "index", "state", "first_row", "row_count", "progress", "done_count", "failed_count"
    )
    return [{**row, "state_label": str(labels.get(row["state"], row["state"]))} for row in rows]


def parts_table(job: Job) -> SafeString:
    """The parts table as the page first shows it; job_progress.js redraws its body from
    :func:`payload` (the same cells, ``data-part-field`` naming each)."""
    headers = (_("part"), _("first row"), _("rows"), _("state"), _("progress"), _("done"), _("failed"))
    body = format_html_join("", "{}", ((_part_row(part),) for part in parts(job)))
    return format_html(
        '<table class="voucherify-parts"{}><thead><tr>{}</tr></thead>'
        "<tbody data-job-parts>{}</tbody></table>",
        "" if body else " hidden",  # no part yet (the file is being split): shown by the script
        format_html_join("", '<th scope="col">{}</th>', ((h,) for h in headers)),
        body,
    )


def _part_row(part: dict[str, Any]) -> SafeString:
    cells = []
    for name in PART_CELLS:
        if name == "progress":
            cells.append(
                format_html(
                    '<td><progress value="{}" max="100"></progress> <span>{}</span>%</td>',
                    part["progress"],
                    part["progress"],
                )
            )
        else:
            cells.append(format_html('<td data-part-field="{}">{}</td>', name, part[name]))
    return format_html(
        '<tr data-job-part="{}">{}</tr>', part["index"], format_html_join("", "{}", ((c,) for c in cells))
    )


def when(moment: datetime | None) -> str:
    """A time as the admin's readonly fields show it ("-" for none)."""
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT") if moment else "-"


def payload(job: Job) -> dict[str, Any]:
    sample, stored = failed_rows(job)
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
        "finished_at_text": when(job.finished_at),
        "has_result_file": bool(job.result_file),
        "parts": parts(job),
    }


def error_shown(text: str, allowed: bool) -> str:
    """``text`` (a job's error, a part's last error), or a note saying it is hidden when the
    user may not see the job's data: Voucherify's messages quote what they refused (a voucher
    code, a customer's source id, often an e-mail address). Nothing to hide stays empty."""
    if allowed or not text:
        return text
    return _(
        "Hidden: an error may quote what this job carried (codes, source ids); seeing it needs "
        "the permission to view them."
    )


def signed_out(message: str | None = None) -> JsonResponse:
    """The answer to a caller who is not (or no longer) signed in as staff: the page's script
    says so and stops asking, instead of polling an HTML login page for ever (also the refresh
    status's answer, with its own ``message``)."""
    return JsonResponse(
        {
            "error": message or _("Your admin session has ended: sign in again to follow this job."),
            "signed_out": True,
        },
        status=401,
    )


#: The most digits a job id has (a bigint: 19); a longer segment is no id (and ``int()`` of
#: one past 4300 digits raises ValueError).
MAX_ID_DIGITS = 19


def job_id(segment: str) -> int | None:
    """The job id a URL segment names, or None: the route takes any segment (``abc``, ``-1``,
    ``1.5``), so that what names no job gets this view's JSON 404, not the admin's HTML
    catch-all (a redirect to a change page the script would poll as JSON)."""
    if segment.isascii() and segment.isdigit() and len(segment) <= MAX_ID_DIGITS:
        return int(segment)
    return None


def status_view(
    request: HttpRequest, pk: str, *, allowed: bool, rows_allowed: Callable[[Job], bool]
) -> JsonResponse:
    if not allowed:
        return JsonResponse({"error": _("You may not view bulk jobs.")}, status=403)
    number = job_id(pk)
    # An id past the column's range matches no row (Django answers such a lookup empty).
    job = None if number is None else Job.objects.filter(pk=number).first()
    if job is None:
        return JsonResponse({"error": _("No bulk job with this id.")}, status=404)
    answer = payload(job)
    if not rows_allowed(job):  # the rows and the error carry the job's data: behind its permission
        answer["failed_rows"] = []
        answer["error"] = error_shown(job.error, allowed=False)
    return JsonResponse(answer)
