"""The two writes of a batch's record step, one statement each on PostgreSQL.

Each row gets its own values (state, delivered version, Voucherify id, payload), so the batch
is written as one ``UPDATE`` joined to the rows' values sent as arrays (``unnest``, in
:mod:`django_voucherify.array_updates`): one statement for any number of rows.
Django's ``bulk_update`` writes the same with one ``CASE WHEN pk = … THEN …`` per row and field,
which cost more than the whole batch's HTTP calls (measured: 70 % of a batch's time for 50
rows). Other databases (SQLite, for development) get one ``UPDATE`` per row.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.db import connections, router
from django.db.models import Model

from ..array_updates import update_from_arrays
from ..models.outbox import OutboxEntry


def _quoted(model: type[Model], field: str) -> str:
    column = str(getattr(model._meta.get_field(field), "column", field))
    return str(connections[router.db_for_write(model)].ops.quote_name(column))


def record_rows(rows: list[tuple[int, str, int, str | None]], now: datetime) -> None:
    """Outbox rows sent: ``(id, state, delivered_version, remote_id)`` each (``remote_id``
    None: keep the row's; empty: clear it, a deletion that ended addressed by source id);
    attempts, lease, due time and last error cleared."""
    if not rows:
        return
    db = router.db_for_write(OutboxEntry)
    conn = connections[db]
    if conn.vendor != "postgresql":
        for pk, state, delivered, remote_id in rows:
            values: dict[str, Any] = {"state": state, "delivered_version": delivered}
            if remote_id is not None:
                values["remote_id"] = remote_id
            OutboxEntry.objects.using(db).filter(pk=pk).update(
                **values, delivered_at=now, attempts=0, lease_until=None, due_at=None,
                last_error="", last_error_key="", last_request_id="",
            )  # fmt: skip
        return
    pks, states, delivered_versions, remote_ids = (list(column) for column in zip(*rows, strict=True))
    update_from_arrays(
        conn,
        OutboxEntry._meta.db_table,
        set_sql=(
            "state = v.state, delivered_version = v.delivered, delivered_at = %s, attempts = 0, "
            "lease_until = NULL, due_at = NULL, last_error = '', last_error_key = '', "
            "last_request_id = '', "
            "remote_id = COALESCE(v.remote_id, t.remote_id)"
        ),
        set_params=[now],
        arrays=[
            ("id", "bigint", pks),
            ("state", "text", states),
            ("delivered", "bigint", delivered_versions),
            ("remote_id", "text", remote_ids),
        ],
        where="t.id = v.id",
    )


def record_mirrors(model: type[Model], rows: list[tuple[Any, str, Any, str]], now: datetime) -> None:
    """Mirrors of rows sent: ``(pk, sync_state, response or None, voucherify_id)`` each (None:
    keep ``remote_payload``; an empty id: keep ``voucherify_id``); ``synced_at`` now, the last
    error cleared."""
    if not rows:
        return
    db = router.db_for_write(model)
    conn = connections[db]
    if conn.vendor != "postgresql":
        for pk, state, response, voucherify_id in rows:
            values: dict[str, Any] = {"sync_state": state}
            if response is not None:
                values["remote_payload"] = response
            if voucherify_id:
                values["voucherify_id"] = voucherify_id
            model._default_manager.using(db).filter(pk=pk).update(
                **values, synced_at=now, last_error="", last_error_key="", last_request_id=""
            )
        return
    pk_type = model._meta.pk.db_type(conn)
    payload, vid = _quoted(model, "remote_payload"), _quoted(model, "voucherify_id")
    # Only identifiers are formatted in (quoted by the backend); every value is a parameter.
    update_from_arrays(
        conn,
        model._meta.db_table,
        set_sql=f"""
            {_quoted(model, "sync_state")} = v.state, {_quoted(model, "synced_at")} = %s,
            {_quoted(model, "last_error")} = '', {_quoted(model, "last_error_key")} = '',
            {_quoted(model, "last_request_id")} = '',
            {payload} = CASE WHEN v.payload IS NULL THEN t.{payload} ELSE v.payload::jsonb END,
            {vid} = CASE WHEN v.vid <> '' THEN v.vid ELSE t.{vid} END
        """,
        set_params=[now],
        arrays=[
            ("pk", str(pk_type), [row[0] for row in rows]),
            ("state", "text", [row[1] for row in rows]),
            ("payload", "text", [None if row[2] is None else json.dumps(row[2]) for row in rows]),
            ("vid", "text", [row[3] for row in rows]),
        ],
        where=f"t.{_quoted(model, model._meta.pk.name)} = v.pk",
    )
