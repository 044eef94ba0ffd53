"""One ``UPDATE … FROM unnest(…)`` statement for many rows, each with its own values.

The outbox's record step (``sync.batch_updates``) and the bulk push's marking
(``jobs.push.mark_synced``) both write a batch of rows in one statement on PostgreSQL: the
per-row values travel as array parameters, joined back to the table by ``unnest``. One
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
    lengths = {len(values) for _, _, values in arrays}
    if len(lengths) != 1:
        # unnest would pad the shorter arrays with NULLs: rows silently given wrong values.
        raise ValueError(f"update_from_arrays needs arrays of one length, got {sorted(lengths)}")
    names = ", ".join(name for name, _, _ in arrays)
    unnest = ", ".join(f"%s::{sql_type}[]" for _, sql_type, _ in arrays)
    sql = (
        f"UPDATE {connection.ops.quote_name(table)} AS {TARGET} SET {set_sql} "  # noqa: S608
        f"FROM unnest({unnest}) AS {VALUES}({names}) WHERE {where}"
    )
    params = [*set_params, *(list(values) for _, _, values in arrays), *where_params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)
