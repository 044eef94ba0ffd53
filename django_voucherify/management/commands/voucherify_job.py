"""``manage.py voucherify_job <subcommand>``: start a bulk job, follow it with a progress bar.

One command with subcommands (rather than voucherify_import/export/bulk_update) so every kind
shares the waiting, progress and exit-status behaviour that cron needs::

    voucherify_job import-vouchers codes.csv          # .csv, or .json (a list of vouchers)
    voucherify_job import-customers customers.csv
    voucherify_job import-orders orders.json
    voucherify_job update-vouchers updates.json       # [{"code": ..., "metadata": {...}}]
    voucherify_job update-vouchers-metadata codes.txt --metadata '{"batch": "spring"}'
    voucherify_job update-customers customers.json
    voucherify_job update-customers-metadata ids.txt --metadata '{"tier": "gold"}'
    voucherify_job export-orders [--parameters JSON] [--output orders.csv]
    voucherify_job export-voucher-transactions CODE [--parameters JSON] [--output FILE]
    voucherify_job status JOB_ID | wait JOB_ID | resume

By default the command waits for the Celery workers to finish the job (``--no-wait`` only
queues it; ``--here`` runs the steps in this process, without workers). The exit status is 1
when the job failed or some rows failed, so cron reports it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from ... import jobs
from ...models import Job
from ._follow import FollowsJobs

KINDS = (
    "import-vouchers",
    "import-customers",
    "import-orders",
    "update-vouchers",
    "update-vouchers-metadata",
    "update-customers",
    "update-customers-metadata",
    "export-orders",
    "export-voucher-transactions",
)


def _json_file(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as exc:
        raise CommandError(f"{path}: {exc}") from None


def _lines(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as f:
            return [line.strip() for line in f if line.strip()]
    except UnicodeDecodeError as exc:
        raise CommandError(
            f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8 and try again"
        ) from None


def _json_arg(value: str | None) -> dict[str, Any]:
    try:
        parsed = json.loads(value) if value else {}
    except ValueError as exc:
        raise CommandError(f"not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise CommandError("expected a JSON object")
    return parsed


class Command(FollowsJobs):
    help = "Start a Voucherify bulk job (import, bulk update, export) and follow it to the end."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        for kind in KINDS:
            p = sub.add_parser(kind)
            if kind == "export-voucher-transactions":
                p.add_argument("code")
            elif not kind.startswith("export"):
                p.add_argument("path")
            if kind.endswith("metadata"):
                p.add_argument("--metadata", required=True, help="JSON object set on every line's item")
            if kind.startswith("export"):
                p.add_argument("--parameters", help="export parameters as a JSON object")
                p.add_argument("--output", help="also copy the CSV to this path")
            self.add_follow_options(p)
        for name in ("status", "wait"):
            p = sub.add_parser(name)
            p.add_argument("job_id", type=int)
            self.add_follow_options(p)
        sub.add_parser("resume", help="queue again what unfinished jobs still need")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["subcommand"]
        if name == "resume":
            self.stdout.write(f"{jobs.resume()} step(s) queued")
            return
        if name in ("status", "wait"):
            job = Job.objects.filter(pk=options["job_id"]).first()
            if job is None:
                raise CommandError(f"no job {options['job_id']}")
            if name == "status":
                options["no_wait"] = True
            if not options["no_wait"]:
                job = self.follow(job, options)
            self.report(job, options)
            return
        self.start_and_follow(lambda: self._start(name, options), options)

    def _start(self, name: str, o: dict[str, Any]) -> Job:
        try:
            if name in ("import-vouchers", "import-customers"):
                path = o["path"]
                if name == "import-vouchers" and path.endswith(".json"):
                    return jobs.import_vouchers(_json_file(path))
                start = jobs.import_vouchers_csv if name == "import-vouchers" else jobs.import_customers_csv
                return start(path, name=Path(path).name)
            if name.endswith("metadata"):
                vouchers = "vouchers" in name
                update = jobs.update_vouchers_metadata if vouchers else jobs.update_customers_metadata
                return update(_lines(o["path"]), _json_arg(o["metadata"]))
            if name == "export-orders":
                return jobs.export_orders(_json_arg(o["parameters"]))
            if name == "export-voucher-transactions":
                return jobs.export_voucher_transactions(o["code"], _json_arg(o["parameters"]))
            starter = {
                "import-orders": jobs.import_orders,
                "update-vouchers": jobs.bulk_update_vouchers,
                "update-customers": jobs.bulk_update_customers,
            }[name]
            return starter(_json_file(o["path"]))
        except (jobs.CsvError, OSError, ValueError) as exc:
            raise CommandError(str(exc)) from None
