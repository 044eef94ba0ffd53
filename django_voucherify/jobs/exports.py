"""Exports: poll ``client.exports.get`` until DONE, then stream the CSV into Django storage."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.core.files import File
from django.utils.translation import gettext as _

from ..models import Job, JobPart, PartState
from ..validation import storable_json

Finish = Callable[..., list[Any]]


def _client() -> Any:
    from .. import client

    return client


#: An export's statuses (the spec's ``ExportBase.status``).
STATUSES = ("SCHEDULED", "IN_PROGRESS", "DONE", "ERROR")


def status_problem(status: Any, known: tuple[str, ...]) -> str:
    """Why ``status`` (of an export or an async action) is not one of ``known``, the spec's."""
    if status is None or status == "":
        return _("the answer has no status")
    return _("status %(status)s is none of %(known)s") % {
        "status": repr(status)[:40],
        "known": ", ".join(known),
    }


def poll_export(
    part: JobPart,
    finish: Finish,
    again: Callable[[JobPart], list[Any]],
    unusable: Callable[[JobPart, str], list[Any]],
) -> list[Any]:
    """One poll of an export; on DONE the file is downloaded (streamed through a temporary
    file, never held in memory) and saved as the job's ``result_file``. An answer without a
    status the spec lists goes to ``unusable`` (with why)."""
    export = storable_json(_client().exports.get(part.async_action_id))  # stored: no NUL
    status = export.get("status")
    if status not in STATUSES:
        return unusable(part, status_problem(status, STATUSES))
    if status == "ERROR":
        return finish(
            part,
            PartState.FAILED,
            error=_("Voucherify could not produce export %(id)s.") % {"id": part.async_action_id},
            remote_status=status,
        )
    if status != "DONE":
        JobPart.objects.filter(pk=part.pk).update(remote_status=status[:32])  # the column's length
        return again(part)
    result = export.get("result")
    url = str(result.get("url") or "") if isinstance(result, dict) else ""
    job = Job.objects.get(pk=part.job_id)
    stored = job.result_file.name or ""
    if stored and job.result_file.storage.exists(stored):
        # Stored by an earlier run of this poll that ended before the part did (its worker
        # died, or the sweep took the part over during a long download): not downloaded again.
        size = job.result_file.size
    else:
        size = _download(job, part, url, replaces=stored)
    rows = max(0, _count_lines(job) - 1)
    return finish(
        part,
        PartState.DONE,
        remote_status=status,
        result={"url_host": urlsplit(url).netloc, "bytes": size, "done_count": rows},
    )


def _download(job: Job, part: JobPart, url: str, *, replaces: str) -> int:
    """Stream the export's CSV into storage as ``job.result_file``; returns its size. Of two
    polls downloading at once, the first to record its file wins and the other deletes its own
    copy: a file the job does not name would never be deleted (EXPORT_RETENTION_DAYS)."""
    token = (parse_qs(urlsplit(url).query).get("token") or [""])[0]
    with tempfile.TemporaryFile() as tmp:
        size = int(_client().exports.download(part.async_action_id, token, into=tmp))
        tmp.seek(0)
        job.result_file.save(f"{job.kind}-{job.pk}-{part.async_action_id}.csv", File(tmp), save=False)
    mine = str(job.result_file.name)
    if not Job.objects.filter(pk=job.pk, result_file=replaces).update(result_file=mine):
        job.result_file.storage.delete(mine)
        job.refresh_from_db(fields=["result_file"])
        return int(job.result_file.size)
    return size


def _count_lines(job: Job) -> int:
    count = 0
    with job.result_file.open("rb") as stored:
        for chunk in iter(lambda: stored.read(1 << 16), b""):
            count += chunk.count(b"\n")
    return count
