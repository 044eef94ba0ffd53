"""Writing outbox rows, enqueueing their delivery after commit, and re-driving stuck work.

Contract:
- :func:`record_change` runs inside the caller's transaction and costs ONE query on PostgreSQL
  and SQLite (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``): the object's single row gets
  ``version + 1``, the latest action, and turns ``pending`` (unless a sender holds it, in which
  case that sender will see the new version and leave it pending). No HTTP, no broker call.
- :func:`record_changes` does the same for the rows of a bulk write (the mirrors' querysets):
  one such statement per :data:`ROWS_PER_INSERT` rows, and one delivery request after commit.
- The Celery task is enqueued by name (:mod:`django_voucherify.background`) from
  ``transaction.on_commit`` (:func:`request_delivery`: the row's own task, or with
  ``SYNC_DRAIN_CACHE`` one drain per burst, :mod:`.drain`); if the broker is unreachable the
  error is logged and swallowed: the row stays pending for :func:`redrive` (run by the periodic
  ``django_voucherify.sweep``).
- :func:`redrive` (the periodic sweep, a command) takes due pending rows, rows stuck past their lease,
  and failed rows whose last error was temporary; rows Voucherify rejected wait for an explicit
  re-sync.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Model, Q
from django.utils import timezone

from .. import background, conf
from ..array_updates import rows_from_arrays
from ..models.outbox import OutboxAction, OutboxEntry, OutboxState
from . import drain

logger = logging.getLogger("django_voucherify.sync")

_UPSERT_SQL = """
INSERT INTO {t} (kind, object_pk, source_id, remote_id, action, version, delivered_version, state,
                 attempts, due_at, lease_until, lease_token, last_error, last_error_key,
                 last_request_id, created_at, updated_at, delivered_at)
{values}
ON CONFLICT (kind, object_pk) DO UPDATE SET
    version = {t}.version + 1,
    source_id = EXCLUDED.source_id,
    remote_id = CASE WHEN EXCLUDED.remote_id <> '' THEN EXCLUDED.remote_id ELSE {t}.remote_id END,
    action = EXCLUDED.action,
    state = CASE WHEN {t}.state = 'in_progress' THEN {t}.state ELSE 'pending' END,
    attempts = CASE WHEN {t}.state = 'in_progress' THEN {t}.attempts ELSE 0 END,
    due_at = NULL,
    updated_at = EXCLUDED.updated_at
RETURNING id
"""
#: One row of ``VALUES``: kind, object_pk, source_id, remote_id, action; created_at, updated_at.
_ROW = "(%s, %s, %s, %s, %s, 1, 0, 'pending', 0, NULL, NULL, '', '', '', '', %s, %s, NULL)"
#: The rows of a bulk write on PostgreSQL: five arrays (``array_updates.rows_from_arrays``), not
#: a placeholder per value (psycopg parses a 3,500-placeholder statement in Python each time:
#: half the time of a bulk write).
_PG_ROWS = """
SELECT v.kind, v.object_pk, v.source_id, v.remote_id, v.action, 1, 0, 'pending', 0,
       NULL::timestamptz, NULL::timestamptz, '', '', '', '', %s::timestamptz, %s::timestamptz,
       NULL::timestamptz
FROM {rows}
"""
#: The columns of :data:`_PG_ROWS`' arrays, in the order of a row passed to :func:`_upsert_rows`.
_ARRAY_COLUMNS = ("kind", "object_pk", "source_id", "remote_id", "action")

#: Rows per ``INSERT`` of a bulk write (SQLite: 7 parameters each, under its 32,766).
ROWS_PER_INSERT = 500


def record_change(instance: Model, action: str = OutboxAction.UPSERT) -> int | None:
    """Queue ``instance``'s current state (or its deletion) for Voucherify; returns the row id.

    Call inside the transaction that changed ``instance``. Does nothing (returns None) when
    ``SYNC_ENABLED`` is false.
    """
    if not conf.option("SYNC_ENABLED"):
        return None
    kind = str(getattr(instance, "sync_kind", "")) or instance._meta.model_name or ""
    db = router.db_for_write(OutboxEntry, instance=instance)
    entry_id = _upsert(
        db,
        kind=kind,
        object_pk=str(instance.pk),
        source_id=str(getattr(instance, "source_id", "") or ""),
        remote_id=str(getattr(instance, "voucherify_id", "") or ""),
        action=str(action),
    )
    _enqueue_on_commit(db, entry_id)
    return entry_id


_CALLBACKS_ATTR = "_voucherify_enqueue_callbacks"


def _enqueue_on_commit(db: str, entry_id: int) -> None:
    """Enqueue ``entry_id`` once when the current transaction commits, however often it changed.

    A callback already registered for this entry in the open transaction is reused, but only if
    it is still in Django's list of pending callbacks (Django drops those of rolled-back blocks).
    That list (``connection.run_on_commit``, items ``(savepoint ids, func, robust)``) is a Django
    internal: if it does not look as expected, every save simply registers its own callback
    (several enqueues of one entry are harmless: the extra tasks find nothing to send). The
    memo is emptied whenever no callback is pending, so it never outgrows one transaction.
    """
    conn = connections[db]
    pending = getattr(conn, "run_on_commit", None)
    if not isinstance(pending, list) or not conn.in_atomic_block:
        transaction.on_commit(lambda: request_delivery(entry_id), using=db)
        return
    scheduled: dict[int, Any] = conn.__dict__.setdefault(_CALLBACKS_ATTR, {})
    if not pending:
        scheduled.clear()  # left over from a committed or rolled-back transaction
    callback = scheduled.get(entry_id)
    if callback is not None and _is_pending(pending, callback):
        return

    def send_after_commit() -> None:
        scheduled.pop(entry_id, None)
        request_delivery(entry_id)

    scheduled[entry_id] = send_after_commit
    transaction.on_commit(send_after_commit, using=db)


def _is_pending(pending: list[Any], callback: Any) -> bool:
    try:
        return any(item[1] is callback for item in pending)
    except (TypeError, IndexError, KeyError):
        return False  # not the layout we know: register again rather than risk losing the enqueue


def _upsert(db: str, **values: str) -> int:
    """One ``INSERT ... ON CONFLICT`` (PostgreSQL and SQLite, the backends system check
    ``voucherify.E013`` allows: another one is refused at start-up, never half-supported)."""
    row = (values["kind"], values["object_pk"], values["source_id"], values["remote_id"], values["action"])
    return _upsert_rows(db, [row])[0]


def _upsert_rows(db: str, rows: list[tuple[str, str, str, str, str]]) -> list[int]:
    """:func:`_upsert` of several objects in ONE statement (at most one row per object: a
    statement may not change a row twice); the ids of their rows."""
    now = timezone.now()
    conn = connections[db]
    table = conn.ops.quote_name(OutboxEntry._meta.db_table)
    if len(rows) > 1 and conn.vendor == "postgresql":
        columns = zip(*rows, strict=True)
        unnest, arrays = rows_from_arrays(
            [(n, "text", c) for n, c in zip(_ARRAY_COLUMNS, columns, strict=True)]
        )
        sql = _UPSERT_SQL.format(t=table, values=_PG_ROWS.format(rows=unnest))
        params: list[Any] = [now, now, *arrays]
    else:
        sql = _UPSERT_SQL.format(t=table, values="VALUES " + ", ".join([_ROW] * len(rows)))
        params = [value for row in rows for value in (*row, now, now)]
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        return [int(found[0]) for found in cursor.fetchall()]


def record_changes(
    model: type[Model],
    chunks: Iterable[list[tuple[Any, ...]]],
    db: str,
    action: str = OutboxAction.UPSERT,
) -> int:
    """Queue the objects a bulk write changed, as :func:`record_change` queues one: ``chunks``
    are lists of ``(pk, source_id, voucherify_id)`` of ``model`` objects written on ``db`` (the
    mirrors' querysets, in the write's transaction), each object once. One ``INSERT ... ON
    CONFLICT`` per :data:`ROWS_PER_INSERT` objects, each object's row the same as a save's
    (``version + 1``, pending unless a sender holds it); after commit, one
    :func:`request_deliveries` for all the bulk writes of the transaction
    (:func:`_deliveries_after_commit`). Memory: one chunk, and one id per
    ``SYNC_BATCH_SIZE`` rows. Returns how many rows were queued (none when ``SYNC_ENABLED`` is
    false: ``chunks`` is not read)."""
    if not conf.option("SYNC_ENABLED"):
        return 0
    kind = str(getattr(model, "sync_kind", "")) or model._meta.model_name or ""
    step = max(conf.settings().sync_batch_size, 1)
    with transaction.atomic(using=db, savepoint=False):  # the caller's (or its own: after commit)
        return _record_changes(kind, chunks, db, str(action), step)


def _record_changes(
    kind: str, chunks: Iterable[list[tuple[Any, ...]]], db: str, action: str, step: int
) -> int:
    deliveries = _deliveries_after_commit(db)
    first_of_each_batch, count = deliveries.first_ids, 0
    for chunk in chunks:
        # In one order, whoever writes them: two bulk writes lock shared rows the same way round.
        latest = sorted(
            {str(pk): (str(source or ""), str(remote or "")) for pk, source, remote in chunk}.items()
        )
        values = [(kind, pk, source_id, remote, action) for pk, (source_id, remote) in latest]
        for start in range(0, len(values), ROWS_PER_INSERT):
            ids = sorted(_upsert_rows(db, values[start : start + ROWS_PER_INSERT]))
            # The first row of every SYNC_BATCH_SIZE (its task's batch claims the next due ones).
            first_of_each_batch += ids[(-deliveries.rows) % step :: step]
            deliveries.rows += len(ids)
            count += len(ids)
    return count


class _Deliveries:
    """The delivery request of the bulk writes of one transaction (:func:`_deliveries_after_commit`)."""

    def __init__(self) -> None:
        self.first_ids: list[int] = []
        self.rows = 0

    def __call__(self) -> None:
        if self.first_ids:
            request_deliveries(self.first_ids)


_DELIVERIES_ATTR = "_voucherify_bulk_deliveries"


def _deliveries_after_commit(db: str) -> _Deliveries:
    """The one :func:`request_deliveries` the bulk writes of the open transaction share, run after
    its commit. An ``update()`` sends its rows a chunk at a time (each a :func:`record_changes`):
    one request per chunk cost, with the broker down, one broker timeout per 2,000 rows after the
    commit, and with the drain cache down one warning each. Shared only by writes at the same
    savepoint depth (a savepoint rolled back drops its callback, and only its own writes' rows
    with it); checked on Django's list of pending callbacks, as :func:`_enqueue_on_commit` does."""
    conn = connections[db]
    pending = getattr(conn, "run_on_commit", None)
    if isinstance(pending, list) and conn.in_atomic_block:
        known = conn.__dict__.get(_DELIVERIES_ATTR)
        here = set(getattr(conn, "savepoint_ids", ()))
        try:
            if known is not None and any(item[1] is known and set(item[0]) == here for item in pending):
                return known  # type: ignore[no-any-return]
        except (TypeError, IndexError, KeyError):
            pass  # not the layout we know: a request of its own
    deliveries = _Deliveries()
    conn.__dict__[_DELIVERIES_ATTR] = deliveries
    transaction.on_commit(deliveries, using=db)
    return deliveries


def send_deletion_again(entry_id: int) -> bool:
    """Make a deletion that was already delivered send again, addressed by its ``source_id``:
    a bulk import applied after it (read before the deletion) put the object back in Voucherify,
    under a new Voucherify id, so the old one would only answer "not found". True when the row
    was turned ``pending`` (it is enqueued after commit)."""
    db = router.db_for_write(OutboxEntry)
    with transaction.atomic(using=db):
        entry = (
            OutboxEntry.objects.using(db)
            .select_for_update()
            .filter(pk=entry_id, action__in=(OutboxAction.DELETE, OutboxAction.ERASE))
            .first()
        )
        if entry is None:
            return False  # the object came back under this primary key: its upsert is queued
        entry.remote_id = ""
        fields = ["remote_id", "version"]
        entry.version += 1  # a holder of the row (in progress) resends instead of marking it synced
        pending = entry.state == OutboxState.SYNCED
        if pending:
            entry.state, entry.attempts, entry.due_at = OutboxState.PENDING, 0, None
            fields += ["state", "attempts", "due_at"]
        entry.save(update_fields=fields)
        if pending:
            _enqueue_on_commit(db, entry.pk)
    return pending


DELIVER_TASK = "django_voucherify.deliver_outbox_entry"


def request_delivery(entry_id: int) -> bool:
    """After the commit that made ``entry_id`` pending: a drain covers it (``SYNC_DRAIN_CACHE``,
    at most one message per burst), else its own task. False (logged) when the broker refused:
    the row stays pending for the sweep."""
    queued = drain.request()
    return enqueue(entry_id) if queued is None else queued


def request_deliveries(entry_ids: list[int]) -> None:
    """After the commit of a bulk write's rows: one drain (``SYNC_DRAIN_CACHE``), else a message
    for each of ``entry_ids`` (:func:`record_changes` names one per ``SYNC_BATCH_SIZE`` rows, as
    the sweep's messages: each task's batch claims the next due rows with its own), not one per
    row. When the broker refuses one, the rest is not tried (logged): the rows stay pending for
    the sweep."""
    if drain.request() is not None:
        return
    for entry_id in entry_ids:
        if not enqueue(entry_id):
            return


def enqueue(entry_id: int, *, retry: bool = False, countdown: float | None = None) -> bool:
    """Hand an entry to Celery now; False (logged, row left pending) when the broker refuses.

    ``countdown``: a retry after a failure (the row is due then; eager mode may run it early).
    """
    return background.send(
        DELIVER_TASK, (entry_id,), {"retry": retry}, countdown=countdown, may_run_early=True
    )


def resync(objects: Iterable[Model]) -> int:
    """Queue the current state of ``objects`` again (admin "re-sync" action); returns the count."""
    count = 0
    for obj in objects:
        with transaction.atomic(using=router.db_for_write(type(obj))):
            if record_change(obj) is not None:
                count += 1
    return count


#: Which failed entries a re-drive takes: none, only those whose last error was temporary
#: (no response, 429, 5xx, a local error), or all of them (an explicit re-sync by an operator).
FAILED_NONE, FAILED_RETRYABLE, FAILED_ALL = "none", "retryable", "all"


#: Rows a sweep reads at a time (keyset pages in id order): its memory stays flat whatever the
#: backlog. Before, it held every candidate at once: 158 MB of Python objects (tracemalloc peak)
#: for a backlog of 1M pending rows.
SWEEP_PAGE = 2000


def redrive_candidates(*, failed: str = FAILED_RETRYABLE) -> list[int]:
    """Ids of entries to send now: due pending, stale in-progress, and ``failed`` ones (see above)."""
    return [pk for pk, _state in _candidates(_condition(failed))]


def _condition(failed: str) -> Q:
    """The rows a re-drive takes, by state (see :func:`redrive`)."""
    now = timezone.now()
    due = Q(state=OutboxState.PENDING) & (Q(due_at__isnull=True) | Q(due_at__lte=now))
    stale = Q(state=OutboxState.IN_PROGRESS, lease_until__lt=now)
    cond = due | stale
    if failed == FAILED_ALL:
        cond |= Q(state=OutboxState.FAILED)
    elif failed == FAILED_RETRYABLE:
        cond |= _retryable_failed(now)
    elif failed != FAILED_NONE:
        raise ValueError(f"failed must be one of {FAILED_NONE!r}, {FAILED_RETRYABLE!r}, {FAILED_ALL!r}")
    return cond


def _retryable_failed(now: datetime) -> Q:
    # a temporary failure keeps the time it may be retried; a permanent one has none
    return Q(state=OutboxState.FAILED, due_at__lte=now)


def _candidates(cond: Q) -> Iterator[tuple[int, str]]:
    """``(id, state)`` of the rows matching ``cond``, in id order, read :data:`SWEEP_PAGE` at a
    time (``id > last``: the primary key walks a page, whatever the history behind it)."""
    last = 0
    while True:
        rows = OutboxEntry.objects.filter(cond, pk__gt=last).order_by("pk").values_list("pk", "state")
        page = list(rows[:SWEEP_PAGE])
        yield from page
        if len(page) < SWEEP_PAGE:
            return
        last = page[-1][0]


def _reset_failed(failed: str) -> None:
    """Make the failed rows a re-drive takes ``pending`` again, attempts reset: one statement by
    their condition (a row refused after it, by a sender that claimed it as pending, keeps waiting
    for an explicit re-sync). Before, by the ids read: an IN list of the whole failed backlog."""
    if failed == FAILED_NONE:
        return
    now = timezone.now()
    rows = OutboxEntry.objects.filter(
        _retryable_failed(now) if failed == FAILED_RETRYABLE else Q(state=OutboxState.FAILED)
    )
    rows.update(state=OutboxState.PENDING, attempts=0, due_at=None, updated_at=now)


def redrive(*, failed: str = FAILED_RETRYABLE, inline: bool = False) -> dict[str, int]:
    """Re-send everything pending (due), stuck past its lease, and failed per ``failed``.

    By default (the periodic task) a failed entry is taken again only if its last error was
    temporary; one Voucherify rejected (400...) waits for an explicit re-sync (``failed="all"``,
    ``voucherify_redrive --include-failed``, the admin actions). Failed entries taken get their
    attempts reset (they are ``pending`` again before the rows to send are read). ``inline``
    sends from this process instead of enqueueing.

    Messages scale with batches, not rows (:func:`_messages`): one per ``SYNC_BATCH_SIZE`` rows
    to claim as pending (each task's batch takes its own row and the next due ones), one per
    row stuck past its lease (a batch takes only pending rows besides its own). Rows a message
    run out of order leaves behind are due still: the next sweep takes them. When the broker
    refuses an enqueue, the rest is not tried (each try would wait for the broker's timeout):
    they stay pending and are counted in ``not_enqueued``. Memory holds one page of rows
    (:data:`SWEEP_PAGE`), whatever the backlog.
    Returns counters (of rows): ``found``, ``enqueued`` (handed to a message) or ``sent``,
    ``enqueue_failed``, ``not_enqueued``.
    """
    from .delivery import deliver

    cond = _condition(failed)  # validates ``failed`` before anything is written
    _reset_failed(failed)
    candidates = _candidates(cond)
    stats = {"found": 0, "enqueued": 0, "sent": 0, "enqueue_failed": 0, "not_enqueued": 0}
    if inline:
        for entry_id, _state in candidates:
            stats["found"] += 1
            if deliver(entry_id, ignore_schedule=True).status == "sent":
                stats["sent"] += 1
        return stats
    for entry_id, rows in _messages(candidates, conf.settings().sync_batch_size):
        stats["found"] += rows
        if stats["enqueue_failed"]:
            stats["not_enqueued"] += rows  # counted, not tried: the broker refused already
        elif enqueue(entry_id, retry=True):
            stats["enqueued"] += rows
        else:
            stats["enqueue_failed"] = 1
            stats["not_enqueued"] += rows
    return stats


def _messages(candidates: Iterable[tuple[int, str]], batch_size: int) -> Iterator[tuple[int, int]]:
    """The sweep's messages ``(entry id, rows it stands for)``, as the rows are read: each stuck
    ``in_progress`` row its own, and the first of every ``batch_size`` others (pending, or failed
    rows just reset to pending), whose task claims the next due pending rows with it. One
    message per due row (before) cost a backlog of 1M rows 1M messages per sweep, more than a
    minute of enqueueing."""
    step = max(batch_size, 1)
    first, rows = 0, 0
    for pk, state in candidates:
        if state == OutboxState.IN_PROGRESS:
            yield pk, 1
            continue
        first, rows = (pk, 1) if rows == 0 else (first, rows + 1)
        if rows == step:
            yield first, rows
            rows = 0
    if rows:
        yield first, rows


def lease() -> timedelta:
    return timedelta(seconds=conf.settings().sync_lease_seconds)
