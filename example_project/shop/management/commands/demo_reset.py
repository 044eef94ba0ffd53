"""``manage.py demo_reset`` (``./scripts/demo --reset``): back to the demo's seeded state.

Deletes the shop's data (the SQLite file, or every table's rows on another database), the
sandbox's data file (the sandbox seeds itself again on its next start) and the broker's and
beat's folders (queued tasks, uploads, exports). Run it with the demo stopped; the next
``./scripts/demo`` starts as the first one did.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connections


class Command(BaseCommand):
    help = "Put the demo back to its seeded state (shop database, sandbox data, broker folders)."

    def handle(self, *args: Any, **options: Any) -> None:
        database = settings.DATABASES["default"]
        name = str(database.get("NAME") or "")
        if database["ENGINE"].endswith("sqlite3") and name and name != ":memory:":
            connections["default"].close()
            self._remove(Path(name))
        else:  # a server database: keep it (and its migrations), empty its tables
            call_command("flush", interactive=False, verbosity=0)
        self._remove(Path(settings.DEMO_SANDBOX_DATA))
        self._remove(Path(settings.VAR_DIR))
        self.stdout.write("demo: reset; the next ./scripts/demo starts from the seeded state.")

    def _remove(self, path: Path) -> None:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        else:
            return
        self.stdout.write(f"removed {path}")
