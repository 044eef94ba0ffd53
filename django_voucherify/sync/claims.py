"""Claiming outbox entries for sending: one statement each, by id or a batch of due rows.

A claim turns a claimable row ``in_progress`` with ``lease_until = now + SYNC_LEASE_SECONDS`` and
a fresh ``lease_token``, and reads the version (BEFORE the object: the state sent is at least
that version). One ``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING``:
a row another sender is claiming or recording right now is passed over, never waited for, and
the statement commits on its own (no transaction to open, no second round trip).

Claimable: a ``pending`` row that is due (``ignore_schedule``: even before its ``due_at``), or an
``in_progress`` row whose sender's lease ran out. :func:`claim_due` (the batch) takes only due
``pending`` rows, in id order, through the partial index ``dv_outbox_pending``: its cost does
not grow with the synced history. Stuck ``in_progress`` rows are the sweep's (:func:`.outbox.redrive`).
On PostgreSQL the same statement also tells whether a short batch claim passed over a due row
another transaction held (:func:`claim_due_noting_held`): a drain then looks again shortly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connections, router
from django.utils import timezone

from .. import background
from ..models.outbox import OutboxEntry, OutboxState
from .outbox import lease


@dataclass(frozen=True)
class Claim:
    entry_id: int
    token: str
    version: int
    kind: str
    object_pk: str
    source_id: str
    remote_id: str
    action: str
    attempts: int
    lease_until: datetime


_RETURNING = "id, version, kind, object_pk, source_id, remote_id, action, attempts"
_NULLS = ", ".join(["NULL"] * len(_RETURNING.split(",")))  # a row of them: see _CLAIM_DUE_SKIP_LOCKED

_CLAIM_ONE = """
UPDATE {t} SET state = %s, lease_until = %s, lease_token = %s
WHERE id IN (
    SELECT id FROM {t}
    WHERE id = %s AND (
        (state = %s AND (%s OR due_at IS NULL OR due_at <= %s))
        OR (state = %s AND (lease_until IS NULL OR lease_until <= %s))
    )
    {lock}
)
RETURNING {returning}
"""

# SQLite (no row locks, writers serialized: nothing is passed over).
_CLAIM_DUE = """
UPDATE {t} SET state = %s, lease_until = %s, lease_token = %s
WHERE id IN (
    SELECT id FROM {t}
    WHERE state = %s AND (due_at IS NULL OR due_at <= %s)
    ORDER BY id
    LIMIT %s
)
RETURNING {returning}
"""

# PostgreSQL: the same claim (SKIP LOCKED), plus one row of NULLs and TRUE when the claim came
# back short although a due pending row was left: SKIP LOCKED passed it over, another
# transaction held it. Every part of one statement reads one snapshot, so a row committed after
# it does not count (its save asks for a drain itself); a row beyond LIMIT does not either.
_CLAIM_DUE_SKIP_LOCKED = """
WITH picked AS (
    SELECT id FROM {t}
    WHERE state = %s AND (due_at IS NULL OR due_at <= %s)
    ORDER BY id
    LIMIT %s
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE {t} SET state = %s, lease_until = %s, lease_token = %s
    WHERE id IN (SELECT id FROM picked)
    RETURNING {returning}
)
SELECT {returning}, FALSE FROM claimed
UNION ALL
SELECT {nulls}, TRUE
WHERE (SELECT count(*) FROM picked) < %s AND EXISTS (
    SELECT 1 FROM {t}
    WHERE state = %s AND (due_at IS NULL OR due_at <= %s) AND id NOT IN (SELECT id FROM picked)
)
"""


_CLAIM_BATCH = """
UPDATE {t} SET state = %s, lease_until = %s, lease_token = %s
WHERE id = ANY(ARRAY(
    SELECT id FROM {t}
    WHERE id = %s AND (
        (state = %s AND (%s OR due_at IS NULL OR due_at <= %s))
        OR (state = %s AND (lease_until IS NULL OR lease_until <= %s))
    )
    {lock}
) || ARRAY(
    SELECT id FROM {t}
    WHERE state = %s AND (due_at IS NULL OR due_at <= %s) AND id <> %s
    ORDER BY id
    LIMIT %s
    {lock}
))
RETURNING {returning}
"""
# (``id = ANY(ARRAY(...) || ARRAY(...))``, not ``id IN (...) OR id IN (...)``: PostgreSQL plans
# the OR of two subqueries as a sequential scan of the whole outbox. SQLite has no arrays: it
# gets the OR form, whose subqueries it runs on their indexes.)
_CLAIM_BATCH_SQLITE = (
    _CLAIM_BATCH.replace("id = ANY(ARRAY(", "id IN (")
    .replace(") || ARRAY(", ") OR id IN (")
    .replace("))\nRETURNING", ")\nRETURNING")
)


def claim_batch(entry_id: int, *, ignore_schedule: bool = False, limit: int = 1) -> list[Claim]:
    """One statement: entry ``entry_id`` if claimable (as :func:`claim`), and up to ``limit - 1``
    other due ``pending`` rows (as :func:`claim_due`), lowest id first: a delivery task's batch.
    A task whose own row is already sent (a batch took it) costs this one query when nothing
    else is due."""
    now = timezone.now()
    until = now + lease()
    token = background.new_token()
    params: list[Any] = [
        *(OutboxState.IN_PROGRESS, until, token),
        *(entry_id, OutboxState.PENDING, ignore_schedule, now, OutboxState.IN_PROGRESS, now),
        *(OutboxState.PENDING, now, entry_id, max(limit - 1, 0)),
    ]
    conn = connections[router.db_for_write(OutboxEntry)]
    sql = _CLAIM_BATCH if conn.vendor == "postgresql" else _CLAIM_BATCH_SQLITE
    return sorted(_run(sql, params, token, until), key=lambda c: c.entry_id)


def claim(entry_id: int, *, ignore_schedule: bool = False) -> Claim | None:
    """Claim entry ``entry_id`` if it is claimable (see the module docstring); else None."""
    now = timezone.now()
    until = now + lease()
    token = background.new_token()
    params = [
        OutboxState.IN_PROGRESS,
        until,
        token,
        entry_id,
        OutboxState.PENDING,
        ignore_schedule,
        now,
        OutboxState.IN_PROGRESS,
        now,
    ]
    claims = _run(_CLAIM_ONE, params, token, until)
    return claims[0] if claims else None


def claim_due(limit: int) -> list[Claim]:
    """Claim up to ``limit`` due ``pending`` rows, lowest id first, skipping locked ones."""
    return claim_due_noting_held(limit)[0]


def claim_due_noting_held(limit: int) -> tuple[list[Claim], bool]:
    """:func:`claim_due`, and whether it came back short while another transaction held a due
    ``pending`` row it passed over (a save updating it, which may still roll back; another
    sender's claim). A drain asks to look again for such a row (:func:`.batches.drain_due`).
    Always False on a full claim (the caller claims again) and on SQLite (no row locks)."""
    if limit <= 0:
        return [], False
    now = timezone.now()
    until = now + lease()
    token = background.new_token()  # one holder for the batch; each row is recorded on its own
    conn = connections[router.db_for_write(OutboxEntry)]
    if not conn.features.has_select_for_update_skip_locked:
        params: list[Any] = [OutboxState.IN_PROGRESS, until, token, OutboxState.PENDING, now, limit]
        return sorted(_run(_CLAIM_DUE, params, token, until), key=lambda c: c.entry_id), False
    params = [
        *(OutboxState.PENDING, now, limit, OutboxState.IN_PROGRESS, until, token),
        *(limit, OutboxState.PENDING, now),
    ]
    table = conn.ops.quote_name(OutboxEntry._meta.db_table)
    with conn.cursor() as cursor:
        cursor.execute(_CLAIM_DUE_SKIP_LOCKED.format(t=table, returning=_RETURNING, nulls=_NULLS), params)
        rows = cursor.fetchall()
    held = any(row[-1] for row in rows)
    claimed = _claims([row[:-1] for row in rows if not row[-1]], token, until)
    return sorted(claimed, key=lambda c: c.entry_id), held


def _run(sql: str, params: list[Any], token: str, until: datetime) -> list[Claim]:
    conn = connections[router.db_for_write(OutboxEntry)]
    table = conn.ops.quote_name(OutboxEntry._meta.db_table)
    with conn.cursor() as cursor:
        # SQLite (allowed by check E013) has no row locks: it serializes writers anyway.
        lock = "FOR UPDATE SKIP LOCKED" if conn.features.has_select_for_update_skip_locked else ""
        cursor.execute(sql.format(t=table, returning=_RETURNING, lock=lock), params)
        rows = cursor.fetchall()
    return _claims(rows, token, until)


def _claims(rows: list[Any], token: str, until: datetime) -> list[Claim]:
    return [
        Claim(int(pk), token, int(version), kind, obj_pk, source_id, remote_id, action, int(tries), until)
        for pk, version, kind, obj_pk, source_id, remote_id, action, tries in rows
    ]


_MARK_SENT = """
UPDATE {t} SET
    state = CASE WHEN version = %s THEN %s ELSE %s END,
    delivered_version = %s, delivered_at = %s, attempts = 0, lease_until = NULL, due_at = NULL,
    last_error = '', last_error_key = '', last_request_id = '',
    remote_id = COALESCE(%s, remote_id)
WHERE id = %s AND lease_token = %s
RETURNING state
"""


def mark_sent(claim: Claim, remote_id: str | None, now: datetime) -> str | None:
    """Record a successful send in one statement, only while ``claim``'s token still holds the
    row (``remote_id`` written; None: the row's kept): ``synced`` if its version is still the
    claimed one, else back to ``pending`` (a newer save arrived meanwhile). Returns the new
    state; None when the row is gone or another sender holds it. The caller holds the mirror's
    lock (the order a save takes the locks in)."""
    conn = connections[router.db_for_write(OutboxEntry)]
    params: list[Any] = [
        *(claim.version, OutboxState.SYNCED, OutboxState.PENDING, claim.version, now),
        *(remote_id, claim.entry_id, claim.token),
    ]
    with conn.cursor() as cursor:
        cursor.execute(_MARK_SENT.format(t=conn.ops.quote_name(OutboxEntry._meta.db_table)), params)
        row = cursor.fetchone()
    return None if row is None else str(row[0])
