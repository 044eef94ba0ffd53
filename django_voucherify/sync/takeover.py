"""The record step of a sender that lost its claim: what its late call may have undone.

A sender whose lease ran out (a stall: GC, a paused container, CPU starvation) and whose row
another sender took over records nothing of its outcome: the row is the new holder's. But a
call of its that may have reached Voucherify may have landed AFTER the newer state was sent and
put an older one back. Voucherify knows a customer or an order by its ``source_id``, not by the
shop's primary key, so what it may have overwritten is the current state of that ``source_id``:

- the sender's own row (its object's current state, or its deletion), and
- the row of the object that holds that ``source_id`` here now, when it is another object: a
  customer deleted and created again with the same ``source_id`` is a new primary key and a new
  outbox row, already ``synced`` maybe, which the late call of the old row's upsert (or deletion)
  overwrote in Voucherify.

Each such row sends its current state again: a ``synced`` row turns ``pending`` with a new
version (its mirror ``pending``; the caller enqueues it once the record step committed), an
``in_progress`` one gets a new version (its holder's success then resends instead of marking it
synced); a ``pending`` or ``failed`` row is sent again anyway. The new object's upsert is sent
after the old row's deletion: :func:`.delivery._deliver_earlier_deletion` sends unsent deletions
of a ``source_id`` first.

Locks: the caller holds the sender's mirror and row (that order, as a save takes them); the other
object's mirror and then its row are locked here, the same order. ``source_id`` is unique among
live mirrors, so no save can hold the other object's mirror while waiting for the first one.
"""

from __future__ import annotations

import logging

from ..models.outbox import OutboxEntry, OutboxState
from ..models.sync_state import SyncState
from .claims import Claim
from .kinds import MIRRORS

logger = logging.getLogger("django_voucherify.sync")


def send_again(claim: Claim, entry: OutboxEntry) -> list[int]:
    """Make every row whose Voucherify state the late call may have overwritten send its
    current state again (see the module docstring). Returns the ids to enqueue after commit.
    Runs inside the caller's transaction, with ``claim``'s mirror and ``entry`` locked."""
    logger.warning(
        "Voucherify sync of %s %s: sent after its lease ran out; sending it again",
        claim.kind,
        claim.source_id,
    )
    to_enqueue = [entry.pk] if _mark(entry) else []
    for other in _other_holders(claim, entry):
        if _mark(other):
            to_enqueue.append(other.pk)
    return to_enqueue


def _other_holders(claim: Claim, entry: OutboxEntry) -> list[OutboxEntry]:
    """The rows of the live objects (another primary key) holding the ``source_id`` the late
    call carried: the one at claim time and the row's current one (it moves with the object)."""
    source_ids = {s for s in (claim.source_id, entry.source_id) if s}
    if not source_ids:
        return []
    model = MIRRORS[claim.kind]
    # Index lookups (source_id is unique, (kind, object_pk) too): cheap whatever the outbox size.
    pks = list(
        model.objects.select_for_update()
        .filter(source_id__in=sorted(source_ids))
        .exclude(pk=claim.object_pk)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not pks:
        return []
    return list(
        OutboxEntry.objects.select_for_update()
        .filter(kind=claim.kind, object_pk__in=[str(pk) for pk in pks])
        .order_by("pk")
    )


def _mark(entry: OutboxEntry) -> bool:
    """Make ``entry`` send its current state again; True if it must be enqueued."""
    if entry.state == OutboxState.SYNCED:
        entry.state = OutboxState.PENDING
        entry.version += 1
        entry.attempts = 0
        entry.due_at = None
        entry.save(update_fields=["state", "version", "attempts", "due_at"])
        MIRRORS[entry.kind].objects.filter(pk=entry.object_pk).update(sync_state=SyncState.PENDING)
        return True
    if entry.state == OutboxState.IN_PROGRESS:
        entry.version += 1  # its holder's success resends instead of marking it synced
        entry.save(update_fields=["version"])
    return False
