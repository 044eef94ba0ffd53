"""``manage.py voucherify_redrive``: re-send every pending, stuck or failed outbox entry."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from ...sync.outbox import FAILED_ALL, FAILED_NONE, FAILED_RETRYABLE, redrive


class Command(BaseCommand):
    help = (
        "Re-drive the Voucherify sync outbox: entries pending and due, in progress past their "
        "lease, and failed ones whose last error was temporary (no response, 429, 5xx); with "
        "--include-failed also those Voucherify rejected (attempts reset). Enqueued to Celery, or "
        "sent from here with --now."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--now", action="store_true", help="send from this process, not via Celery")
        failed = parser.add_mutually_exclusive_group()
        failed.add_argument(
            "--include-failed",
            action="store_true",
            help="also re-send entries Voucherify rejected for good (400, 401...)",
        )
        failed.add_argument("--skip-failed", action="store_true", help="leave every failed entry alone")

    def handle(self, *args: Any, **options: Any) -> None:
        failed = FAILED_RETRYABLE
        if options["include_failed"]:
            failed = FAILED_ALL
        elif options["skip_failed"]:
            failed = FAILED_NONE
        stats = redrive(failed=failed, inline=options["now"])
        if options["now"]:
            self.stdout.write(_("%(found)d entries found, %(sent)d sent") % stats)
            return
        self.stdout.write(_("%(found)d entries found, %(enqueued)d enqueued") % stats)
        if stats["enqueue_failed"]:
            raise CommandError(
                _(
                    "The broker refused an enqueue (down?): %(not_enqueued)d entries not enqueued, they "
                    "stay pending. Run again later, or with --now."
                )
                % stats
            )
