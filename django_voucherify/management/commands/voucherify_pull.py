"""``manage.py voucherify_pull customers|orders|vouchers|campaigns``: fill the mirrors from
Voucherify's lists (``campaigns``: the campaign, promotion-tier and validation-rule mirrors)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from ...api.errors import VoucherifyError
from ...sync.bulk import KINDS, pull
from ._progress import ProgressBar


class Command(BaseCommand):
    help = "Create or update the local customer, order or voucher mirrors from Voucherify (nothing pushed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=(*KINDS, "vouchers", "campaigns"))
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        bar = None if options["no_progress"] else ProgressBar(self.stderr, options["kind"])
        if options["kind"] == "vouchers":
            return self._pull_vouchers(bar)
        if options["kind"] == "campaigns":
            return self._pull_campaigns(bar)
        try:
            stats = pull(options["kind"], progress=bar)
        except VoucherifyError as exc:  # no answer, a refusal, a page of another shape
            raise CommandError(
                _(
                    "The %(kind)s list was not walked to its end (%(error)s); "
                    "the mirrors read before were stored."
                )
                % {"kind": options["kind"], "error": exc}
            ) from exc
        finally:
            if bar:
                bar.close()
        self.stdout.write(
            _(
                "%(kind)s: %(created)d created, %(updated)d updated, %(skipped)d skipped (no source_id), "
                "%(unstorable)d skipped (cannot be stored), %(unsent)d kept (local changes not sent to "
                "Voucherify yet)"
            )
            % {"kind": options["kind"], **stats}
        )
        self._report_skipped(stats.get("skipped_objects") or [])
        if stats["deleted_since"]:
            self.stdout.write(
                _("%(count)d not made again: deleted since the copy listed (here, or in Voucherify)")
                % {"count": stats["deleted_since"]}
            )
        if stats["unsent"]:
            self.stdout.write(
                _(
                    "Run voucherify_redrive (or wait for the sync worker), then pull again "
                    "to refresh the kept ones."
                )
            )

    def _pull_vouchers(self, bar: ProgressBar | None) -> None:
        """Vouchers: every page walked; mirrors of vouchers Voucherify no longer lists removed.
        Recorded as a refresh run, like the admin's button: the voucher changelist then says
        when the vouchers were last refreshed (the demo's first start pulls them this way)."""
        from ...models import RefreshSubject

        self._recorded_pull(
            bar,
            RefreshSubject.VOUCHERS,
            already_running=_(
                "A voucher refresh is already under way (run #%(run)s); pull again when it ends."
            ),
            summary=_(
                "vouchers: %(created)d created, %(updated)d updated, %(removed)d removed, "
                "%(skipped)d skipped (cannot be stored)"
            ),
            incomplete=_("The voucher list was not walked to its end (%(error)s); no mirror was removed."),
        )

    def _pull_campaigns(self, bar: ProgressBar | None) -> None:
        """Campaigns, promotion tiers and validation rules, recorded as a refresh run like the
        campaign admin's button (one at a time; the demo's first start pulls them this way)."""
        from ...models import RefreshSubject

        self._recorded_pull(
            bar,
            RefreshSubject.CAMPAIGNS,
            already_running=_(
                "A campaign refresh is already under way (run #%(run)s); pull again when it ends."
            ),
            summary=_(
                "campaigns: %(created)d created, %(updated)d updated, %(removed)d removed, "
                "%(skipped)d skipped; %(tiers)d promotion tiers, %(rules)d validation rules"
            ),
            incomplete=_("The campaigns were not walked to their end (%(error)s); no mirror was removed."),
        )

    def _recorded_pull(
        self,
        bar: ProgressBar | None,
        subject: str,
        *,
        already_running: str,
        summary: str,
        incomplete: str,
    ) -> None:
        """Walk ``subject`` as a recorded refresh run and write ``summary`` (formatted with the
        run's stats), then one line per skipped object the walk lists. Another run of
        the subject under way (one walk at a time, like the admin's button) fails the command
        with ``already_running`` (``%(run)s``: its number); so does a walk that stopped short
        (``incomplete``, ``%(error)s``: why), after the summary: the mirrors read were written,
        none removed, and cron sees the failure."""
        from ...vouchers.refresh_runs import RefreshAlreadyRunning
        from ...vouchers.refresh_runs import run as recorded_refresh

        try:
            stats = recorded_refresh(progress=bar, subject=subject)
        except RefreshAlreadyRunning as exc:
            raise CommandError(already_running % {"run": exc.run.pk}) from exc
        finally:
            if bar:
                bar.close()
        self.stdout.write(summary % stats)
        # The voucher walk lists a sample of what it skipped; the campaign walk logs them.
        self._report_skipped(stats.get("skipped_objects") or [])
        if stats["error"]:
            raise CommandError(incomplete % {"error": stats["error"]})

    def _report_skipped(self, skipped: list[dict[str, Any]]) -> None:
        """One line per skipped object (a sample): its identity and why it cannot be stored."""
        for item in skipped:
            ident = item.get("code") or item.get("source_id") or "?"
            self.stderr.write(_("skipped %(ident)s: %(reason)s") % {"ident": ident, "reason": item["reason"]})
