"""System checks of the bulk-job settings (run through ``Job.check()``)."""

from __future__ import annotations

from django.core import checks

from ..checks import number_problem

SETTING = "settings.VOUCHERIFY"


def job_settings_problems() -> list[checks.CheckMessage]:
    from django.conf import settings

    from ..conf import raw_settings

    try:
        values = raw_settings()
    except Exception:  # reported by voucherify.E000 already
        return []
    problems: list[checks.CheckMessage] = []
    alias = values.get("JOB_STORAGE")
    storages = getattr(settings, "STORAGES", {}) or {}
    if not isinstance(alias, str) or alias not in storages:
        problems.append(
            checks.Error(
                f"{SETTING}['JOB_STORAGE'] must name a storage in settings.STORAGES (got {alias!r}).",
                hint="Leave it unset to use the 'default' storage, or add the alias to STORAGES.",
                id="voucherify.E040",
            )
        )
    for key in ("JOB_POLL_INTERVAL", "JOB_POLL_INTERVAL_MAX", "JOB_RESUBMIT_AFTER"):
        problem = number_problem(
            values,
            key,
            above=True,
            check_id="voucherify.E041",
            hint="A number of seconds; leave it unset to use the default.",
        )
        if problem:
            problems.append(problem)
    resubmit, read_timeout = values.get("JOB_RESUBMIT_AFTER"), values.get("READ_TIMEOUT")
    if (
        isinstance(resubmit, int | float)
        and isinstance(read_timeout, int | float)
        and (resubmit <= read_timeout)
    ):
        problems.append(
            checks.Warning(
                f"{SETTING}['JOB_RESUBMIT_AFTER'] ({resubmit} s) is not longer than READ_TIMEOUT.",
                hint="A submit still in flight could be sent twice; keep it well above READ_TIMEOUT.",
                id="voucherify.W040",
            )
        )
    max_age, poll_max = values.get("JOB_MAX_AGE"), values.get("JOB_POLL_INTERVAL_MAX")
    if (
        not isinstance(max_age, int | float)
        or isinstance(max_age, bool)
        or max_age <= 0
        or (isinstance(poll_max, int | float) and max_age <= poll_max)
    ):
        problems.append(
            checks.Error(
                f"{SETTING}['JOB_MAX_AGE'] must be a number of seconds above JOB_POLL_INTERVAL_MAX "
                f"(got {max_age!r}).",
                hint="Leave it unset for 7 days; an unfinished job older than this is failed.",
                id="voucherify.E043",
            )
        )
    retention = number_problem(
        values,
        "JOB_UPLOAD_RETENTION",
        check_id="voucherify.E044",
        hint="Seconds an uploaded source is kept after its job ends; 0 (the "
        "default) deletes it when the job ends.",
    )
    if retention:
        problems.append(retention)
    upload_to = values.get("JOB_UPLOAD_TO")
    if not isinstance(upload_to, str) or not upload_to.strip("/"):
        problems.append(
            checks.Error(
                f"{SETTING}['JOB_UPLOAD_TO'] must be a non-empty folder name (got {upload_to!r}).",
                hint="For example 'voucherify/jobs'.",
                id="voucherify.E042",
            )
        )
    return problems
