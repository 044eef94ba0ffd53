"""``manage.py voucherify_sync customers|orders``: push existing mirrors with the bulk endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from ...jobs import PushFollower
from ...sync.bulk import KINDS, push
from ._progress import ProgressBar


def parse_since(value: str) -> datetime:
    """An ISO date or datetime (naive values are in the current time zone)."""
    dt = parse_datetime(value)
    if dt is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"--since: not an ISO date or datetime: {value!r}")
        dt = datetime(day.year, day.month, day.day)
    return timezone.make_aware(dt) if timezone.is_naive(dt) else dt


class Command(BaseCommand):
    help = (
        "Push existing customers (bulk update, chunks under 10 MB) or orders (import, chunks of "
        "at most 2000) to Voucherify. Resumes after the last chunk accepted by an interrupted run."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=KINDS)
        parser.add_argument("--since", help="only rows changed since this ISO date/datetime")
        parser.add_argument("--restart", action="store_true", help="ignore the saved checkpoint")
        parser.add_argument("--chunk-bytes", type=int, help="override VOUCHERIFY['BULK_CHUNK_BYTES']")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        since = parse_since(options["since"]) if options["since"] else None
        bar = None if options["no_progress"] else ProgressBar(self.stderr, options["kind"])
        # Each accepted request's async action is followed by the jobs machinery (Celery), which
        # marks the pushed mirrors synced, or failed with Voucherify's reason, once it is DONE.
        follower = PushFollower(options["kind"], since)
        try:
            result = push(
                options["kind"],
                since=since,
                restart=options["restart"],
                chunk_bytes=options["chunk_bytes"],
                progress=bar,
                on_accepted=follower,
            )
        finally:
            job = follower.finish()
            if bar:
                bar.close()
        resumed = f" (resumed after pk {result.resumed_from})" if result.resumed_from else ""
        self.stdout.write(
            f"{result.sent} {options['kind']} pushed in {result.requests} request(s){resumed}; "
            f"async actions: {', '.join(result.async_action_ids) or '-'}; "
            f"followed by job #{job.pk} (manage.py voucherify_job status {job.pk})"
        )
