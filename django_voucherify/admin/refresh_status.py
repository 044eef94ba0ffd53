"""The refresh-status block above the voucher, campaign and promotion-tier changelists, live.

:func:`payload` says how the last :class:`~django_voucherify.models.VoucherRefreshRun` of a
subject went, as one translated sentence (``message``) with its error, progress and counts; the
block (``voucher/last_refresh.html``) is drawn from it, and
``<changelist>/refresh/status.json`` (:func:`status_urls`, one per changelist, checked with that
changelist's view permission) answers the same JSON, so ``static/django_voucherify/
refresh_progress.js`` redraws the block in place while a run is queued or running, with the
job page's poller (``live_status.js``) and its interval. One home for the sentences: the page
and the script show the same text. The view reads one row (the subject's last run) and never
calls Voucherify; it answers JSON only, also when refused (401 signed out, 403 without the view
permission), never cached.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, path, reverse
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from ..models import RefreshState, RefreshSubject, VoucherRefreshRun
from . import job_status

#: The block's left border, by state (voucherify_admin.css).
_CSS = {
    RefreshState.QUEUED: "is-running",
    RefreshState.RUNNING: "is-running",
    RefreshState.FAILED: "is-failed",
}


def _last(subject: str) -> VoucherRefreshRun | None:
    # The voucher service (and with it the client) loads on first use, not at start-up.
    from ..vouchers import refresh_runs

    return refresh_runs.last(subject)


def _message(run: VoucherRefreshRun | None, subject: str) -> str:
    campaigns = subject == RefreshSubject.CAMPAIGNS
    if run is None:
        if campaigns:
            return _(
                "The campaigns, promotion tiers and validation rules have never been refreshed from "
                "Voucherify here: press “Refresh from Voucherify” to load them."
            )
        return _(
            "The vouchers have never been refreshed from Voucherify here: press “Refresh from "
            "Voucherify” to load them."
        )
    if run.state == RefreshState.QUEUED:
        return _("Refresh from Voucherify queued %(when)s ago, waiting for a worker.") % {
            "when": timesince(run.requested_at)
        }
    if run.state == RefreshState.RUNNING:
        counts = {"done": run.done, "total": run.total, "when": timesince(run.started_at or run.requested_at)}
        if campaigns:
            counts["total"] = "?" if run.total is None else run.total
            return (
                _(
                    "Refresh from Voucherify running (started %(when)s ago): %(done)s of %(total)s "
                    "campaigns, promotion tiers and validation rules stored."
                )
                % counts
            )
        if run.total:
            return (
                _(
                    "Refresh from Voucherify running (started %(when)s ago): %(done)s of %(total)s "
                    "vouchers stored."
                )
                % counts
            )
        return _("Refresh from Voucherify running (started %(when)s ago): %(done)s vouchers stored.") % counts
    when = timesince(run.finished_at or run.requested_at)
    if run.state == RefreshState.FAILED:
        return _("The last refresh from Voucherify failed %(when)s ago:") % {"when": when}
    stats = run.stats or {}
    if campaigns:
        return _(
            "Last refreshed from Voucherify %(when)s ago: %(created)s new campaigns, %(updated)s updated, "
            "%(removed)s removed, %(skipped)s skipped; %(tiers)s promotion tiers; %(rules)s validation "
            "rules."
        ) % {
            "when": when,
            "created": stats.get("created", 0),
            "updated": stats.get("updated", 0),
            "removed": stats.get("removed", 0),
            # Objects the database cannot store (or without an id): staff see a tier is missing.
            "skipped": stats.get("skipped", 0),
            "tiers": stats.get("tiers", 0),
            "rules": stats.get("rules", 0),
        }
    return _(
        "Last refreshed from Voucherify %(when)s ago: %(seen)s vouchers (%(created)s new, %(updated)s "
        "updated, %(removed)s removed, %(skipped)s skipped)."
    ) % {
        "when": when,
        "seen": run.done,
        "created": stats.get("created", 0),
        "updated": stats.get("updated", 0),
        "removed": stats.get("removed", 0),
        "skipped": stats.get("skipped", 0),
    }


def _error(run: VoucherRefreshRun | None) -> str:
    if run is None or not run.error:
        return ""
    if run.state == RefreshState.INCOMPLETE:
        return _("Incomplete, nothing was removed: %(error)s") % {"error": run.error}
    return run.error  # failed, or queued again to wait for a retry ("waiting to retry: ...")


def payload(run: VoucherRefreshRun | None, subject: str) -> dict[str, Any]:
    """What the block shows of ``run`` (the subject's last run, None if it never ran)."""
    moment = None
    if run is not None:
        moment = run.finished_at or run.started_at or run.requested_at
    return {
        "id": run.pk if run else None,
        "subject": subject,
        "state": run.state if run else "none",
        "state_label": str(run.get_state_display()) if run else "",
        "finished": run is None or run.is_finished,
        "css": _CSS.get(run.state, "is-ok") if run else "is-ok",  # type: ignore[call-overload]
        "message": _message(run, subject),
        "error": _error(run),
        "when_text": job_status.when(moment),
        "done": run.done if run else 0,
        "total": run.total if run else None,
        # A bar only while a run walks and knows its total; the counts are in the message.
        "show_progress": bool(run and run.state == RefreshState.RUNNING and run.total),
        "stats": {k: v for k, v in (run.stats or {}).items() if isinstance(v, int)} if run else {},
    }


def _url_name(model_admin: admin.ModelAdmin) -> str:  # type: ignore[type-arg]
    return f"{model_admin.opts.app_label}_{model_admin.opts.model_name}_refresh_status"


def context(model_admin: admin.ModelAdmin, subject: str) -> dict[str, Any]:  # type: ignore[type-arg]
    """The changelist's context for the block: the last run, what it shows and where to ask."""
    run = _last(subject)
    return {
        "last_refresh": run,
        "refresh_status": payload(run, subject),
        "refresh_status_url": reverse(f"admin:{_url_name(model_admin)}"),
        "refresh_poll_ms": job_status.POLL_INTERVAL_MS,
    }


def status_view(request: HttpRequest, subject: str, *, signed_in: bool, allowed: bool) -> JsonResponse:
    if not signed_in:
        return job_status.signed_out(_("Your admin session has ended: sign in again to follow the refresh."))
    if not allowed:
        return JsonResponse({"error": _("You may not view this list.")}, status=403)
    return JsonResponse(payload(_last(subject), subject))


def status_urls(model_admin: admin.ModelAdmin, subject: str) -> list[URLPattern]:  # type: ignore[type-arg]
    """``refresh/status.json`` under ``model_admin``'s changelist, allowed to whoever may view
    that changelist. Not behind ``admin_view``, whose redirect to the HTML login page a script
    would poll for ever: a signed-out caller gets a JSON 401 (as the job page's status)."""

    def view(request: HttpRequest) -> JsonResponse:
        return status_view(
            request,
            subject,
            signed_in=model_admin.admin_site.has_permission(request),
            allowed=model_admin.has_view_permission(request),
        )

    checked: Callable[[HttpRequest], JsonResponse] = never_cache(view)
    return [path("refresh/status.json", checked, name=_url_name(model_admin))]
