"""``manage.py demo_setup``: what ./scripts/demo runs before starting the servers.

Migrates, creates the demo's admin (admin / admin) and, when the voucher mirrors are empty (a
first start, or after ``demo_reset``), fills them from Voucherify (the seeded sandbox) so the
voucher admin lists the seeded vouchers at once, and the campaign, promotion-tier and
validation-rule mirrors likewise. Later starts leave the mirrors to the worker
(beat's hourly refresh, webhooks): a start does not wait for a walk of every voucher.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from django_voucherify.models import Campaign, Voucher

ADMIN = ("admin", "admin@example.com", "admin")


class Command(BaseCommand):
    help = "Prepare the demo: migrate, create admin/admin, fill the voucher mirrors on a first start."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--no-pull", action="store_true", help="Do not fill empty voucher and campaign mirrors."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        user_model = get_user_model()
        if not user_model.objects.filter(username=ADMIN[0]).exists():
            user_model.objects.create_superuser(*ADMIN)
        if options["no_pull"]:
            return
        for kind, model in (("vouchers", Voucher), ("campaigns", Campaign)):
            if not model.objects.exists():
                self.stdout.write(f"demo: first start, loading the {kind} from Voucherify...")
                call_command("voucherify_pull", kind, "--no-progress", stdout=self.stdout, stderr=self.stderr)
