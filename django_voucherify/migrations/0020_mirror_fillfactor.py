"""The mirror tables (customers, orders) leave half of each page free (PostgreSQL only).

Why: a bulk push marks every mirror it sent ``synced`` (``jobs.push.mark_synced``, one
``UPDATE ... FROM unnest()`` per part), and every save turns its mirror ``pending``. With the
default fillfactor (100) a page has no room for a row's new version, so each update also wrote
an entry in each of the table's indexes (7 for customers) and the table and its indexes grew
with every push until vacuumed: 97 -> 373 MiB over four pushes of 100,000 customers. With 50,
the updates are HOT (the new version on the same page, no index entry): 100 % of them in
``bench/sync_bulk_push.py``, and the table stays at its size (143 MiB). The price: a fresh table
takes about 1.5x the space with its indexes (measured: 143 vs 97 MiB). See docs/production.md.

Only new writes follow the setting; rows already stored move to roomier pages as they are
updated (or at once with ``VACUUM FULL``/``pg_repack``, see docs/production.md).
"""

from typing import Any

from django.db import migrations

FILLFACTOR = 50
TABLES = ("customer", "order")


def _alter(apps: Any, schema_editor: Any, value: int | None) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite has no fillfactor
    for model_name in TABLES:
        table = schema_editor.quote_name(apps.get_model("django_voucherify", model_name)._meta.db_table)
        if value is None:
            schema_editor.execute(f"ALTER TABLE {table} RESET (fillfactor)")
        else:
            schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = {int(value)})")


def forwards(apps: Any, schema_editor: Any) -> None:
    _alter(apps, schema_editor, FILLFACTOR)


def backwards(apps: Any, schema_editor: Any) -> None:
    _alter(apps, schema_editor, None)


class Migration(migrations.Migration):
    dependencies = [
        ("django_voucherify", "0019_refresh_run_heartbeat"),
    ]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
