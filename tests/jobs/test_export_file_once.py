"""An export's CSV is stored once: a poll that runs again after the file was stored (its worker
died before the part was marked done, or the sweep took the part over during a long download)
neither downloads it again nor leaves a second copy in storage that nothing refers to (the
retention sweep deletes only the job's ``result_file``: a stray copy of customers' data stayed
for ever)."""

from __future__ import annotations

import pytest

from django_voucherify import jobs
from django_voucherify.jobs import exports, runner
from django_voucherify.models import JobState

pytestmark = pytest.mark.django_db(transaction=True)


def stored_files(media) -> list[str]:
    return sorted(str(p.relative_to(media)) for p in media.rglob("*") if p.is_file())


def test_a_poll_after_a_crash_past_the_download_keeps_one_file(sandbox, media, monkeypatch):
    count_lines = exports._count_lines
    crashed = []

    def crash_once(job):  # the worker dies once the file is stored, before the part is done
        if not crashed:
            crashed.append(job.result_file.name)
            raise RuntimeError("worker lost")
        return count_lines(job)

    download = exports._client().exports.download
    downloads = []

    def counted(export_id, token, into):
        downloads.append(export_id)
        return download(export_id, token, into=into)

    monkeypatch.setattr(exports, "_count_lines", crash_once)
    monkeypatch.setattr(exports._client().exports, "download", counted)
    job = jobs.export_orders()
    with pytest.raises(RuntimeError):
        runner.drive(job, timeout=20)
    assert crashed and stored_files(media) == [crashed[0]]

    job = runner.drive(job, timeout=20)  # the message is delivered again / the sweep resumes it
    assert job.state == JobState.DONE, job.error
    assert stored_files(media) == [job.result_file.name] == crashed
    assert downloads == [job.async_action_id]  # the stored file was used, not fetched again


def test_two_polls_downloading_at_once_leave_one_file(sandbox, media, monkeypatch):
    download = exports._client().exports.download
    rival: list[str] = []

    def slow_download(export_id, token, into):  # the sweep's poll runs during this one's download
        size = download(export_id, token, into=into)
        if not rival:
            rival.append("running")
            runner.drive(job, timeout=20)
        return size

    monkeypatch.setattr(exports._client().exports, "download", slow_download)
    job = jobs.export_orders()
    job = runner.drive(job, timeout=20)
    assert job.state == JobState.DONE, job.error
    assert stored_files(media) == [job.result_file.name]
