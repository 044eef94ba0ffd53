"""``manage.py voucherify_pull customers|orders|vouchers``: fill the mirrors from Voucherify's lists."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from ...sync.bulk import KINDS, pull
from ._progress import ProgressBar


class Command(BaseCommand):
    help = "Create or update the local customer, order or voucher mirrors from Voucherify (nothing pushed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=(*KINDS, "vouchers"))
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        bar = None if options["no_progress"] else ProgressBar(self.stderr, options["kind"])
        if options["kind"] == "vouchers":
            return self._pull_vouchers(bar)
        try:
            stats = pull(options["kind"], progress=bar)
        finally:
            if bar:
                bar.close()
        self.stdout.write(
            _("%(kind)s: %(created)d created, %(updated)d updated, %(skipped)d skipped (no source_id), "
              "%(unsent)d kept (local changes not sent to Voucherify yet)")
            % {"kind": options["kind"], **stats}
        )
        if stats["unsent"]:
            self.stdout.write(_("Run voucherify_redrive (or wait for the sync worker), then pull again "
                                "to refresh the kept ones."))

    def _pull_vouchers(self, bar: ProgressBar | None) -> None:
        """Vouchers: every page walked; mirrors of vouchers Voucherify no longer lists removed."""
        from ...vouchers.refresh import refresh_all

        try:
            stats = refresh_all(progress=bar)
        finally:
            if bar:
                bar.close()
        self.stdout.write(f"vouchers: {stats['created']} created, {stats['updated']} updated, "
                          f"{stats['removed']} removed")  # fmt: skip
        if stats["error"]:  # mirrors written, none removed: say why and fail the run (cron sees it)
            raise CommandError(_("The voucher list was not walked to its end (%(error)s); no mirror "
                                 "was removed.") % {"error": stats["error"]})
