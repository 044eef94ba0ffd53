"""A delivery task's batch: claim, read and record many outbox rows with a few queries.

A delivery task (``django_voucherify.deliver_outbox_entry``) sends its own row and up to
``SYNC_BATCH_SIZE - 1`` other due pending rows; a drain (``django_voucherify.drain_outbox``,
:mod:`.drain`) sends due pending rows a batch at a time until none is left (:func:`drain_due`).
:func:`deliver_batch` keeps the per-row contract
of :mod:`.delivery` (claim before read, one call per row, record only while the claim's token
holds, versions compared) and pays the database once per batch instead of once per row:

1. **Claim** the batch in one statement (:func:`.claims.claim_batch`, ``SKIP LOCKED``).
2. **Read**, after the claim: the batch's objects in one query per kind, and the unsent
   deletions of the batch's ``source_id``s in one query (index ``dv_outbox_unsent_deletions``).
   A row that must wait for such a deletion leaves the batch: the rows sent so far are recorded,
   then it goes through :func:`.delivery.deliver_claimed` (which sends the deletion first).
3. **Send** each row's call in turn, no transaction open (the lease is checked before each
   call, as for a single row). A failure is recorded at once, row by row (rare). When it says
   Voucherify cannot be reached now (no answer, 429, 5xx) or refuses the keys (401/403), the
   batch stops: its unsent rows go back to ``pending``, due when the failed row's retry is (no
   attempt counted), instead of costing one call each; that retry's batch takes them again.
   Rows are sent fewest attempts first, so a row that fails alone (its own payload refused
   with a 5xx every time) is sent after the others and holds none of them back again.
   When the batch's one lease runs short (its own calls used it up), the row about to be sent
   and the rest go back untried, due now, and one delivery is requested for them.
4. **Record** the successes in ONE transaction: the mirrors are locked first (the order a save
   takes them in), with ``SKIP LOCKED``, so the batch never waits for a save and never deadlocks
   with one that locks several mirrors; then the outbox rows, whose token and version decide:
   ``synced``, or ``pending`` again (``resend``) when a newer save arrived meanwhile. A row whose
   mirror was locked by a save, or whose claim was taken over meanwhile (token changed), is
   recorded afterwards by the single-row path (:func:`.delivery._record_success`: lost claims,
   late calls, see :mod:`.takeover`). If the batch transaction fails, every row falls back to it.

Objects are read once, at the start of the batch: the version was read before (at the claim), so
a save that lands later has a newer version and the record step sends it again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db import router, transaction
from django.db.models import Q
from django.utils import timezone

from .. import background
from ..api.errors import (
    ForbiddenError,
    RateLimitedError,
    ServerError,
    TransportError,
    UnauthorizedError,
    VoucherifyError,
)
from ..models.outbox import OutboxAction, OutboxEntry, OutboxState
from ..models.products import Sku
from ..models.sync_state import SyncState
from ..validation import storable_json
from . import batch_updates, claims, delivery, drain, outbox
from .claims import Claim
from .delivery import MIRRORS, Outcome

logger = logging.getLogger("django_voucherify.sync")

_DELETIONS = (OutboxAction.DELETE, OutboxAction.ERASE)


def deliver_batch(
    entry_id: int, *, ignore_schedule: bool = False, limit: int = 1, client: Any = None
) -> list[tuple[int, Outcome]]:
    """Send entry ``entry_id`` (if claimable) and up to ``limit - 1`` other due pending entries;
    the outcome of each row sent, by id (see the module docstring)."""
    batch = claims.claim_batch(entry_id, ignore_schedule=ignore_schedule, limit=limit)
    return deliver_claimed_batch(batch, client=client)


def drain_due(
    *, limit: int, max_batches: int = drain.MAX_BATCHES, held_rounds: int = 0, client: Any = None
) -> list[tuple[int, Outcome]]:
    """The ``drain_outbox`` task (:mod:`.drain`): clear the drain flag, THEN claim and send due
    ``pending`` rows ``limit`` at a time, lowest id first, until a claim comes back short or a
    batch stops on an outage (no answer, 429, 5xx: see :func:`deliver_claimed_batch`). After
    ``max_batches`` full batches it asks for another drain instead of going on (the worker's
    other tasks get their turn). A short claim that passed over a row another transaction held
    asks for another drain shortly (:func:`.drain.request_again`; ``held_rounds``: how many
    drains in a row did so before this one). The outcome of each row sent, by id."""
    drain.clear()  # before the first claim: a save that finds the flag set is seen by a claim
    results: list[tuple[int, Outcome]] = []
    for _ in range(max_batches):
        batch, held = claims.claim_due_noting_held(limit)
        delivered = deliver_claimed_batch(batch, client=client)
        results += delivered
        if len(batch) < limit:
            if held:
                # That row's transaction may roll back: no commit, no request of its own, and
                # this drain has cleared the flag. Look again shortly.
                drain.request_again(held_rounds)
            return results
        if len(delivered) < len(batch):
            # Voucherify is down or throttling: the batch gave its unsent rows back, due with the
            # failed row's retry. The rest waits for that retry's batch, the next drain or the
            # sweep, instead of costing one more timeout per batch now.
            return results
    drain.request()  # more may be due: a fresh message (a broker refusal leaves them to the sweep)
    return results


def deliver_claimed_batch(batch: list[Claim], *, client: Any = None) -> list[tuple[int, Outcome]]:
    """Steps 2-4 of the module docstring for rows this sender has just claimed."""
    if not batch:
        return []
    if client is None:
        from .. import client as shared_client

        client = shared_client
    # Rows that failed before go last: a 5xx stops the batch (an outage, as far as one answer
    # tells), so a row whose own payload fails every time, sent first, would give the rest back
    # at each of its retries. A real outage still stops the batch at its first row.
    batch = sorted(batch, key=lambda claim: (claim.attempts, claim.entry_id))
    try:
        objects = _read_objects(batch)
        waiting = _waiting_for_deletions(batch)
    except Exception as exc:  # database trouble before any call: each row on its own path
        background.log_unexpected(logger, f"Voucherify sync: reading {len(batch)} rows failed", exc)
        return [(claim.entry_id, delivery.deliver_claimed(claim, client)) for claim in batch]
    results: list[tuple[int, Outcome]] = []
    sent: list[tuple[Claim, dict[str, Any] | None]] = []
    for position, claim in enumerate(batch):
        if claim.entry_id in waiting:
            results += _record(sent)
            sent = []
            results.append((claim.entry_id, delivery.deliver_claimed(claim, client)))
            continue
        try:
            response = delivery._send(client, claim, objects.get((claim.kind, claim.object_pk)))
        except delivery.LeaseExpiring:
            # The batch's one lease is running out (its own calls used it up, or it stalled):
            # not this row's failure. It and the rest go back untried, due now, and are asked
            # for again; counting an attempt on each would walk them towards `failed`.
            if _release(batch[position:], 0.0):
                outbox.request_delivery(claim.entry_id)
            break
        except VoucherifyError as exc:
            outcome = delivery._record_failure_safely(claim, exc)
            results.append((claim.entry_id, outcome))
            if outcome.retry_in is not None and isinstance(exc, _STOPS_BATCH):
                # Voucherify is down, throttling or refusing the keys: the rest of the batch waits
                # as long as this row (not an attempt of theirs) instead of costing one call each.
                _release(batch[position + 1 :], outcome.retry_in)
                break
        except Exception as exc:  # recorded (and logged) as a temporary failure, never left in progress
            results.append((claim.entry_id, delivery._record_failure_safely(claim, exc)))
        else:
            sent.append((claim, storable_json(response)))  # a NUL in it must not fail the record
    return results + _record(sent)


#: Failures that would be the same for every row of the batch, so it stops: Voucherify cannot
#: be reached now (no answer, 429, 5xx), or refuses the keys (401/403: until they are fixed).
_STOPS_BATCH = (TransportError, RateLimitedError, ServerError, UnauthorizedError, ForbiddenError)


def _release(claims_left: list[Claim], delay: float) -> int:
    """Give the batch's unsent rows back (``pending``, due after ``delay`` seconds, attempts
    unchanged), each only while the batch's token still holds it; how many were given back."""
    if not claims_left:
        return 0
    due = timezone.now() + timedelta(seconds=delay)
    return OutboxEntry.objects.filter(
        pk__in=[c.entry_id for c in claims_left],
        lease_token=claims_left[0].token,
        state=OutboxState.IN_PROGRESS,
    ).update(state=OutboxState.PENDING, lease_until=None, due_at=due)


def _read_objects(batch: list[Claim]) -> dict[tuple[str, str], Any]:
    """The batch's objects to upsert, one query per kind; a missing key: gone since."""
    objects: dict[tuple[str, str], Any] = {}
    for kind, pks in _by_kind(c for c in batch if c.action == OutboxAction.UPSERT).items():
        model = MIRRORS.get(kind)
        if model is None:
            continue  # _send raises for an unknown kind
        rows = model.objects.filter(pk__in=pks)
        if model is Sku:
            rows = Sku.objects.filter(pk__in=pks).select_related("product")  # sent under it
        for obj in rows:
            objects[(kind, str(obj.pk))] = obj
    return objects


def _waiting_for_deletions(batch: list[Claim]) -> set[int]:
    """Ids of the batch's upserts with an unsent deletion of the same ``source_id`` (another
    row): they go through the single-row path, which sends that deletion first."""
    upserts = [c for c in batch if c.action == OutboxAction.UPSERT and c.source_id]
    if not upserts:
        return set()
    wanted = Q()
    for kind, source_ids in _group(upserts, lambda c: c.source_id).items():
        wanted |= Q(kind=kind, source_id__in=source_ids)
    found = (
        OutboxEntry.objects.filter(wanted, action__in=_DELETIONS)
        .exclude(state=OutboxState.SYNCED)
        .values_list("pk", "kind", "source_id")
    )
    deletions: dict[tuple[str, str], set[int]] = {}
    for pk, kind, source_id in found:
        deletions.setdefault((kind, source_id), set()).add(pk)
    return {c.entry_id for c in upserts if deletions.get((c.kind, c.source_id), set()) - {c.entry_id}}


def _record(sent: list[tuple[Claim, dict[str, Any] | None]]) -> list[tuple[int, Outcome]]:
    """Record the successes of ``sent`` (step 4); resends are enqueued once it committed."""
    if not sent:
        return []
    try:
        with transaction.atomic(using=router.db_for_write(OutboxEntry)):
            recorded, rest = _record_together(sent)
    except Exception as exc:
        background.log_unexpected(
            logger, f"Voucherify sync: recording a batch of {len(sent)} rows failed; row by row", exc
        )
        recorded, rest = [], sent
    for entry_id, outcome in recorded:
        if outcome.status == "resend":
            delivery._enqueue(entry_id)
    for claim, response in rest:
        try:
            recorded.append((claim.entry_id, delivery._record_success(claim, response)))
        except Exception as exc:  # e.g. the database went away after the call was made
            recorded.append((claim.entry_id, delivery._record_failure_safely(claim, exc)))
    return recorded


def _record_together(
    sent: list[tuple[Claim, dict[str, Any] | None]],
) -> tuple[list[tuple[int, Outcome]], list[tuple[Claim, dict[str, Any] | None]]]:
    """Inside one transaction: the rows recorded, and the rows left to the single-row path."""
    now = timezone.now()
    locked: set[tuple[str, str]] = set()
    for kind, pks in _by_kind(c for c, _ in sent if c.action == OutboxAction.UPSERT).items():
        free = MIRRORS[kind].objects.select_for_update(skip_locked=True).filter(pk__in=pks)
        locked |= {(kind, str(pk)) for pk in free.order_by("pk").values_list("pk", flat=True)}
    together = [(c, r) for c, r in sent if c.action != OutboxAction.UPSERT or (c.kind, c.object_pk) in locked]
    rest = [
        (c, r) for c, r in sent if c.action == OutboxAction.UPSERT and (c.kind, c.object_pk) not in locked
    ]
    rows = OutboxEntry.objects.select_for_update().filter(pk__in=[c.entry_id for c, _ in together])
    entries = {entry.pk: entry for entry in rows.order_by("pk")}
    recorded: list[tuple[int, Outcome]] = []
    written: list[tuple[int, str, int, str | None]] = []
    mirrors: dict[str, list[tuple[Any, str, Any, str]]] = {}
    for claim, response in together:
        entry = entries.get(claim.entry_id)
        if entry is None or entry.lease_token != claim.token:
            rest.append((claim, response))  # taken over meanwhile: the single-row path
            continue
        current = entry.version == claim.version
        remote_id = delivery.recorded_remote_id(claim, response)
        written.append(
            (entry.pk, OutboxState.SYNCED if current else OutboxState.PENDING, claim.version, remote_id)
        )
        recorded.append((claim.entry_id, Outcome("sent" if current else "resend")))
        if claim.action == OutboxAction.UPSERT:
            state = SyncState.SYNCED if current else SyncState.PENDING
            pk = MIRRORS[claim.kind]._meta.pk.to_python(claim.object_pk)
            mirrors.setdefault(claim.kind, []).append((pk, state, response, remote_id or ""))
    batch_updates.record_rows(written, now)
    for kind, values in mirrors.items():
        batch_updates.record_mirrors(MIRRORS[kind], values, now)
    return recorded, rest


def _by_kind(batch: Iterable[Claim]) -> dict[str, list[str]]:
    return _group(batch, lambda c: c.object_pk)


def _group(batch: Iterable[Claim], key: Any) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for claim in batch:
        grouped.setdefault(claim.kind, []).append(key(claim))
    return grouped
