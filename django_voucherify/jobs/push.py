"""Pushing the customer, order and product mirrors to Voucherify: an ordinary job of kind
``push_customers`` / ``push_orders`` / ``push_products``.

:func:`push_mirrors` builds the parts from the mirrors (all, or those changed since a time):
only the columns of the bodies are read, each row encoded once (:mod:`.push_rows`: keyset pages
in primary-key order, no cursor held open), grouped into bodies under ``BULK_CHUNK_BYTES``
(orders also at most 2000 per import) and written as parts as they fill (``JobPart.body``: the
bytes sent; ``payload``: their source ids), so memory holds one page and one part. Everything is
written in the transaction that creates the job: a crash while building leaves no job. The
runner then submits each part (customers and products: ``bulk_update``, orders: ``import_json``) and follows
its async action like any other job's part: never sent twice, an interrupted submit reconciled.

When a part ends, :func:`part_finished` marks its mirrors (``synced``, or ``failed`` with
Voucherify's reason) and sends again the rows whose own delivery the import may have
overwritten, and the rows whose metadata the import merged instead of replacing
(:func:`resend_merged_metadata`).

Metadata has one rule at both doors (docs/sync.md, "One metadata rule"): Voucherify ends with
exactly the mirror's metadata. The outbox's upserts replace it; Voucherify's bulk updates of
customers and products merge it key by key, so a key the mirror dropped would survive a push:
such rows are sent once more through the outbox after the part ends.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import islice
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from ..api.batching import MAX_ORDERS_PER_IMPORT, encoded_batches
from ..array_updates import update_from_arrays
from ..models import (
    Customer,
    Job,
    JobFailedRow,
    JobKind,
    JobPart,
    JobState,
    Order,
    PartState,
    Product,
    SyncState,
)
from ..models.jobs import FINAL_JOB_STATES
from .push_rows import EncodedRow, encoded_rows
from .service import Rejects, User, max_bytes, start_job

logger = logging.getLogger("django_voucherify.jobs")

PushModel = type[Customer] | type[Order] | type[Product]
#: The mirrors a push can send, by the name the command takes.
KINDS: dict[str, tuple[JobKind, PushModel]] = {
    "customers": (JobKind.PUSH_CUSTOMERS, Customer),
    "orders": (JobKind.PUSH_ORDERS, Order),
    # products: update-products-in-bulk (an upsert by source_id); SKUs are sent by the outbox
    "products": (JobKind.PUSH_PRODUCTS, Product),
}
PUSH_KINDS = frozenset(kind for kind, _model in KINDS.values())
#: Source ids per ``IN (...)`` when marking a part's rows (a part can hold tens of thousands).
IDS_PER_QUERY = 1000
#: The pushes whose bulk endpoint merges metadata instead of replacing it (orders' import
#: replaces, as their outbox upsert does).
MERGING_METADATA = frozenset({JobKind.PUSH_CUSTOMERS, JobKind.PUSH_PRODUCTS})


def push_mirrors(
    kind: str,
    *,
    since: datetime | None = None,
    chunk_bytes: int | None = None,
    started_by: User | None = None,
) -> Job:
    """Start a push of every ``kind`` mirror ("customers" or "orders"), or of those changed since
    ``since``; returns the job. The work is queued when the current transaction commits."""
    job_kind, model = _kind(kind)
    budget = int(chunk_bytes or max_bytes())
    max_items = MAX_ORDERS_PER_IMPORT if model is Order else None
    with transaction.atomic():
        job = Job.objects.create(
            kind=job_kind,
            state=JobState.PREPARING,
            started_by=started_by,
            params={"since": since.isoformat() if since else None},
        )
        rejects = Rejects(job)
        sent = 0
        rows = _fitting(model, encoded_rows(model, since), budget, rejects)
        for index, (source_ids, body) in enumerate(encoded_batches(rows, budget, max_items), start=1):
            part = JobPart.objects.create(
                job=job,
                index=index,
                payload=source_ids,
                body=body,
                first_row=sent + 1,
                row_count=len(source_ids),
                size_bytes=len(body),
            )
            # Let go of the part now, so memory holds one part, not every part so far: its body
            # (up to 9 MB) and source ids, and its FieldFile, which refers back to the part (a
            # cycle left to the garbage collector, whenever that runs: CI saw the building's peak
            # grow 1.5x from 500 to 4,000 rows while the collections came late).
            part.body = part.payload = part.file = None
            sent += len(source_ids)
        rejects.flush()
        start_job(job, parts_rows=sent, rejected=rejects.count, empty_is_done=True)
    return job


def unfinished_push(kind: str, since: datetime | None = None) -> Job | None:
    """The push of ``kind`` (same ``since``) still running, if any: pushing the same rows a
    second time while it runs would only send them twice."""
    job_kind, _model = _kind(kind)
    return (
        Job.objects.filter(kind=job_kind, params__since=since.isoformat() if since else None)
        .exclude(state__in=FINAL_JOB_STATES)
        .order_by("-created_at")
        .first()
    )


def _kind(kind: str) -> tuple[JobKind, PushModel]:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {tuple(KINDS)}, not {kind!r}")
    return KINDS[kind]


def _fitting(
    model: PushModel, rows: Iterable[EncodedRow], budget: int, rejects: Rejects
) -> Iterator[tuple[str, bytes]]:
    """``(source_id, body bytes)`` of each mirror whose body fits in a request; the others are
    failed rows of the job and their mirror ``failed`` (no request could ever carry them)."""
    for pk, source_id, raw in rows:
        if len(raw) + 2 <= budget:  # "[" + body + "]"
            yield source_id, raw
            continue
        reason = _("%(size)d bytes alone, over the %(limit)d byte limit of one request.") % {
            "size": len(raw),
            "limit": budget,
        }
        rejects({"source_id": source_id, "reason": reason})
        model.objects.filter(pk=pk).update(sync_state=SyncState.FAILED, last_error=reason)


def part_finished(part: JobPart, state: str) -> None:
    """After a push part's async action ended: mark its mirrors, send again what it may have
    overwritten. Other kinds: nothing."""
    if part.job.kind not in PUSH_KINDS:
        return
    if state == PartState.DONE:
        mark_pushed(part)
    resend_overwritten(part)  # a failed import may have applied some rows too
    resend_merged_metadata(part)


def mark_pushed(part: JobPart) -> int:
    """After a push part's async action is DONE: its rows are ``synced``, the failed ones
    ``failed`` with Voucherify's reason; returns how many are ``synced``.

    Rows saved after the push began reading (``updated_at`` later than the job's creation) are
    left as they are: the part may hold an older state, and their own outbox entry sends them.
    Residual race: ``updated_at`` is stamped before its transaction commits, so a save stamped
    just before the job began but committed after its row was read is marked ``synced`` with the
    older state sent; its outbox entry, delivered after the job began, is sent again by
    :func:`resend_overwritten`, which puts it right.
    """
    _job_kind, model = _kind_of(part)
    read_from = part.job.created_at
    now = timezone.now()
    sent = _source_ids(part)
    in_part = set(sent)
    # Refused rows are few; a failure naming a row the part did not carry changes nothing.
    failures = [
        r
        for r in JobFailedRow.objects.filter(part=part).exclude(source_id="").order_by("pk")
        if r.source_id in in_part
    ]
    refused = {r.source_id for r in failures}
    for row in failures:
        model.objects.filter(source_id=row.source_id, updated_at__lte=read_from).update(
            sync_state=SyncState.FAILED,
            last_error=row.reason[:2000],
            last_error_key=row.key[:100],
            last_request_id=part.async_action_id,
        )
    synced = [source_id for source_id in sent if source_id not in refused]
    return mark_synced(model, synced, read_from, now)


def mark_synced(model: PushModel, source_ids: list[str], read_from: datetime, now: datetime) -> int:
    """Mark the ``model`` mirrors of ``source_ids`` not saved since ``read_from`` ``synced``
    (at ``now``); returns how many. On PostgreSQL one statement joins the ids (an array
    parameter, ``unnest``): a part's tens of thousands of rows in one statement and one plan,
    where ``IN`` lists of :data:`IDS_PER_QUERY` ids cost ~1.5-2x as much (measured on 100,000
    customers, see bench/README.md). Elsewhere (SQLite): :func:`mark_synced_in_slices`."""
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        return mark_synced_in_slices(model, source_ids, read_from, now)
    if not source_ids:
        return 0
    # One statement per part (the mirrors' columns are their field names).
    return update_from_arrays(
        connection,
        model._meta.db_table,
        set_sql="sync_state = %s, synced_at = %s, last_error = '', last_error_key = '', last_request_id = ''",
        set_params=[SyncState.SYNCED.value, now],
        arrays=[("source_id", "text", source_ids)],
        where="t.source_id = v.source_id AND t.updated_at <= %s",
        where_params=[read_from],
    )


def mark_synced_in_slices(model: PushModel, source_ids: list[str], read_from: datetime, now: datetime) -> int:
    """:func:`mark_synced` for any database: one ``UPDATE ... WHERE source_id IN (...)`` per
    :data:`IDS_PER_QUERY` ids (SQLite's limit on parameters)."""
    ids = iter(source_ids)
    count = 0
    while chunk := list(islice(ids, IDS_PER_QUERY)):
        count += model.objects.filter(source_id__in=chunk, updated_at__lte=read_from).update(
            sync_state=SyncState.SYNCED, synced_at=now, last_error="", last_error_key="", last_request_id=""
        )
    return count


def entries_delivered_since(kind: str, since: datetime) -> QuerySet[Any]:
    """The outbox entries of ``kind`` delivered since ``since``, or being delivered now: two
    index lookups (``dv_outbox_kind_delivered``, ``dv_outbox_state_due``), never a scan of the
    history."""
    from ..models import OutboxEntry, OutboxState

    return OutboxEntry.objects.filter(kind=kind).filter(
        Q(delivered_at__gte=since) | Q(state=OutboxState.IN_PROGRESS)
    )


def resend_overwritten(part: JobPart) -> int:
    """After a push part's async action ended: send again, through the outbox, every row of the
    part whose own delivery may have been overwritten by it; returns how many.

    Voucherify applies a bulk import later than it accepts it, and a part is sent after it was
    read (parts are read when the job is created and go one after the other). A row saved after
    that read is delivered by its outbox entry at once, maybe BEFORE the import is applied,
    which then puts the older state back while the entry says ``synced``. So every entry of the
    part's rows delivered since the job began, or being delivered now, gets a new version
    (``record_change``): it is sent once more, after the import. A deletion delivered meanwhile
    is sent again too, by source id (the import brought the object back under a new id).
    """
    from ..models import OutboxAction
    from ..sync.outbox import record_change, send_deletion_again

    _job_kind, model = _kind_of(part)
    # The entries delivered since the job began (or in flight) are few next to a part's rows:
    # they are read once (one scan of this kind's entries), and matched to the part's source ids
    # here, rather than joining the outbox once per slice of the part's (tens of thousands) ids.
    recent = list(
        entries_delivered_since(model.sync_kind, part.job.created_at).values_list(
            "pk", "object_pk", "source_id", "action"
        )
    )
    in_part = set(_source_ids(part)) if recent else set()
    count = 0
    # A deletion delivered meanwhile was undone by the import (which read the object before it
    # was deleted and puts it back): it is sent again, by source id, after the import.
    for entry_id, _pk, source_id, action in recent:
        if action in (OutboxAction.DELETE, OutboxAction.ERASE) and source_id in in_part:
            count += send_deletion_again(entry_id)
    pks = iter([pk for _id, pk, _source_id, action in recent if action == OutboxAction.UPSERT])
    while chunk := list(islice(pks, IDS_PER_QUERY)):
        for obj in model.objects.filter(pk__in=chunk).order_by("pk"):
            if obj.source_id in in_part:
                with transaction.atomic():
                    count += record_change(obj) is not None
    if count:
        logger.info("Mirror push part %s: %s rows delivered meanwhile are sent again", part.pk, count)
    return count


def resend_merged_metadata(part: JobPart) -> int:
    """Send again, through the outbox (whose upsert replaces metadata), the rows of a customer
    or product part whose Voucherify copy may keep a metadata key the mirror no longer has: the
    bulk update merged the part's metadata into it. Returns how many.

    "May keep": the last copy Voucherify returned (``remote_payload``'s ``metadata``, read
    alone, a slice of :data:`IDS_PER_QUERY` rows per query) has a key the mirror lacks. Rows
    saved since the job began are left to their own outbox entry. Residual: keys Voucherify
    holds that this shop never saw (an object made outside the shop, never delivered nor
    pulled) survive a push until the object's next outbox delivery.
    """
    from ..sync.outbox import record_change

    job_kind, model = _kind_of(part)
    if job_kind not in MERGING_METADATA:
        return 0
    read_from = part.job.created_at
    ids = iter(_source_ids(part))
    stale: list[int] = []
    while chunk := list(islice(ids, IDS_PER_QUERY)):
        rows = model.objects.filter(source_id__in=chunk, updated_at__lte=read_from)
        for pk, metadata, remote in rows.values_list("pk", "metadata", "remote_payload__metadata"):
            if isinstance(remote, dict) and set(remote) - set(metadata or {}):
                stale.append(pk)
    count = 0
    for obj in model.objects.filter(pk__in=stale).order_by("pk"):
        with transaction.atomic():
            # Not synced until the outbox drops the keys (the marking above said synced).
            model.objects.filter(pk=obj.pk).update(sync_state=SyncState.PENDING)
            count += record_change(obj) is not None
    if count:
        logger.info("Mirror push part %s: %s rows sent again (metadata keys to drop)", part.pk, count)
    return count


def _source_ids(part: JobPart) -> list[str]:
    """The source ids a part carries, in its body's order: ``payload`` holds them (parts built
    before the body was kept as bytes held the bodies themselves there)."""
    entries = part.payload or []
    return [str(entry["source_id"]) if isinstance(entry, dict) else str(entry) for entry in entries]


def _kind_of(part: JobPart) -> tuple[JobKind, PushModel]:
    return next((k, m) for k, m in KINDS.values() if k == part.job.kind)
