"""``manage.py voucherify_sync customers|orders``: push existing mirrors as a bulk job.

The push is a ``push_customers``/``push_orders`` job (:func:`django_voucherify.jobs.push_mirrors`),
followed like any ``voucherify_job``: the command waits for the workers (``--no-wait`` only
queues, ``--here`` runs the steps in this process) and exits 1 when rows failed. A push of the
same kind and ``--since`` still unfinished (an interrupted ``--here`` run, or workers still at
it) is followed instead of starting a second one, so re-running the command resumes it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from ... import jobs
from ...jobs.push import KINDS
from ...models import Job
from ._follow import FollowsJobs


def parse_since(value: str) -> datetime:
    """An ISO date or datetime (naive values are in the current time zone)."""
    dt = parse_datetime(value)
    if dt is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"--since: not an ISO date or datetime: {value!r}")
        dt = datetime(day.year, day.month, day.day)
    return timezone.make_aware(dt) if timezone.is_naive(dt) else dt


class Command(FollowsJobs):
    help = (
        "Push existing customers (bulk update, chunks under 10 MB) or orders (import, chunks of "
        "at most 2000) to Voucherify as a bulk job, and follow it. Re-running resumes an "
        "unfinished push of the same kind instead of starting another."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=tuple(KINDS))
        parser.add_argument("--since", help="only rows changed since this ISO date/datetime")
        parser.add_argument("--chunk-bytes", type=int, help="override VOUCHERIFY['BULK_CHUNK_BYTES']")
        self.add_follow_options(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        since = parse_since(options["since"]) if options["since"] else None

        def start() -> Job:
            unfinished = jobs.unfinished_push(options["kind"], since)
            if unfinished is not None:
                self.stdout.write(f"resuming {unfinished}, not finished yet")
                jobs.resume(unfinished)  # queues only what is lost; with --here, drive runs it
                return unfinished
            return jobs.push_mirrors(options["kind"], since=since, chunk_bytes=options["chunk_bytes"])

        self.start_and_follow(start, options)
