"""Bulk push of existing mirrors to Voucherify (resumable) and pull of Voucherify's lists.

:func:`push` sends customers through ``client.customers.bulk_update`` in requests whose JSON body
stays under ``BULK_CHUNK_BYTES`` (Voucherify refuses 10 MB), and orders through
``client.orders.import_json`` in chunks of at most 2000 (and under the same byte limit). Rows go
in primary-key order; after each accepted request the last pk sent is stored in a
:class:`~django_voucherify.models.SyncCheckpoint`, so an interrupted run resumes after it.
A 429 is waited out (``Retry-After``) and the same chunk re-sent; other errors stop the run.

:func:`pull` fills the mirrors from ``client.customers.iterate()`` / ``client.orders.iterate()``
without queueing anything back (bulk writes, signals muted). A mirror whose outbox entry is not
``synced`` holds a local change Voucherify has not received yet: it is left alone (counted in
``unsent``), so the later delivery sends that change instead of the pull erasing it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import conf
from ..api.batching import json_batches
from ..api.errors import RateLimitedError
from ..api.resources.orders import MAX_ORDERS_PER_IMPORT
from ..models import Customer, Order, OrderItem, OutboxEntry, OutboxState, SyncCheckpoint, SyncState
from ..validation import SHAPE_ERRORS, applied_problem, mirror_problem
from .mirrors import muted

logger = logging.getLogger("django_voucherify.sync")
#: How many unstorable objects a pull lists (all are counted).
SKIPPED_SAMPLE = 50

Progress = Callable[[int, int, int], None]  # (rows done, rows total, requests made)
#: Told of each accepted request: (pk sent after, last pk sent, rows, async action id or None).
#: ``django_voucherify.jobs.PushFollower`` follows those async actions to mark the mirrors.
OnAccepted = Callable[[int, int, int, str | None], None]
KINDS = ("customers", "orders")


@dataclass
class PushResult:
    total: int = 0
    sent: int = 0
    requests: int = 0
    resumed_from: int = 0
    async_action_ids: list[str] = field(default_factory=list)


def checkpoint_name(kind: str, since: datetime | None) -> str:
    return f"push:{kind}" + (f":since={since.isoformat()}" if since else "")


def _queryset(kind: str, after_pk: int, since: datetime | None) -> QuerySet[Any]:
    qs: QuerySet[Any]
    if kind == "customers":
        qs = Customer.objects.all()
    elif kind == "orders":
        qs = Order.objects.select_related("customer").prefetch_related("items")
    else:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    qs = qs.filter(pk__gt=after_pk).order_by("pk")
    return qs.filter(updated_at__gte=since) if since else qs


def chunks(
    rows: Iterable[tuple[int, dict[str, Any]]], max_bytes: int, max_items: int | None = None
) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """Group ``(pk, payload)`` into ``(last pk, payloads)`` whose JSON array body, as the client
    sends it, is at most ``max_bytes``."""
    return json_batches(rows, max_bytes, max_items)


def push(
    kind: str,
    *,
    since: datetime | None = None,
    restart: bool = False,
    chunk_bytes: int | None = None,
    progress: Progress | None = None,
    client: Any = None,
    max_429_waits: int = 5,
    on_accepted: OnAccepted | None = None,
) -> PushResult:
    """Push every ``kind`` mirror (optionally changed since ``since``); resumable, see module doc."""
    if client is None:
        from .. import client as shared_client

        client = shared_client
    max_bytes = int(chunk_bytes or conf.settings().bulk_chunk_bytes)
    checkpoint, _ = SyncCheckpoint.objects.get_or_create(name=checkpoint_name(kind, since))
    if restart or checkpoint.finished:
        checkpoint.last_pk, checkpoint.sent, checkpoint.finished = 0, 0, False
        checkpoint.save()
    result = PushResult(resumed_from=checkpoint.last_pk, sent=checkpoint.sent)
    qs = _queryset(kind, checkpoint.last_pk, since)
    result.total = checkpoint.sent + qs.count()
    send = client.customers.bulk_update if kind == "customers" else client.orders.import_json
    max_items = None if kind == "customers" else MAX_ORDERS_PER_IMPORT
    objects = qs.iterator(chunk_size=2000)
    try:
        _push_chunks(
            objects, checkpoint, result, send, max_bytes, max_items, progress, max_429_waits, on_accepted
        )
    finally:
        objects.close()  # type: ignore[attr-defined]  # release the server-side cursor now
    checkpoint.finished = True
    checkpoint.save(update_fields=["finished", "updated_at"])
    return result


def _push_chunks(
    objects: Iterator[Any],
    checkpoint: SyncCheckpoint,
    result: PushResult,
    send: Callable[[list[dict[str, Any]]], Any],
    max_bytes: int,
    max_items: int | None,
    progress: Progress | None,
    max_429_waits: int,
    on_accepted: OnAccepted | None = None,
) -> None:
    rows = ((obj.pk, obj.to_voucherify()) for obj in objects)
    if progress:
        progress(result.sent, result.total, 0)
    for last_pk, batch in chunks(rows, max_bytes, max_items):
        for wait in range(max_429_waits + 1):
            try:
                answer = send(batch)
                break
            except RateLimitedError as exc:
                if wait == max_429_waits:
                    raise
                result.requests += 1
                time.sleep(exc.retry_after or 1.0)
        result.requests += 1
        action_id = None
        if isinstance(answer, dict) and answer.get("async_action_id"):
            action_id = str(answer["async_action_id"])
            result.async_action_ids.append(action_id)
        if on_accepted:
            on_accepted(checkpoint.last_pk, last_pk, len(batch), action_id)
        result.sent += len(batch)
        checkpoint.last_pk, checkpoint.sent = last_pk, result.sent
        checkpoint.save(update_fields=["last_pk", "sent", "updated_at"])
        if progress:
            progress(result.sent, result.total, result.requests)


_CUSTOMER_FIELDS = [
    "voucherify_id",
    "name",
    "email",
    "phone",
    "description",
    "birthdate",
    "line_1",
    "line_2",
    "city",
    "state",
    "postal_code",
    "country",
    "metadata",
    "remote_payload",
    "sync_state",
    "synced_at",
    "updated_at",
]
_ORDER_FIELDS = [
    "voucherify_id",
    "status",
    "amount",
    "metadata",
    "remote_payload",
    "customer",
    "sync_state",
    "synced_at",
    "updated_at",
]


def _batches(items: Iterable[dict[str, Any]], size: int = 500) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def pull(kind: str, *, progress: Progress | None = None, client: Any = None) -> dict[str, Any]:
    """Create or update mirrors from Voucherify's list of ``kind``; returns counters.

    Objects without a ``source_id`` cannot be mirrored (it is the mirror's identity): skipped.
    Objects the database cannot hold (NUL anywhere, even deep in metadata; a value longer than
    its column: :func:`~django_voucherify.validation.mirror_problem`) are skipped and reported,
    never allowed to abort the pull: ``unstorable`` counts them, ``skipped_objects`` lists the
    first ones with the reason; an existing mirror of such an object is left as it was.
    Mirrors with local changes not yet delivered (outbox entry not ``synced``) are kept as they are
    and counted in ``unsent``; pull again once they are delivered.
    """
    if client is None:
        from .. import client as shared_client

        client = shared_client
    stats: dict[str, Any] = {
        "created": 0,
        "updated": 0,
        "skipped": 0,
        "unstorable": 0,
        "unsent": 0,
        "skipped_objects": [],
    }
    source = client.customers.iterate() if kind == "customers" else client.orders.iterate()
    done = 0
    for batch in _batches(source):
        with muted(), transaction.atomic():
            if kind == "customers":
                _pull_customers(batch, stats)
            else:
                _pull_orders(batch, stats)
        done += len(batch)
        if progress:
            progress(done, done, 0)
    return stats


def _existing_in_sync(
    model: type[Customer] | type[Order], wanted: dict[str, Any], stats: dict[str, Any]
) -> dict[str, Any]:
    """The mirrors among ``wanted`` that may be overwritten, locked; drops the others from ``wanted``.

    Rows are locked (mirror first, as a save and the sender do) before their outbox entries are
    read, so a save cannot slip in between the check and the overwrite.
    """
    locked = model.objects.select_for_update().filter(source_id__in=list(wanted))
    existing: dict[str, Any] = {m.source_id: m for m in locked}
    unsent = set(
        OutboxEntry.objects.filter(kind=model.sync_kind, object_pk__in=[str(m.pk) for m in existing.values()])
        .exclude(state=OutboxState.SYNCED)
        .values_list("object_pk", flat=True)
    )
    for source_id, mirror in list(existing.items()):
        if str(mirror.pk) in unsent:
            del existing[source_id], wanted[source_id]
            stats["unsent"] += 1
    return existing


def _skip_unstorable(stats: dict[str, Any], source_id: str, problem: str) -> None:
    stats["unstorable"] += 1
    if len(stats["skipped_objects"]) < SKIPPED_SAMPLE:
        stats["skipped_objects"].append({"source_id": ascii(source_id)[1:-1][:300], "reason": problem})
    logger.warning("Pull: skipped %a, which cannot be stored: %s", source_id[:300], problem)


def _wanted(
    model: type[Customer] | type[Order], batch: list[dict[str, Any]], stats: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """The batch's objects by source_id: those without one counted in ``skipped``, those whose
    source_id cannot even be looked up (NUL, too long) in ``unstorable``."""
    wanted: dict[str, dict[str, Any]] = {}
    for data in batch:
        if not isinstance(data, dict):
            _skip_unstorable(stats, "", _("Voucherify's answer is not a JSON object."))
            continue
        if not data.get("source_id"):
            stats["skipped"] += 1
            continue
        source_id = str(data["source_id"])
        if problem := mirror_problem(model(source_id=source_id)):
            _skip_unstorable(stats, source_id, problem)
        else:
            wanted[source_id] = data
    return wanted


def _pull_customers(batch: list[dict[str, Any]], stats: dict[str, Any]) -> None:
    now = timezone.now()
    wanted = _wanted(Customer, batch, stats)
    existing = _existing_in_sync(Customer, wanted, stats)
    new: list[Customer] = []
    updated: list[Customer] = []
    for source_id, data in wanted.items():
        obj = existing.get(source_id) or Customer(source_id=source_id)
        problem = applied_problem(obj, data)
        obj.sync_state, obj.synced_at, obj.updated_at = SyncState.SYNCED, now, now
        if problem:  # left as it was; reported
            _skip_unstorable(stats, source_id, problem)
            continue
        (new if obj.pk is None else updated).append(obj)
    Customer.objects.bulk_update(updated, _CUSTOMER_FIELDS)
    Customer.objects.bulk_create(new)
    stats["created"] += len(new)
    stats["updated"] += len(updated)


def _pull_orders(batch: list[dict[str, Any]], stats: dict[str, Any]) -> None:
    now = timezone.now()
    wanted = _wanted(Order, batch, stats)
    existing = _existing_in_sync(Order, wanted, stats)
    customer_ids = {_customer_id(o) for o in wanted.values()} - {""}
    customer_ids = {c for c in customer_ids if mirror_problem(Customer(voucherify_id=c)) is None}
    customers = {c.voucherify_id: c for c in Customer.objects.filter(voucherify_id__in=customer_ids)}
    new: list[Order] = []
    updated: list[Order] = []
    items: list[OrderItem] = []
    for source_id, data in wanted.items():
        obj = existing.get(source_id) or Order(source_id=source_id)
        problem = applied_problem(obj, data)
        obj.customer = customers.get(_customer_id(data))
        obj.sync_state, obj.synced_at, obj.updated_at = SyncState.SYNCED, now, now
        lines, lines_problem = _items(obj, data.get("items"))
        if problem := problem or lines_problem:
            _skip_unstorable(stats, source_id, problem)  # left as it was; reported
            continue
        (new if obj.pk is None else updated).append(obj)
        items.extend(lines)
    Order.objects.bulk_update(updated, _ORDER_FIELDS)
    Order.objects.bulk_create(new)
    OrderItem.objects.filter(order__in=[*updated, *new]).delete()
    OrderItem.objects.bulk_create(items)  # the new orders have their pk now (set by bulk_create)
    stats["created"] += len(new)
    stats["updated"] += len(updated)


def _customer_id(order: dict[str, Any]) -> str:
    ref = order.get("customer") or {}
    return str(order.get("customer_id") or (ref.get("id") if isinstance(ref, dict) else "") or "")


def _items(order: Order, raw_items: Any) -> tuple[list[OrderItem], str | None]:
    """The order's lines, or why they cannot be stored (a line that is not an object, a
    quantity that is not a positive number in range...)."""
    try:
        lines = [_item(order, raw) for raw in (raw_items or [])]
    except SHAPE_ERRORS as exc:
        return [], _("items: unexpected shape (%(error)s).") % {"error": f"{type(exc).__name__}: {exc}"[:300]}
    return lines, next(filter(None, map(mirror_problem, lines)), None)


def _item(order: Order, raw: dict[str, Any]) -> OrderItem:
    product: dict[str, Any] = raw["product"] if isinstance(raw.get("product"), dict) else {}
    sku: dict[str, Any] = raw["sku"] if isinstance(raw.get("sku"), dict) else {}
    is_sku = raw.get("related_object") == "sku"
    return OrderItem(
        order=order,
        sku_source_id=str((raw.get("source_id") if is_sku else sku.get("source_id")) or ""),
        product_source_id=str((product.get("source_id") if is_sku else raw.get("source_id")) or ""),
        quantity=int(raw.get("quantity") or 1),
        price=int(raw.get("price") or 0),
        amount=int(raw.get("amount") or 0),
    )
