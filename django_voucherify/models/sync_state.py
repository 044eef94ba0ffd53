"""The sync bookkeeping every mirror of a Voucherify object carries (abstract mixin).

Contract: these fields are written by :mod:`django_voucherify.sync.delivery` with
``QuerySet.update`` (no signals), never by shop code. ``sync_state`` turns ``pending`` as soon as
a local save is made (set in :meth:`SyncedMirror.save`, no extra query) and ``synced`` or
``failed`` once the outbox entry carrying that save was delivered or gave up.

Writes that send no ``post_save`` are queued too: the mirrors' default manager
(:class:`MirrorQuerySet`) turns ``update()``, ``bulk_create()`` and ``bulk_update()`` into the
rows they wrote, in the write's transaction, and sends :data:`mirrors_written` with them (the
sync layer's receiver writes their outbox rows: models import no service). An update of
:data:`BOOKKEEPING_FIELDS` only (what senders, pushes and pulls write) is not a shop change
and queues nothing; nor does any write inside :func:`muted`.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import Any, ClassVar, TypeVar

from django.core.exceptions import EmptyResultSet
from django.db import NotSupportedError, connections, models, router, transaction
from django.db.models import sql
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .background import LastVoucherifyError

#: Written only by the sync service (``QuerySet.update``), never by ``save()`` on an update.
SENDER_FIELDS = frozenset(
    {
        "voucherify_id",
        "synced_at",
        "last_error",
        "last_error_key",
        "last_request_id",
        "remote_payload",
        "created_at",
    }
)

#: What the app's own bookkeeping writes: an ``update()`` or ``bulk_update()`` of these alone
#: (a sender's record, a push's marking, an item's order turned pending) is no shop change and
#: queues nothing; any other column is one, as any ``save()`` is.
BOOKKEEPING_FIELDS = SENDER_FIELDS | {"sync_state", "updated_at"}

#: Sent by the mirrors' querysets inside the transaction of a write that sends no ``post_save``
#: (``update()``, ``bulk_create()``, ``bulk_update()``; an order item's, for its orders), with
#: ``rows``: a list of ``(pk, source_id, voucherify_id)`` of mirrors of ``sender`` written, and
#: ``using``. Sent once per :data:`FETCH_ROWS` rows of an ``update()`` (memory stays one chunk),
#: each time with a list every receiver may read: an iterator (before) was read by the first
#: receiver only, so a shop's receiver connected first left the rows unqueued.
#: ``django_voucherify.sync.receivers`` writes their outbox rows.
mirrors_written = Signal()

#: Primary keys per ``IN`` list when rows are written by id (SQLite's limit on parameters).
IDS_PER_STATEMENT = 1000
#: Rows of an ``UPDATE ... RETURNING`` turned into Python at a time (:func:`update_returning_chunks`).
FETCH_ROWS = 2000

_local = threading.local()


@contextmanager
def muted() -> Iterator[None]:
    """Write mirrors without queueing anything (data that came FROM Voucherify): saves,
    deletions and the querysets' bulk writes alike. Per thread."""
    previous = getattr(_local, "muted", False)
    _local.muted = True
    try:
        yield
    finally:
        _local.muted = previous


def is_muted() -> bool:
    """Whether this thread is inside :func:`muted`."""
    return bool(getattr(_local, "muted", False))


def update_returning(
    queryset: models.QuerySet[Any], values: dict[str, Any], columns: Sequence[str]
) -> list[tuple[Any, ...]]:
    """``queryset.update(**values)`` as ONE ``UPDATE ... RETURNING <columns>``: the rows this
    statement changed, exactly (:func:`update_returning_chunks`, read at once)."""
    return [row for chunk in update_returning_chunks(queryset, values, columns) for row in chunk]


def update_returning_chunks(
    queryset: models.QuerySet[Any], values: dict[str, Any], columns: Sequence[str]
) -> Iterator[list[tuple[Any, ...]]]:
    """``queryset.update(**values)`` as ONE ``UPDATE ... RETURNING <columns>``, its rows handed
    over :data:`FETCH_ROWS` at a time (the statement runs when the first is asked for).

    The rows are the rows this statement changed, exactly. A concurrent write cannot come
    between what is updated and what is read back: on PostgreSQL a row another transaction
    holds is waited for and its filter evaluated again on the committed row (as a plain
    ``update()``); SQLite runs one writer at a time. Both have ``RETURNING`` (SQLite since 3.35;
    system check ``voucherify.E013`` refuses other backends). Django's own update compiler
    builds the statement (filters across relations become its ``pk IN (subquery)``); the clause
    is appended. On PostgreSQL the rows are turned into Python a chunk at a time (the caller may
    run statements between chunks: psycopg has the whole result already), so a caller that lets
    each chunk go holds one chunk, not one tuple per row (49 MB for 100,000 rows, read at once);
    SQLite's are read at once (its cursor steps the statement lazily)."""
    query: sql.UpdateQuery = queryset.query.chain(sql.UpdateQuery)  # type: ignore[assignment]
    query.add_update_values(values)
    query.clear_select_clause()  # as QuerySet.update(): annotations are inlined already
    if query.get_related_updates():  # multi-table inheritance: no mirror is built that way
        raise NotSupportedError(f"{queryset.model.__name__}: an update of a parent model's field")
    conn = connections[queryset.db]
    try:
        text, params = query.get_compiler(queryset.db).as_sql()
    except EmptyResultSet:  # ``none()``, ``pk__in=[]``: no row, as Django's update() says
        return
    if not text:
        return
    text += " RETURNING " + ", ".join(conn.ops.quote_name(c) for c in columns)
    with transaction.mark_for_rollback_on_error(using=queryset.db), conn.cursor() as cursor:
        cursor.execute(text, params)
        if conn.vendor != "postgresql":
            rows = cursor.fetchall()
            for start in range(0, len(rows), FETCH_ROWS):
                yield [tuple(row) for row in rows[start : start + FETCH_ROWS]]
            return
        while chunk := cursor.fetchmany(FETCH_ROWS):
            yield [tuple(row) for row in chunk]


def refuse_unsupported_update(queryset: models.QuerySet[Any]) -> None:
    """The refusals of Django's ``QuerySet.update()``, for the querysets that run their own
    ``UPDATE ... RETURNING`` (:class:`MirrorQuerySet`, ``OrderItemQuerySet``), before anything is
    written. Without them, ``a.union(b).update()`` updated ``a``'s rows only (the combined query's
    first part) and ``distinct("field").update()`` every row, where Django refuses both."""
    queryset._not_support_combined_queries("update")  # type: ignore[attr-defined]
    if queryset.query.is_sliced:
        raise TypeError("Cannot update a query once a slice has been taken.")
    if queryset.query.distinct_fields:
        raise TypeError("Cannot call update() after .distinct(*fields).")


def lock_in_order(queryset: models.QuerySet[Any]) -> None:
    """``SELECT ... FOR UPDATE`` of the rows of ``queryset`` in primary key order (their ids
    only are read): two writers locking overlapping rows this way never wait crosswise."""
    for _chunk in (
        queryset.select_for_update().order_by("pk").values_list("pk", flat=True).iterator(FETCH_ROWS)
    ):
        pass


def in_slices(ids: Iterable[Any]) -> Iterator[list[Any]]:
    """``ids`` in lists of :data:`IDS_PER_STATEMENT`, sorted (rows locked in one order)."""
    it = iter(sorted(ids))
    while chunk := list(islice(it, IDS_PER_STATEMENT)):
        yield chunk


def mirror_columns(model: type[models.Model]) -> tuple[str, str, str]:
    """The columns :data:`mirrors_written` carries: primary key, ``source_id``, ``voucherify_id``."""
    return (pk_column(model), "source_id", "voucherify_id")


def pk_column(model: type[models.Model]) -> str:
    return str(model._meta.pk.column if model._meta.pk else "id")


def changes_data(model: type[models.Model], names: Iterable[str]) -> bool:
    """Whether a write of ``names`` changes what a save would queue (not bookkeeping only).
    ``update()`` and ``bulk_update()`` also take ``attname``s; a name that is no field raises
    ``FieldDoesNotExist`` here, as Django's ``update()`` does, before anything is written."""
    return bool({model._meta.get_field(name).name for name in names} - BOOKKEEPING_FIELDS)


_M = TypeVar("_M", bound="SyncedMirror")


class MirrorQuerySet(models.QuerySet[_M]):
    """The mirrors' default manager: writes that send no ``post_save`` queue what they wrote.

    - ``update(**fields)`` of a column that is not bookkeeping: ``sync_state`` turns pending and
      ``updated_at`` is stamped, as a save does, in one ``UPDATE ... RETURNING``; the rows it
      returns are the rows queued (:func:`update_returning`).
    - ``bulk_update(objs, fields)``: Django runs it as ``update()`` calls of this queryset (one
      per batch, in one transaction), so each row it updated is queued; a row deleted meanwhile
      is neither updated nor queued.
    - ``bulk_create(objs)``: each object created is queued; it needs the ids back (PostgreSQL,
      SQLite 3.35+) and refuses ``ignore_conflicts`` (which rows were made is unknown then).

    Queueing happens in the write's transaction (one is opened in autocommit): a rolled-back
    write queues nothing, a failed outbox write undoes the write. Inside :func:`muted`, and for
    bookkeeping updates, these are Django's plain methods. ``_base_manager`` (what Django uses
    for related objects, e.g. ``on_delete=SET_NULL``) stays plain too.
    """

    def update(self, **kwargs: Any) -> int:
        if is_muted() or not changes_data(self.model, kwargs):
            return super().update(**kwargs)
        refuse_unsupported_update(self)
        self._for_write = True
        db = self.db
        now = timezone.now()
        values = {**self.model.save_resets, **kwargs, "sync_state": SyncState.PENDING, "updated_at": now}
        count = 0
        with transaction.atomic(using=db, savepoint=False):
            for chunk in update_returning_chunks(self, values, mirror_columns(self.model)):
                count += len(chunk)
                mirrors_written.send(sender=self.model, rows=chunk, using=db)
        self._result_cache = None
        return count

    update.alters_data = True  # type: ignore[attr-defined]

    def bulk_update(self, objs: Iterable[_M], fields: Iterable[str], batch_size: int | None = None) -> int:
        objs, fields = tuple(objs), tuple(fields)
        if not is_muted() and changes_data(self.model, fields):
            for obj in objs:  # what the update() calls below write, as a save does
                obj.sync_state = SyncState.PENDING
                for field, value in self.model.save_resets.items():
                    if field not in fields:
                        setattr(obj, field, value)
        return super().bulk_update(objs, fields, batch_size=batch_size)

    bulk_update.alters_data = True  # type: ignore[attr-defined]

    def bulk_create(
        self,
        objs: Iterable[_M],
        batch_size: int | None = None,
        ignore_conflicts: bool = False,
        update_conflicts: bool = False,
        update_fields: Collection[str] | None = None,
        unique_fields: Collection[str] | None = None,
    ) -> list[_M]:
        if is_muted():
            return super().bulk_create(
                objs, batch_size, ignore_conflicts, update_conflicts, update_fields, unique_fields
            )
        name = self.model.__name__
        if ignore_conflicts:
            raise NotSupportedError(
                f"{name}.objects.bulk_create(ignore_conflicts=True) cannot tell which rows it made, "
                "so it cannot queue them: write inside sync.muted() and queue the rows with "
                "sync.resync(...), or use update_conflicts=True"
            )
        self._for_write = True
        db = self.db
        if not connections[db].features.can_return_rows_from_bulk_insert:
            raise NotSupportedError(
                f"{name}.objects.bulk_create() needs the new rows' ids to queue them, which this "
                "database does not return (SQLite before 3.35)"
            )
        objs = list(objs)
        for obj in objs:  # as a save does
            obj.sync_state = SyncState.PENDING
            for field, value in self.model.save_resets.items():
                setattr(obj, field, value)
        if update_conflicts and update_fields and changes_data(self.model, update_fields):
            # A row that existed is updated with ``update_fields`` only: without these it kept
            # ``synced`` (and a placeholder stayed one) though its values changed and it is queued.
            update_fields = [
                *update_fields,
                *{"sync_state", "updated_at", *self.model.save_resets} - set(update_fields),
            ]
        with transaction.atomic(using=db, savepoint=False):
            made = super().bulk_create(
                objs, batch_size, ignore_conflicts, update_conflicts, update_fields, unique_fields
            )
            rows = [(obj.pk, obj.source_id, obj.voucherify_id) for obj in made]  # type: ignore[attr-defined]
            if any(pk is None for pk, _s, _v in rows):
                raise NotSupportedError(f"{name}.objects.bulk_create() returned no id to queue")
            if rows:
                mirrors_written.send(sender=self.model, rows=rows, using=db)
        return made

    bulk_create.alters_data = True  # type: ignore[attr-defined]


def atomic_save(instance: models.Model, using: str | None = None) -> transaction.Atomic:
    """The transaction a mirror's save (or an order item's) runs in, so that its row and the
    outbox row its ``post_save`` receiver writes commit together. Django sends ``post_save``
    after the save's own statement: in autocommit (no transaction open) that statement had
    committed already, and an outbox write that failed then (a dropped connection, a timeout,
    the process killed) left a change no row would ever send. ``savepoint=False``: inside the
    caller's transaction it costs nothing (an error marks that transaction for rollback, as the
    save's own error handling does)."""
    db = using or router.db_for_write(type(instance), instance=instance)
    return transaction.atomic(using=db, savepoint=False)


class SyncState(models.TextChoices):
    PENDING = "pending", _("pending")
    SYNCED = "synced", _("synced")
    FAILED = "failed", _("failed")


class SyncedMirror(LastVoucherifyError):
    """Voucherify id, last sync time, state, last error (with ``request_id``) and raw payload."""

    voucherify_id = models.CharField(_("Voucherify id"), max_length=64, blank=True, db_index=True)
    sync_state = models.CharField(
        _("sync state"), max_length=16, choices=SyncState.choices, default=SyncState.PENDING
    )
    synced_at = models.DateTimeField(_("last synced"), null=True, blank=True)
    remote_payload = models.JSONField(_("last payload received"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True, db_index=True)

    #: Outbox name of this mirror ("customer" / "order"); set by concrete models.
    sync_kind: str = ""

    #: Columns every save of the shop's values sets (``Product``: no longer a placeholder); a
    #: queued ``update()``, ``bulk_update()`` or ``bulk_create()`` sets them too, unless it
    #: names them itself.
    save_resets: ClassVar[dict[str, Any]] = {}

    objects = MirrorQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save the shop's fields; the sync bookkeeping is left to the sync service.

        A local change is not in Voucherify yet, so ``sync_state`` turns pending in the same
        UPDATE (no extra query). On updates the other bookkeeping fields are never written, so a
        stale instance cannot wipe the Voucherify id or payload recorded by a sender meanwhile.
        """
        self.sync_state = SyncState.PENDING
        for name, value in self.save_resets.items():
            setattr(self, name, value)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "sync_state", "updated_at", *self.save_resets}
        elif not self._state.adding and not args and not kwargs.get("force_insert"):
            kwargs["update_fields"] = [
                f.attname
                for f in self._meta.concrete_fields
                if not f.primary_key and f.attname not in SENDER_FIELDS
            ]
        with atomic_save(self, kwargs.get("using")):
            super().save(*args, **kwargs)

    def to_voucherify(self) -> dict[str, Any]:
        """The JSON body sent to Voucherify for this object's current state."""
        raise NotImplementedError
