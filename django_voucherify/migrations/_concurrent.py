"""An index on the outbox built without blocking the outbox's writes (migrations 0027, 0030).

Why concurrently: a plain ``CREATE INDEX`` holds a SHARE lock on the table for the whole build,
so every outbox write (each save of a mirrored model enqueues one) waits for it: about a second
per million outbox rows. On PostgreSQL the operation runs ``CREATE INDEX CONCURRENTLY``, which
lets them through. It cannot run inside a transaction, hence ``atomic = False`` (each migration
using it has this one operation, so there is nothing else to leave half-applied).

Why the look first: a concurrent build that stops (the process killed, a ``lock_timeout`` while
it waits for older transactions, a cancel) leaves an INVALID index of that name behind, which
PostgreSQL keeps updating on every write and which makes the next ``CREATE INDEX`` fail with
"already exists". Running ``migrate`` again drops it (concurrently too) and builds it again; a
valid one (built, then the process stopped before the migration was recorded) is kept.

Other databases (SQLite) build a plain index, as ``AddIndex`` does. The model state is the same
as ``AddIndex``'s. (A module whose name starts with ``_``: Django's migration loader skips it.)
"""

from typing import Any

from django.db import NotSupportedError, migrations


def _index_is_valid(schema_editor: Any, model: Any, name: str) -> bool | None:
    """Whether index ``name`` on ``model``'s table is valid; None when there is none."""
    quote = schema_editor.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s) AND indrelid = to_regclass(%s)",
            [quote(name), quote(model._meta.db_table)],
        )
        row = cursor.fetchone()
    return None if row is None else bool(row[0])


class AddIndexWithoutBlockingWrites(migrations.AddIndex):
    """``AddIndex``, built with ``CONCURRENTLY`` on PostgreSQL (see the module's docstring).
    ``migration``: the number of the migration using it, named by the error raised inside a
    transaction."""

    atomic = False

    def __init__(self, model_name: str, index: Any, migration: str = "") -> None:
        super().__init__(model_name, index)
        self.migration = migration

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
            return
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        self._ensure_outside_transaction(schema_editor)
        # sqlmigrate collects the SQL without running it: no database state to look at.
        if not schema_editor.collect_sql:
            valid = _index_is_valid(schema_editor, model, self.index.name)
            if valid:
                return
            if valid is False:  # left by a concurrent build that stopped
                schema_editor.remove_index(model, self.index, concurrently=True)
        schema_editor.add_index(model, self.index, concurrently=True)

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
            return
        model = from_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        self._ensure_outside_transaction(schema_editor)
        schema_editor.remove_index(model, self.index, concurrently=True)

    def _ensure_outside_transaction(self, schema_editor: Any) -> None:
        # PostgreSQL's own error ("cannot run inside a transaction block") names no migration.
        if schema_editor.connection.in_atomic_block:
            raise NotSupportedError(
                f"Migration {self.migration} (django_voucherify) builds its index with CREATE INDEX CONCURRENTLY, "
                "which cannot run inside a transaction: run it with `manage.py migrate`, not inside "
                "transaction.atomic()."
            )
