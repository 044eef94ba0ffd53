"""Storing events once and processing them in the background (the one shape of background
work: :mod:`django_voucherify.background`).

- :func:`record` stores an accepted event (unique by event id: a duplicate, even a concurrent
  one, stores nothing new) and sends its processing by task name once the request commits.
- :func:`process` (the task ``django_voucherify.process_webhook_event``) takes the row's lease,
  then in ONE transaction, with the row and its subject locked: judges it stale or not, applies
  its handler, sends the signals and marks it processed. Any error rolls all of it back; the
  row records the error and is retried with backoff, and parked after ``WEBHOOK_MAX_ATTEMPTS``.
- :func:`sweep` re-sends what a lost message left due and deletes events past retention.
- :func:`reprocess` puts parked (or any) events back to pending, for staff.

Out of order: events about one subject (a voucher, a customer, an order, a redemption) are
applied newest-wins: an event older than one already applied to its subject is STALE (its
signals are still sent, with ``stale=True``). A customer or an order is one subject whichever
key an event names it by (:func:`subjects_of`). Subjects are locked during processing
(PostgreSQL advisory lock), so two workers cannot apply two events of one subject at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import DataError, IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import background, validation
from ..conf import settings as voucherify_settings
from ..errors import DjangoVoucherifyError
from ..models.webhooks import WebhookEvent, WebhookEventState
from . import handlers, signals
from .outcome import Outcome
from .times import instant

logger = logging.getLogger("django_voucherify.webhooks")

TASK = "django_voucherify.process_webhook_event"
#: How long one processing holds its event (it makes no network call: seconds at most).
LEASE = timedelta(minutes=5)
RETRY_BASE, RETRY_CAP = 5.0, 3600.0
SWEEP_LIMIT = 500


class EnvelopeError(DjangoVoucherifyError, ValueError):
    """The body is JSON but not a Voucherify event (no id, type, data or time)."""


class ExpiredEventError(EnvelopeError):
    """The event happened before the retention period (``WEBHOOK_RETENTION_DAYS``): its id may
    have been purged already, so a replay of it could not be told from a first delivery."""


def _text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _ident(obj: Any, *keys: str) -> str:
    if isinstance(obj, dict):
        for key in keys:
            value = obj.get(key)
            if isinstance(value, str) and value:
                return value
    return ""


def _subject(kind: str, data: dict[str, Any]) -> str:
    """What the event is about, from its TYPE (``"voucher:CODE"``...); "" when unknown.

    Redemption events carry the voucher too: their subject is the redemption, never the
    voucher, so events of different redemptions of one code are not ordered against each other.
    """
    if kind.startswith("redemption."):
        ident = _ident(data.get("redemption"), "id")
        return f"redemption:{ident}"[:300] if ident else ""
    if kind.startswith("voucher."):
        ident = _ident(data.get("voucher"), "code")
        return f"voucher:{ident}"[:300] if ident else ""
    if kind.startswith("customer.order."):
        ident = _ident(data.get("order"), "source_id", "id")
        return f"order:{ident}"[:300] if ident else ""
    if kind in ("customer.created", "customer.updated", "customer.deleted"):
        ident = _ident(data.get("customer"), "source_id", "id")
        return f"customer:{ident}"[:300] if ident else ""
    return ""


def _named(kind: str, data: Any) -> tuple[str, str, str] | None:
    """``(prefix, source id, Voucherify id)`` of the customer or order an event is about (either
    id may be ""); None for other types."""
    if kind.startswith("customer.order."):
        prefix = "order"
    elif kind in ("customer.created", "customer.updated", "customer.deleted"):
        prefix = "customer"
    else:
        return None
    obj = data.get(prefix) if isinstance(data, dict) else None
    return prefix, _ident(obj, "source_id"), _ident(obj, "id")


def subjects_of(row: WebhookEvent) -> list[str]:
    """Every subject the event's object is known by, the canonical one first.

    A customer or an order may be named by its source id (the mirror's identity), by its
    Voucherify id, or both: ordered per subject, an event naming it one way and an older event
    naming it the other way were never compared, so the older one could undo the newer one (an
    id-only ``customer.deleted``, then an older ``customer.updated`` naming the source id, made
    the mirror again). Now an event is ordered against the events of both of its keys, and one
    naming its object by the Voucherify id only is resolved to the source id through the mirror
    holding that id. Other types: their one subject."""
    named = _named(row.type, row.payload.get("data") if isinstance(row.payload, dict) else None)
    if named is None:
        return [row.subject] if row.subject else []
    prefix, source_id, ident = named
    if not source_id and ident:
        from ..models import Customer, Order

        model: type[Customer] | type[Order] = Customer if prefix == "customer" else Order
        source_id = (
            model.objects.filter(voucherify_id=ident).values_list("source_id", flat=True).first() or ""
        )
    return [f"{prefix}:{key}"[:300] for key in (source_id, ident) if key]


#: Types whose events are applied newest-wins per subject. Ledger events are not: their
#: handlers act on the row's state under its lock, whatever the order.
ORDERED = ("voucher.", "customer.")


def parse_envelope(body: Any) -> dict[str, Any]:
    """The fields of a row for a parsed body, or :class:`EnvelopeError`."""
    if not isinstance(body, dict):
        raise EnvelopeError(_("The body is not a JSON object."))
    raw_event = body.get("event")
    event: dict[str, Any] = raw_event if isinstance(raw_event, dict) else {}
    event_id = _text(event.get("id"), 101) or _text(body.get("id"), 101)
    kind = _text(body.get("type"), 101)
    data = body.get("data")
    if not event_id or len(event_id) > 100 or not kind or len(kind) > 100 or not isinstance(data, dict):
        raise EnvelopeError(_("The body is not a Voucherify event (id, type and data are required)."))
    try:
        encoded = json.dumps(body, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, RecursionError, ValueError):  # a lone surrogate, absurd depth
        encoded = b"\x00"
    if b"\x00" in encoded or b"\\u0000" in encoded:
        # PostgreSQL's jsonb cannot hold NUL: refused like any body that cannot be stored.
        raise EnvelopeError(_("The body holds characters that cannot be stored (NUL, lone surrogates)."))
    # Required (the spec's envelope always has it): without a time, a replay of the event after
    # its id was purged could not be refused (see :func:`record`).
    occurred = instant(event.get("created_at") or body.get("created_at"))
    if occurred is None:
        raise EnvelopeError(_("The event's created_at is not a date-time between 1970 and 9000."))
    return {
        "event_id": event_id,
        "sendout_id": _text(body.get("id"), 100),
        "type": kind,
        "subject": _subject(kind, data),
        "occurred_at": occurred,
        "payload": body,
    }


def record(body: Any) -> tuple[WebhookEvent, bool]:
    """Store an accepted event once; its processing is sent when the transaction commits.
    Returns the row and whether it is new (False: a duplicate delivery, nothing stored).

    The INSERT comes first (three queries for a new event: begin, insert, commit); a duplicate
    hits the unique constraint, even when it arrives concurrently, and reads the stored row.

    An event older than the retention period is refused (:class:`ExpiredEventError`): ids are
    remembered that long (:func:`purge` keeps every event that happened since), so a signed
    body captured and sent again later would otherwise be applied a second time."""
    fields = parse_envelope(body)
    days = voucherify_settings().webhook_retention_days
    if fields["occurred_at"] < timezone.now() - timedelta(days=days):
        raise ExpiredEventError(
            _("The event happened more than %(days)s days ago: it is not accepted any more.") % {"days": days}
        )
    event_id = fields.pop("event_id")
    try:
        with transaction.atomic():
            row = WebhookEvent.objects.create(event_id=event_id, **fields)
            background.enqueue(TASK, (row.pk,))
        return row, True
    except IntegrityError:
        return WebhookEvent.objects.get(event_id=event_id), False


def _lock_key(subject: str) -> int:
    """A signed 64-bit key for ``subject`` (PostgreSQL advisory locks take a bigint)."""
    digest = hashlib.blake2b(f"django_voucherify.webhooks:{subject}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _lock_subjects(subjects: list[str]) -> None:
    """Serialise the processing of the events of these subjects (PostgreSQL; SQLite writes are
    serial). Taken in one order (by key) whatever the event: two events sharing two subjects
    never wait for each other crosswise."""
    if subjects and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for key in sorted({_lock_key(subject) for subject in subjects}):
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def _is_stale(row: WebhookEvent, subjects: list[str]) -> bool:
    if not subjects or row.occurred_at is None or not row.type.startswith(ORDERED):
        return False
    return (
        WebhookEvent.objects.filter(
            subject__in=subjects,
            occurred_at__gt=row.occurred_at,
            state=WebhookEventState.PROCESSED,
            applied=True,
        )
        .exclude(pk=row.pk)
        .exists()
    )


def process(pk: int, token: str | None = None) -> str:
    """Process event ``pk`` (the task's body); returns its state afterwards. ``token``: the
    lease the sweep gave with the message (None: take one here)."""
    if token is None:
        held = background.lease(WebhookEvent, pk, due_in=0, lease_for=LEASE, where=_pending_filter())
        if held is None:
            return "held elsewhere or done"
        token = held.token
    try:
        with transaction.atomic():
            row = WebhookEvent.objects.select_for_update().filter(pk=pk, lease_token=token).first()
            if row is None or row.state != WebhookEventState.PENDING:
                return "superseded"
            subjects = subjects_of(row)
            row.subject = subjects[0] if subjects else row.subject  # an id resolved: the source id
            _lock_subjects(subjects)
            outcome = _apply(row, subjects)
            row.state = WebhookEventState.STALE if outcome is None else WebhookEventState.PROCESSED
            row.outcome = (outcome.text if outcome else _("older than what is stored: not applied"))[:300]
            row.needs_attention = bool(outcome and outcome.needs_attention)
            row.applied = bool(outcome and outcome.applied)
            row.processed_at = timezone.now()
            row.attempts += 1
            row.lease_until, row.due_at = None, None
            background.put_error(row, None)
            row.save()
        return str(row.state)
    except Exception as exc:
        return _failed(pk, token, exc)


def _apply(row: WebhookEvent, subjects: list[str]) -> Outcome | None:
    """Apply the event and send its signals; None when it is stale (signals still sent)."""
    stale = _is_stale(row, subjects)
    data = row.payload.get("data") if isinstance(row.payload, dict) else None
    outcome: Outcome | None = None
    if not stale:
        handler = handlers.HANDLERS.get(row.type)
        try:
            # A savepoint: a value the database refuses (DataError) leaves the transaction usable.
            with transaction.atomic():
                outcome = (
                    handler(data or {}, row.occurred_at) if handler else Outcome(_("no action for this type"))
                )
        except DataError as exc:
            outcome = Outcome(
                _("not applied: %(reason)s") % {"reason": _("a value the database cannot hold")},
                needs_attention=True,
            )
            logger.warning(
                "Voucherify webhook event %s holds a value the database refuses: %s",
                row.pk,
                type(exc).__name__,
            )
        except validation.InvalidInput as exc:
            # The event itself cannot be applied (no voucher in it, a value the database cannot
            # hold): retrying cannot help. Recorded for staff, and signalled like any other.
            outcome = Outcome(_("not applied: %(reason)s") % {"reason": exc}, needs_attention=True)
    signals.send(row, stale=stale)
    return outcome


def _failed(pk: int, token: str, exc: BaseException) -> str:
    """Processing raised (a handler's bug, a shop receiver's error, a database error): one
    attempt, the error on the row (``Type: text (at module:line in function)``, secrets masked),
    a retry after the backoff, parked for staff after ``WEBHOOK_MAX_ATTEMPTS``. Logged once, as
    one line without a traceback: the frames' locals hold the event's customer data."""
    described = background.describe(exc)
    conf = voucherify_settings()
    with transaction.atomic():
        row = WebhookEvent.objects.select_for_update().filter(pk=pk, lease_token=token).first()
        if row is None:
            logger.warning("Voucherify webhook event %s failed to process (superseded): %s", pk, described)
            return "superseded"
        row.attempts += 1
        background.put_error(row, background.error_fields(exc, described))
        row.lease_until = None
        if row.attempts >= conf.webhook_max_attempts:
            row.state, row.due_at, row.needs_attention = WebhookEventState.PARKED, None, True
            row.save()
            logger.error(
                "Voucherify webhook event %s parked after %s attempts: %s", pk, row.attempts, described
            )
            return str(row.state)
        delay = background.backoff(row.attempts, base=RETRY_BASE, cap=RETRY_CAP)
        row.due_at = timezone.now() + timedelta(seconds=delay)
        row.save()
        attempts = row.attempts
    logger.warning("Voucherify webhook event %s failed to process (attempt %s): %s", pk, attempts, described)
    # The retry is its own chain (a new lease): sent now with a countdown, or left to the sweep.
    held = background.lease(WebhookEvent, pk, due_in=delay, lease_for=LEASE, where=_pending_filter())
    if held is not None:
        # may_run_early=False: eager mode (tests, the demo) leaves the wait to the sweep rather
        # than running a failing event again at once, recursively.
        background.send(TASK, (pk, held.token), countdown=delay, lease=held, may_run_early=False)
    return f"retrying (attempt {attempts})"


def _pending_filter() -> Any:
    from django.db.models import Q

    return Q(state=WebhookEventState.PENDING)


def sweep(now: datetime | None = None) -> dict[str, int]:
    """Send every pending event that is due and held by nobody; delete events past retention."""
    now = now or timezone.now()
    claimed = background.claim_due(
        WebhookEvent.objects.filter(state=WebhookEventState.PENDING),
        lease_for=LEASE,
        limit=SWEEP_LIMIT,
        now=now,
    )
    sent = 0
    for row in claimed:
        lease = background.Lease(WebhookEvent, row.pk, row.lease_token, row.lease_until or now)
        sent += background.send(TASK, (row.pk, row.lease_token), lease=lease)
    return {"sent": sent, "purged": purge(now)}


def purge(now: datetime | None = None) -> int:
    """Delete processed and stale events received AND happened before the retention period: an
    event :func:`record` still accepts (it happened since) keeps its id, so a replay of it is a
    duplicate. (Events stored without a time are judged by their reception only.)"""
    from django.db.models import Q

    now = now or timezone.now()
    cutoff = now - timedelta(days=voucherify_settings().webhook_retention_days)
    deleted, _kinds = WebhookEvent.objects.filter(
        Q(occurred_at__isnull=True) | Q(occurred_at__lt=cutoff),
        received_at__lt=cutoff,
        state__in=(WebhookEventState.PROCESSED, WebhookEventState.STALE),
    ).delete()
    return deleted


#: Reprocessed events whose task :func:`reprocess` sends itself; the rest of a larger selection
#: (the admin's "select all" of thousands parked by an outage) are left pending and due, for the
#: sweep (``SWEEP_LIMIT`` a run): a task per event, sent from the request, and the selection's
#: pks listed twice in the SQL grew with the selection (20,000 events: 1 s before any broker).
REPROCESS_SEND_LIMIT = SWEEP_LIMIT


def reprocess(pks: list[int] | QuerySet[WebhookEvent]) -> int:
    """Put PARKED events (of ``pks``, or of a queryset of events) back to pending (attempts
    reset) and send their processing; returns how many. Only parked ones: a pending event may
    be in a worker's hands right now (resetting it as the worker commits would process it
    twice). One ``UPDATE``; :data:`REPROCESS_SEND_LIMIT` tasks are sent once the transaction
    commits, the sweep sends the others."""
    events = pks if isinstance(pks, QuerySet) else WebhookEvent.objects.filter(pk__in=list(pks))
    parked = WebhookEvent.objects.filter(
        pk__in=events.order_by().values_list("pk", flat=True), state=WebhookEventState.PARKED
    )
    with transaction.atomic():
        # Locked: a second staff member reprocessing the same events waits, then finds them
        # pending; these are surely the ones the UPDATE resets.
        first = list(
            parked.select_for_update().order_by("pk").values_list("pk", flat=True)[:REPROCESS_SEND_LIMIT]
        )
        count = parked.update(
            state=WebhookEventState.PENDING,
            attempts=0,
            due_at=None,
            lease_until=None,
            lease_token="",
            needs_attention=False,
        )
        for pk in first:
            background.enqueue(TASK, (pk,))
    return count
