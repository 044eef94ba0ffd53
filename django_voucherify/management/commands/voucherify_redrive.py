"""``manage.py voucherify_redrive``: re-send every pending, stuck or failed outbox entry."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ...sync.outbox import redrive


class Command(BaseCommand):
    help = (
        "Re-drive the Voucherify sync outbox: entries pending and due, in progress past their "
        "lease, and failed ones (attempts reset). Enqueued to Celery, or sent from here with --now."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--now", action="store_true", help="send from this process, not via Celery")
        parser.add_argument("--skip-failed", action="store_true", help="leave failed entries alone")

    def handle(self, *args: Any, **options: Any) -> None:
        stats = redrive(include_failed=not options["skip_failed"], inline=options["now"])
        if options["now"]:
            self.stdout.write(f"{stats['found']} entries found, {stats['sent']} sent")
        else:
            self.stdout.write(
                f"{stats['found']} entries found, {stats['enqueued']} enqueued, "
                f"{stats['enqueue_failed']} could not be enqueued (broker down?)"
            )
        if stats["enqueue_failed"]:
            self.stderr.write("Some entries could not be enqueued; run again with --now or later.")
