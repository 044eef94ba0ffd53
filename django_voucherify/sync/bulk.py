"""Pull of Voucherify's lists into the mirrors.

:func:`pull` fills the mirrors from ``client.customers.iterate()`` / ``client.orders.iterate()``
without queueing anything back (bulk writes, signals muted). A mirror whose outbox entry is not
``synced`` holds a local change Voucherify has not received yet: it is left alone (counted in
``unsent``), so the later delivery sends that change instead of the pull erasing it.

The push the other way is a job: :func:`django_voucherify.jobs.push_mirrors`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..freshness import before_deletion, is_older, read_after
from ..models import (
    Customer,
    Order,
    OrderItem,
    OutboxEntry,
    OutboxState,
    SyncState,
    WebhookEvent,
    WebhookEventState,
)
from ..validation import SHAPE_ERRORS, applied_problem, mirror_problem
from .delivery import deletions_of
from .mirrors import muted

logger = logging.getLogger("django_voucherify.sync")
#: How many unstorable objects a pull lists (all are counted).
SKIPPED_SAMPLE = 50

Progress = Callable[[int, int, int], None]  # (rows done, rows total, requests made)
KINDS = ("customers", "orders")


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
    and counted in ``unsent``; pull again once they are delivered. Mirrors holding a newer copy
    than the one listed (a webhook event applied meanwhile) are kept and counted in ``older``.
    Objects the shop deleted are not made again (:func:`_drop_deleted_here`): counted in
    ``unsent`` while the deletion is not sent, in ``deleted_since`` when the copy is older than
    the deletion sent.
    """
    if client is None:
        from .. import client as shared_client

        client = shared_client
    stats = _new_stats()
    source = client.customers.iterate() if kind == "customers" else client.orders.iterate()
    done = 0
    for batch in _batches(source):
        _apply(kind, batch, stats)
        done += len(batch)
        if progress:
            progress(done, done, 0)
    return stats


def _new_stats() -> dict[str, Any]:
    return {
        "created": 0,
        "updated": 0,
        "skipped": 0,
        "unstorable": 0,
        "unsent": 0,
        "older": 0,
        "deleted_since": 0,
        "skipped_objects": [],
    }


def store_remote(kind: str, objects: list[dict[str, Any]]) -> dict[str, Any]:
    """Apply Voucherify's copies of some customers or orders (``kind``: ``"customers"`` or
    ``"orders"``) to their mirrors, by the rules of :func:`pull` (a mirror with local changes
    not delivered yet is kept; nothing is queued back to Voucherify); returns the counters.
    For webhook events: runs in the caller's transaction."""
    stats = _new_stats()
    _apply(kind, objects, stats)
    return stats


def _apply(kind: str, batch: list[dict[str, Any]], stats: dict[str, Any]) -> None:
    """Write one batch of Voucherify's copies in its own transaction (a savepoint inside the
    caller's), adding its counters to ``stats``.

    A mirror the shop creates while the batch is written (same ``source_id``, committed after
    the batch's rows were locked) makes its insert fail on the unique constraint: the batch is
    rolled back and written once more, which finds that mirror and keeps it (a local change
    not sent yet). Before, the error ended the whole pull, its later pages never read."""
    for last_try in (False, True):
        counted = _new_stats()
        try:
            with muted(), transaction.atomic():
                if kind == "customers":
                    _pull_customers(batch, counted)
                else:
                    _pull_orders(batch, counted)
        except IntegrityError:
            if last_try:
                raise
            continue
        for key, value in counted.items():
            stats[key] += value  # the counts and the list of skipped objects
        del stats["skipped_objects"][SKIPPED_SAMPLE:]
        return


def forget_remote(kind: str, source_id: str, *, deleted_at: datetime | None = None) -> str:
    """Delete the mirror of a customer or order deleted in Voucherify, without telling
    Voucherify (it knows); kept when it has local changes not delivered yet (they will create
    it again there), or when its copy was read after ``deleted_at`` (the deletion's time: the
    object was made again since). Returns ``"deleted"``, ``"unsent"``, ``"newer"`` or ``"absent"``."""
    model: type[Customer] | type[Order] = Customer if kind == "customers" else Order
    with muted(), transaction.atomic():
        existing = _existing_in_sync(model, {source_id: {}}, stats := _new_stats())
        if stats["unsent"]:
            return "unsent"
        mirror = existing.get(source_id)
        if mirror is None:
            return "absent"
        if read_after(mirror.remote_payload, deleted_at):
            return "newer"
        mirror.delete()
    return "deleted"


def _existing_in_sync(
    model: type[Customer] | type[Order],
    wanted: dict[str, Any],
    stats: dict[str, Any],
) -> dict[str, Any]:
    """The mirrors among ``wanted`` that may be overwritten, locked; drops the others from ``wanted``:
    those with local changes not delivered (``unsent``) and those holding a newer copy than the
    one wanted (``older``: :func:`~django_voucherify.freshness.is_older`).

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
        elif is_older(wanted[source_id], mirror.remote_payload):  # a late copy (webhook, pull)
            del existing[source_id], wanted[source_id]
            stats["older"] += 1
    return existing


def _drop_deleted_here(
    model: type[Customer] | type[Order],
    wanted: dict[str, Any],
    existing: dict[str, Any],
    stats: dict[str, Any],
) -> None:
    """Drop from ``wanted`` the objects without a mirror here that the shop deleted:

    - a deletion not sent yet (counted in ``unsent``): Voucherify still lists the object, but
      making its mirror again would leave, once the deletion is sent, a ``synced`` mirror of an
      object it no longer has;
    - a deletion sent, when the copy is from before it (counted in ``deleted_since``:
      :func:`~django_voucherify.freshness.before_deletion`, timed by the row's ``delivered_at``,
      and for customers also by the Voucherify id it deleted): a late webhook event or a page
      read before the deletion made the mirror again, until Voucherify's ``customer.deleted``
      came, and for ever when it did not; an order Voucherify keeps (it has no order deletion)
      was made again by every pull. A copy newer than the deletion (the customer made again in
      Voucherify, an order changed there since) is written.

    Called after :func:`_existing_in_sync` locked the mirrors: a deletion committed meanwhile has
    its outbox row written by then. One query per batch (index ``dv_outbox_deletions``)."""
    absent = [source_id for source_id in wanted if source_id not in existing]
    if not absent:
        return
    by_id = model is Customer  # Voucherify deletes customers for good; orders it keeps
    rows = deletions_of(model.sync_kind, absent).values_list(
        "source_id", "state", "delivered_at", "remote_id"
    )
    for source_id, state, delivered_at, remote_id in rows:
        if source_id not in wanted:
            continue  # dropped by another deletion of the same source id
        if state != OutboxState.SYNCED:
            stats["unsent"] += 1
        elif before_deletion(wanted[source_id], delivered_at, remote_id if by_id else ""):
            stats["deleted_since"] += 1
        else:
            continue
        del wanted[source_id]
    if by_id:
        _drop_deleted_in_voucherify(wanted, set(absent) & set(wanted), stats)


def _drop_deleted_in_voucherify(wanted: dict[str, Any], absent: set[str], stats: dict[str, Any]) -> None:
    """Drop from ``wanted`` the customers without a mirror here whose copy is older than a
    ``customer.deleted`` webhook event applied to them (counted in ``deleted_since``): a pull page
    read before a deletion made in Voucherify (its dashboard, another system), applied after
    the event, made the mirror again for good (no event would come to delete it). The event's
    subject names the customer by its source id, or by the Voucherify id when nothing resolved it
    (``webhooks.events.subjects_of``); both are looked up. One query per batch (index
    ``voucherify_webhook_subject``)."""
    if not absent:
        return
    keys: dict[str, str] = {}
    for source_id in absent:
        keys[f"customer:{source_id}"[:300]] = source_id
        ident = wanted[source_id].get("id")
        if isinstance(ident, str) and ident:
            keys[f"customer:{ident}"[:300]] = source_id
    deleted = WebhookEvent.objects.filter(
        subject__in=list(keys),
        type="customer.deleted",
        state=WebhookEventState.PROCESSED,
        applied=True,
        occurred_at__isnull=False,
    ).values_list("subject", "occurred_at")
    for subject, occurred_at in deleted:
        source_id = keys[subject]
        if source_id in wanted and before_deletion(wanted[source_id], occurred_at):
            del wanted[source_id]
            stats["deleted_since"] += 1


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
    _drop_deleted_here(Customer, wanted, existing, stats)
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
    _drop_deleted_here(Order, wanted, existing, stats)
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
