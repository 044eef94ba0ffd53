"""``manage.py demo_reset`` (``./scripts/demo --reset``): back to the demo's seeded state.

Deletes the shop's SQLite file, the sandbox's data file (the sandbox seeds itself again on its
next start) and the demo's own entries under ``VAR_DIR`` (the broker's folder, uploads and
exports, beat's schedule), nothing else there: ``DEMO_VAR_DIR`` may name a folder that holds
other files. A server database (``DATABASE_URL``) is emptied only with ``--flush-database``:
the demo cannot tell its own database from a shop's, so it never empties one unasked. It is
refused while a demo runs on the same ``VAR_DIR`` (it takes the demo's lock,
``example_project/shop/demo_lock.py``); the next ``./scripts/demo`` starts as the first one did.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from ...demo_lock import LOCK_NAME, DemoRunning, exclusive

#: What the demo itself puts under VAR_DIR (see example_project/settings.py), by exact name: the
#: broker's folder, uploads and exports, and beat's schedule (a ``shelve``, whose ``dbm`` backend
#: may add one of these suffixes). A user's ``media.bak`` or ``broker.old`` is not the demo's.
DEMO_ENTRIES = frozenset(
    {"broker", "media", "celerybeat-schedule"}
    | {f"celerybeat-schedule{suffix}" for suffix in (".db", ".dat", ".dir", ".bak")}
)

#: The files SQLite keeps next to a database while it writes (rollback journal, WAL mode).
SQLITE_COMPANIONS = ("-journal", "-wal", "-shm")


class Command(BaseCommand):
    help = "Put the demo back to its seeded state (shop database, sandbox data, broker folders)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--flush-database",
            action="store_true",
            help="Also empty every table of a server database (DATABASE_URL).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        var_dir = Path(settings.VAR_DIR)
        if not var_dir.is_dir():  # no folder, no demo running on it (the script makes both)
            self._reset(options, var_dir, owned=False)
            return
        try:
            with exclusive(var_dir) as owned:
                self._reset(options, var_dir, owned=owned)
        except DemoRunning as exc:
            raise CommandError(f"demo_reset: refused, nothing was removed: {exc}") from None

    def _reset(self, options: dict[str, Any], var_dir: Path, *, owned: bool) -> None:
        database = settings.DATABASES["default"]
        name = str(database.get("NAME") or "")
        sqlite = database["ENGINE"].endswith("sqlite3")
        if not sqlite and not options["flush_database"]:
            raise CommandError(
                "demo_reset: the database is a server database (DATABASE_URL), not the demo's SQLite "
                "file; nothing was removed. Add --flush-database to empty all of its tables."
            )
        if sqlite and name and name != ":memory:":
            connections["default"].close()
            self._remove(Path(name))
            for companion in SQLITE_COMPANIONS:  # a leftover journal would be replayed into the new file
                self._remove(Path(name + companion))
        elif not sqlite:
            call_command("flush", interactive=False, verbosity=0)
        self._remove(Path(settings.DEMO_SANDBOX_DATA))
        if var_dir.is_dir():
            for entry in sorted(var_dir.iterdir()):
                if entry.name in DEMO_ENTRIES:
                    self._remove(entry)
            if owned:  # the lock taken for this reset goes (the script's own stays: it starts next)
                (var_dir / LOCK_NAME).unlink(missing_ok=True)
            if not any(var_dir.iterdir()):  # nothing else was there: the folder was the demo's
                var_dir.rmdir()
        self.stdout.write("demo: reset; the next ./scripts/demo starts from the seeded state.")

    def _remove(self, path: Path) -> None:
        """Delete ``path``; a symbolic link is unlinked, never followed (what it points to
        is not the demo's to delete, and ``rmtree`` refuses links anyway)."""
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)
        else:
            return
        self.stdout.write(f"removed {path}")
