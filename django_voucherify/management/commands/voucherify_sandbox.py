"""``manage.py voucherify_sandbox``: run the local Voucherify sandbox (same options as
``python -m django_voucherify.sandbox``)."""

from __future__ import annotations

import signal
from argparse import ArgumentParser, Namespace
from typing import Any

from django.core.management.base import BaseCommand

from django_voucherify.sandbox.cli import add_arguments, serve, webhook_sender


class Command(BaseCommand):
    help = "Run an in-memory Voucherify sandbox over HTTP (see docs/sandbox.md)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        def _terminate(signum: int, frame: object) -> None:
            raise KeyboardInterrupt  # save --data on SIGTERM too

        signal.signal(signal.SIGTERM, _terminate)
        serve(
            host=options["host"],
            port=options["port"],
            app_id=options["app_id"],
            app_token=options["app_token"],
            data=options["data"],
            seed_data=options["seed"],
            job_delay=options["job_delay"],
            verbose=options["verbose"],
            out=self.stderr,  # type: ignore[arg-type]  # OutputWrapper writes like a TextIO
            webhooks=webhook_sender(Namespace(**options)),
        )
