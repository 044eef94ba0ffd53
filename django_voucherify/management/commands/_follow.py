"""Following a bulk job from a command: wait with a progress line, or run it here, then report.

Shared by ``voucherify_job`` and ``voucherify_sync`` so both wait, draw progress and set the
exit status (1 when the job or some rows failed, for cron) the same way.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ... import jobs
from ...models import Job


class FollowsJobs(BaseCommand):
    """A command that starts (or finds) a job and follows it to its end."""

    @staticmethod
    def add_follow_options(p: CommandParser) -> None:
        p.add_argument("--no-wait", action="store_true", help="queue the job and exit")
        p.add_argument("--here", action="store_true", help="run the steps in this process (no worker)")
        p.add_argument("--timeout", type=float, default=3600.0)
        p.add_argument("--no-progress", action="store_true")

    def start_and_follow(self, start: Callable[[], Job], o: dict[str, Any]) -> None:
        """Start the job with ``start`` and follow it as the options say, then report."""
        if o["here"] and not o["no_wait"]:
            with jobs.queueing_paused():  # this process runs the steps: nothing goes to Celery
                job = self._announce(start())
                job = self.follow(job, o)
        else:
            job = self._announce(start())
            if not o["no_wait"]:
                job = self.follow(job, o)
        self.report(job, o)

    def _announce(self, job: Job) -> Job:
        self.stdout.write(f"started {job} (job id {job.pk})")
        return job

    def follow(self, job: Job, o: dict[str, Any]) -> Job:
        show = None if o["no_progress"] else self._progress_line
        if o["here"]:
            return jobs.drive(job, timeout=o["timeout"], progress=show)
        deadline = time.monotonic() + o["timeout"]
        while not job.is_finished and time.monotonic() < deadline:
            time.sleep(1.0)  # a command, not a worker: waiting here is fine
            job.refresh_from_db()
            if show:
                show(job)
        return job

    def _progress_line(self, job: Job) -> None:
        width = 30
        filled = job.progress * width // 100
        line = (
            f"{job} [{'#' * filled}{'.' * (width - filled)}] {job.progress}% "
            f"{job.done_count} done, {job.failed_count} failed"
        )
        tty = self.stderr.isatty()
        self.stderr.write(("\r" + line) if tty else line, ending="" if tty else "\n")

    def report(self, job: Job, o: dict[str, Any]) -> None:
        if job.is_export:
            # An export has no input rows (total_rows is 0): its count is the rows in the file.
            self.stdout.write(f"\n{job}: {job.state}, {job.done_count} row(s) exported")
        else:
            counts = f"{job.done_count} done, {job.failed_count} failed of {job.total_rows} rows"
            self.stdout.write(f"\n{job}: {job.state}, {counts}")
        for row in (job.failed_rows or [])[:50]:
            ident = row.get("code") or row.get("source_id") or ""
            self.stdout.write(f"  row {row.get('row', '?')} {ident}: {row.get('reason', '')}")
        shown = min(50, len(job.failed_rows or []))
        if job.failed_count > shown:
            self.stdout.write(f"  ... {job.failed_count - shown} more in the admin (CSV download)")
        if job.result_file:
            self.stdout.write(f"result file: {job.result_file.name}")
            if o.get("output"):
                with job.result_file.open("rb") as src, open(o["output"], "wb") as dst:
                    shutil.copyfileobj(src, dst)
                self.stdout.write(f"copied to {o['output']}")
        if job.is_finished and (job.state == "failed" or job.failed_count):
            raise CommandError(job.error or f"{job.failed_count} row(s) failed")
        if not job.is_finished and not o["no_wait"]:
            raise CommandError(f"{job} not finished after {o['timeout']} s (still {job.state})")
