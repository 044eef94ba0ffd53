"""One ``UPDATE … FROM unnest(…)`` statement for many rows, each with its own values.

The outbox's record step (``sync.batch_updates``) and the bulk push's marking
(``jobs.push.mark_synced``) both write a batch of rows in one statement on PostgreSQL: the
per-row values travel as array parameters, joined back to the table by ``unnest``. A bulk
write's outbox rows are inserted the same way (``sync.outbox``, :func:`rows_from_arrays`). One
statement and one plan for any number of rows, where Django's ``bulk_update`` writes one
``CASE WHEN pk = … THEN …`` per row and field and ``IN`` lists need a statement per slice
(measured in bench/README.md). PostgreSQL only: the callers keep their portable fallback.

Plumbing under the services, like ``background``: it imports no layer of the app (an
import-linter contract in pyproject.toml).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

#: The alias of the table being updated, and of the joined arrays' row, in ``set_sql``/``where``.
TARGET, VALUES = "t", "v"


def update_from_arrays(
    connection: BaseDatabaseWrapper,
    table: str,
    *,
    set_sql: str,
    arrays: Sequence[tuple[str, str, Sequence[Any]]],
    where: str,
    set_params: Sequence[Any] = (),
    where_params: Sequence[Any] = (),
) -> int:
    """``UPDATE table AS t SET set_sql FROM unnest(arrays) AS v(names) WHERE where``; returns
    the number of rows updated.

    ``arrays`` are ``(name, element SQL type, values)``, all of one length: ``v.name`` is a
    row's value. ``set_sql`` and ``where`` refer to ``t.`` and ``v.`` and may hold ``%s``
    placeholders for ``set_params`` and ``where_params``. Only identifiers and SQL types are
    formatted in (the table quoted here, columns by the caller); every value is a parameter.
    """
    rows, row_params = rows_from_arrays(arrays)
    sql = (
        f"UPDATE {connection.ops.quote_name(table)} AS {TARGET} SET {set_sql} "  # noqa: S608
        f"FROM {rows} WHERE {where}"
    )
    params = [*set_params, *row_params, *where_params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def rows_from_arrays(arrays: Sequence[tuple[str, str, Sequence[Any]]]) -> tuple[str, list[Any]]:
    """``unnest(arrays) AS v(names)`` (a ``FROM`` item: one row per index, ``v.name`` its
    value) and its parameters: one array each, whatever the number of rows. ``arrays`` as
    :func:`update_from_arrays` takes them, all of one length."""
    lengths = {len(values) for _, _, values in arrays}
    if len(lengths) != 1:
        # unnest would pad the shorter arrays with NULLs: rows silently given wrong values.
        raise ValueError(f"arrays of one length are needed, got {sorted(lengths)}")
    names = ", ".join(name for name, _, _ in arrays)
    unnest = ", ".join(f"%s::{sql_type}[]" for _, sql_type, _ in arrays)
    return f"unnest({unnest}) AS {VALUES}({names})", [list(values) for _, _, values in arrays]
