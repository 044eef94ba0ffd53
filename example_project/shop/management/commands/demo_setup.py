"""``manage.py demo_setup``: what ./scripts/demo runs before starting the servers.

Migrates, creates the demo's admin (admin / admin) and fills each mirror the admin lists that is
empty (a first start, or after ``demo_reset``): the vouchers, and the campaigns with their
promotion tiers and validation rules, from Voucherify (the seeded sandbox), recorded as refresh
runs like the admin's buttons (``voucherify_pull``); and the shop's products (created by a data
migration, which sends no signal to the mirror registry: mapped here, then sent by the worker).
Later starts leave the mirrors to the worker (beat's hourly refresh, webhooks): a start does not
wait for a walk of every voucher.

A pull that refuses (a refresh run of the same mirrors is already under way, e.g. one a killed
demo left "running") or whose walk stops short does not stop the start: the shop works without
these mirrors (checkout asks Voucherify), so the command says what happened and goes on, and
``./scripts/demo`` (``set -e``) with it. The next start with the mirrors still empty pulls again.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_voucherify.models import Campaign, Voucher
from django_voucherify.models import Product as ProductMirror
from django_voucherify.sync import registry

from ...models import Product

ADMIN = ("admin", "admin@example.com", "admin")


class Command(BaseCommand):
    help = "Prepare the demo: migrate, create admin/admin, fill the empty mirrors on a first start."

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
                self._pull(kind)
        if not ProductMirror.objects.exists():
            # The data migration's products: its saves send no signal to the registry. Mapped
            # here (the mirror and its outbox entry, as a save would), sent by the worker.
            for product in Product.objects.all():
                registry.refresh(product)

    def _pull(self, kind: str) -> None:
        """Fill the empty ``kind`` mirrors; a refused or incomplete pull is said, not raised."""
        self.stdout.write(f"demo: first start, loading the {kind} from Voucherify...")
        try:
            call_command("voucherify_pull", kind, "--no-progress", stdout=self.stdout, stderr=self.stderr)
        except CommandError as exc:
            self.stderr.write(
                f"demo: the {kind} were not loaded: {exc} The demo starts all the same (the shop "
                f"works without these mirrors); the next start loads them if they are still empty, "
                f'or press "Refresh from Voucherify" on the admin\'s {kind} page.'
            )
