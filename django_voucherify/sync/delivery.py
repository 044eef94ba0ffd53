"""Send one outbox entry to Voucherify: claim, call, record. The only place sync does HTTP.

Contract of :func:`deliver`:
1. **Claim** (:mod:`.claims`, one statement, ``FOR UPDATE SKIP LOCKED``): only a ``pending`` row
   that is due (or whose sender's lease ran out) is taken: ``in_progress``, a lease and a fresh
   token. The version is read here, BEFORE the object, so the state sent is at least that version.
   :func:`deliver_due` claims a batch of due rows in one statement and sends them one by one.
2. **Send** with no transaction open: the object's CURRENT row is read and turned into a payload
   (customers: ``client.customers.create``, an upsert by ``source_id``; orders:
   ``client.orders.update`` when the Voucherify id is known, else ``create``; deletions:
   ``client.customers.delete`` or ``delete_permanently``, and after a 404 to the Voucherify id
   the same for an older customer holding the source id, :func:`_delete_customer`).
3. **Record** in a second short transaction that locks the mirror row, then the outbox row (the
   order a save locks them in, so a save and a sender never deadlock; one row at a time, never a
   batch's mirrors together, which a save of several objects could deadlock with): on success the row is
   ``synced`` only if its version is still the one claimed, otherwise it goes back to
   ``pending`` and is enqueued again (a newer save arrived while sending). Failures compare
   versions the same way: a refusal of a version that a newer save has replaced meanwhile does
   not fail the row; it goes back to ``pending`` (attempts reset) and the newer version is sent.
   Retryable failures (no response, 429, 5xx, 401/403: keys being fixed) back off
   (``Retry-After`` honoured) until ``SYNC_MAX_ATTEMPTS``; then, or at once for other errors,
   the row and the mirror are ``failed`` with the error, its ``key`` and ``request_id``; a
   temporary one keeps ``due_at`` (the periodic re-drive retries it), a permanent one
   does not (it waits for an explicit re-sync or a new save). Errors that are not Voucherify's
   answer (database errors, bugs) are recorded as temporary failures.
4. **Lease**: before every call the sender checks that the rest of its lease exceeds the longest
   call (:mod:`.timing`; a stalled sender whose lease ran out sends nothing). A sender that lost
   its claim meanwhile (its record step finds another token) and whose call may have reached
   Voucherify makes the row send the current state again: its late call may have overwritten a
   newer state the new holder sent.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from django.db import router, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from .. import background, conf
from ..api.encoding import UnaddressableError
from ..api.errors import (
    APIError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
    UnauthorizedError,
    VoucherifyError,
)
from ..freshness import before_deletion
from ..models.outbox import OutboxAction, OutboxEntry, OutboxState
from ..models.sync_state import SyncState
from ..validation import storable_json
from . import claims, takeover
from .claims import Claim
from .kinds import MIRRORS
from .outbox import enqueue

logger = logging.getLogger("django_voucherify.sync")

__all__ = ["MIRRORS", "Outcome", "deliver"]


@dataclass(frozen=True)
class Outcome:
    """What happened: ``sent``, ``resend`` (a newer version is queued), ``retry``, ``failed``,
    ``skipped`` (nothing claimable)."""

    status: str
    retry_in: float | None = None
    error: str = ""


def deliver(entry_id: int, *, ignore_schedule: bool = False, client: Any = None) -> Outcome:
    """Send entry ``entry_id`` if it is claimable; see the module docstring for the contract.

    ``ignore_schedule`` takes a pending row even before its ``due_at`` (the scheduled
    retry itself, and re-drives). ``client`` defaults to the shared ``django_voucherify.client``.
    Any error, Voucherify's or not (a database error, a bug in a payload), is recorded on the row
    and the mirror; it never leaves the row ``in_progress`` until the lease runs out.
    """
    claim = claims.claim(entry_id, ignore_schedule=ignore_schedule)
    if claim is None:
        return Outcome("skipped")
    return deliver_claimed(claim, client)


def deliver_due(limit: int, client: Any = None) -> list[tuple[int, Outcome]]:
    """Claim up to ``limit`` due pending entries in one statement and send each in turn (steps 2
    and 3 of the contract, per entry): the batch of a delivery task (``SYNC_BATCH_SIZE``)."""
    return [(claim.entry_id, deliver_claimed(claim, client)) for claim in claims.claim_due(limit)]


def deliver_claimed(claim: Claim, client: Any = None) -> Outcome:
    """Steps 2 and 3 of the contract for a claim :func:`deliver` took (a separate function so
    that tests can stall a sender between its claim and its call)."""
    if client is None:
        from .. import client as shared_client

        client = shared_client
    try:
        _deliver_earlier_deletion(claim, client)
        response = _send(client, claim)
    except Exception as exc:  # an unexpected one is a temporary failure, never left in progress
        return _record_failure_safely(claim, exc)
    try:
        # A NUL anywhere in the answer (a field set outside the shop) would make every record
        # fail: sent again at each retry and each sweep, never synced.
        return _record_success(claim, storable_json(response))
    except Exception as exc:  # e.g. the database went away after the call was made
        return _record_failure_safely(claim, exc)


class WaitingForDeletion(Exception):
    """A customer with this ``source_id`` was deleted here and that deletion is not sent yet."""


class LeaseExpiring(Exception):
    """The rest of the sender's lease is shorter than the longest call: nothing was sent."""


def _check_lease(claim: Claim) -> None:
    """Raise :class:`LeaseExpiring` unless a call started now ends before the lease does.

    Checked right before each call, after the payload was read: a sender that stalled (GC, a
    paused container, CPU starvation) must not send a state read before another sender took
    the row over and sent a newer one.
    """
    longest = conf.settings().longest_request()
    left = (claim.lease_until - timezone.now()).total_seconds()
    if left <= longest:
        raise LeaseExpiring(
            f"not sent: {left:.1f} s left of the lease, a call may take {longest:g} s "
            "(the sender stalled; the row is sent again)"
        )


_UNSENT_DELETION = Q(action__in=(OutboxAction.DELETE, OutboxAction.ERASE)) & ~Q(state=OutboxState.SYNCED)


def unsent_deletions(kind: str, source_id: str) -> QuerySet[OutboxEntry]:
    """Deletions of ``kind`` objects with this ``source_id`` not sent yet (index
    ``dv_outbox_unsent_deletions``: the cost does not grow with the synced history)."""
    return OutboxEntry.objects.filter(_UNSENT_DELETION, kind=kind, source_id=source_id)


def deletions_of(kind: str, source_ids: Iterable[str]) -> QuerySet[OutboxEntry]:
    """Every deletion of ``kind`` objects with these ``source_ids``, sent or not (index
    ``dv_outbox_deletions``: one entry per deletion, none per upsert; the cost of a lookup does
    not grow with the history of saves)."""
    return OutboxEntry.objects.filter(
        kind=kind, source_id__in=list(source_ids), action__in=(OutboxAction.DELETE, OutboxAction.ERASE)
    )


def _deliver_earlier_deletion(claim: Claim, client: Any) -> None:
    """Send a pending deletion of an earlier object with the same ``source_id`` first.

    Deleting a customer and creating a new one with the same ``source_id`` makes two outbox rows
    (one per primary key). Voucherify upserts by ``source_id``, so the new one must not be sent
    before the old one's deletion: that deletion would then remove the new customer. Orders too:
    Voucherify has no order deletion (sending one records it, nothing more), but a deleted
    order's row may still be held by a sender whose call (the old order's state, same
    ``source_id``) is on the wire: the new order waits for it, or takes it over once its lease
    ran out (a late landing of that call is then undone by :mod:`.takeover`). Raises
    :class:`WaitingForDeletion` (a temporary failure) while the deletion cannot be sent.
    """
    if claim.action != OutboxAction.UPSERT or not claim.source_id:
        return
    _send_deletions_first(claim.kind, claim.source_id, client, but=claim.entry_id)


def _send_deletions_first(kind: str, source_id: str, client: Any, *, but: int | None = None) -> None:
    """Deliver the unsent deletions of ``kind`` objects with ``source_id`` (all but the row
    ``but``); :class:`WaitingForDeletion` while one cannot be sent."""
    pending = unsent_deletions(kind, source_id)
    if but is not None:
        pending = pending.exclude(pk=but)
    earlier = list(pending.values_list("pk", flat=True))
    for deletion_id in earlier:
        if deliver(deletion_id, ignore_schedule=True, client=client).status != "sent":
            raise WaitingForDeletion(
                f"waiting for outbox entry {deletion_id}: the deletion of an earlier {kind} "
                f"with source_id {source_id!r} must reach Voucherify first"
            )


#: ``_send``'s default: read the object now.
READ_NOW: Any = object()


def _send(client: Any, claim: Claim, prefetched: Any = READ_NOW) -> dict[str, Any] | None:
    """The HTTP call for ``claim`` (no transaction open). None: nothing to read back.
    ``prefetched``: the object as a batch read it (after its claim), or None when it was gone."""
    model = MIRRORS.get(claim.kind)
    if model is None:
        raise ValueError(f"Unknown outbox kind {claim.kind!r}")
    if claim.action in (OutboxAction.DELETE, OutboxAction.ERASE):
        if claim.kind in ("product", "sku"):
            _delete_from_catalog(client, claim)
            return None
        if claim.kind != "customer":
            return None  # Voucherify has no order deletion; the mirror row is simply gone
        return _delete_customer(client, claim)
    obj = model.objects.filter(pk=claim.object_pk).first() if prefetched is READ_NOW else prefetched
    if obj is None:
        return None  # deleted since; its deletion carries on in this same row
    payload = obj.to_voucherify()
    _check_lease(claim)
    if claim.kind == "customer":
        return dict(client.customers.create(payload))
    if claim.kind == "product":
        return dict(client.products.create(payload))
    if claim.kind == "sku":
        return _send_sku(client, claim, obj, payload)
    if obj.voucherify_id:
        changes = {k: v for k, v in payload.items() if k != "source_id"}
        try:
            return dict(client.orders.update(obj.voucherify_id, changes))
        except NotFoundError:
            _check_lease(claim)
    return dict(client.orders.create(payload))


#: What :func:`_send` answers for a customer deletion that ended up addressed by source id
#: (:func:`_delete_customer`): the record step clears the row's ``remote_id``, so copies are
#: judged by the time rule (``freshness.before_deletion``), not by the old Voucherify id only.
BY_SOURCE_ID: dict[str, Any] = {"deleted_by": "source_id"}


def _delete_customer(client: Any, claim: Claim) -> dict[str, Any] | None:
    """Delete (or erase) the customer of ``claim``; at most 3 calls (:data:`REQUESTS_PER_SEND`).

    Addressed to its Voucherify id when the shop knew it, else to its source id. A 404 to the
    Voucherify id does not prove that Voucherify holds no customer with the source id: its
    dashboard (or another system) may have deleted that customer and made another with the same
    source id. That one is looked up (``GET /v1/customers/{source id}``) and deleted when it last
    changed before the shop's deletion (the row's ``updated_at``: newest wins); one made or
    changed after it stays. Before, the 404 was taken as done and the other customer stayed,
    its copy later making the mirror again. Returns :data:`BY_SOURCE_ID` when nothing holds the
    source id any more, None otherwise (the row keeps the id it was addressed to).
    """
    customers = client.customers
    remove = customers.delete_permanently if claim.action == OutboxAction.ERASE else customers.delete
    _check_lease(claim)
    try:
        remove(claim.remote_id or claim.source_id)
        return None
    except NotFoundError:
        if not claim.remote_id or not claim.source_id or claim.remote_id == claim.source_id:
            return None  # addressed by source id: nothing holds it, the wanted end state
    _check_lease(claim)
    try:
        held = dict(client.customers.get(claim.source_id))
    except NotFoundError:
        return BY_SOURCE_ID
    except UnaddressableError:
        return None  # "." or "..": no URL can name it; the deletion by id stays done, as before
    ident = held.get("id")
    if held.get("source_id") != claim.source_id or not isinstance(ident, str) or not ident:
        # A source id shaped like a Voucherify id names that other customer: not this one's
        # (and an answer without an id names nothing to delete).
        return None
    deleted_at = OutboxEntry.objects.filter(pk=claim.entry_id).values_list("updated_at", flat=True).first()
    if not before_deletion(held, deleted_at):
        logger.info(
            "Voucherify sync: customer %s made again in Voucherify after its deletion here; kept",
            claim.source_id,
        )
        return None  # made or changed there after the shop's deletion: newest wins
    _check_lease(claim)
    with suppress(NotFoundError):  # deleted meanwhile: the wanted end state
        remove(ident)
    return BY_SOURCE_ID


def recorded_remote_id(claim: Claim, response: dict[str, Any] | None) -> str | None:
    """The Voucherify id the record step writes on ``claim``'s row: the answer's for an upsert,
    ``""`` for a deletion that ended addressed by source id (:data:`BY_SOURCE_ID`), None to keep
    the row's."""
    if claim.action != OutboxAction.UPSERT:
        return "" if response == BY_SOURCE_ID else None
    return str(response["id"]) if response and response.get("id") else None


def _send_sku(client: Any, claim: Claim, sku: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Upsert a SKU under its product (by source id). At most 5 calls (:data:`REQUESTS_PER_SEND`).

    - A product with changes Voucherify has not received (its mirror is ``pending``, or has no
      Voucherify id yet) is upserted first, in its current state: the SKU cannot wait for the
      product's own entry, which may be behind it in the outbox, and the SKU may need what the
      product's change brings (an attribute it sets: Voucherify refuses a SKU attribute its
      product does not define). The product's own delivery then sends the same state again,
      an idempotent upsert.
    - A SKU moved to another product is refused by Voucherify (409: its source id is taken by
      the old product's SKU): :func:`_move_sku` deletes it there and creates it here.
    """
    product = sku.product
    # A deleted product with the same source id (deleted and made again by the shop) goes
    # first: the SKU would otherwise land under the old product, and the old product's forced
    # deletion, sent after, would take the new SKU with it (synced here, missing there).
    _send_deletions_first("product", product.source_id, client)
    if not product.voucherify_id or product.sync_state == SyncState.PENDING:
        client.products.create(product.to_voucherify())
        _check_lease(claim)
    try:
        return dict(client.products.create_sku(product.source_id, payload))
    except ConflictError:
        _check_lease(claim)
        if not _move_sku(client, claim, product.source_id, payload):
            raise
    _check_lease(claim)
    return dict(client.products.create_sku(product.source_id, payload))


def _move_sku(client: Any, claim: Claim, product_source_id: str, payload: dict[str, Any]) -> bool:
    """Delete (for good) the SKU with this source id when Voucherify holds it under another
    product; False when the conflict is not a move (then the 409 stands). Voucherify documents
    no way to change a SKU's product: a SKU's source id is unique in the whole catalog, so
    the old one must go before the new one can be created (the SKU gets a new Voucherify id)."""
    try:
        held = client.products.get_sku(str(payload["source_id"]))
    except NotFoundError:
        return False  # in the bin, or gone meanwhile: not a move this can resolve
    old_product = str(held.get("product_id") or "")
    product = dict(held.get("product") or {})
    if not old_product or product_source_id in (old_product, product.get("source_id")):
        return False
    _check_lease(claim)
    with suppress(NotFoundError):  # deleted meanwhile: the wanted end state
        client.products.delete_sku(old_product, str(held["id"]), force=True)
    logger.info(
        "Voucherify sync: SKU %s moved from product %s to %s", claim.source_id, old_product, product_source_id
    )
    return True


def _delete_from_catalog(client: Any, claim: Claim) -> None:
    """Delete a product (with its SKUs) or a SKU for good (``force``): a deleted source id is
    free again at once, so a shop that deletes and re-creates an object under the same source
    id is not refused (a delete without ``force`` keeps the source id taken in Voucherify's
    bin). A SKU's deletion needs its product's id: read from the SKU first (its local product
    may be gone already). Already gone is the wanted end state. At most 2 calls."""
    target = claim.remote_id or claim.source_id
    _check_lease(claim)
    try:
        if claim.kind == "product":
            client.products.delete(target, force=True)
            return
        sku = client.products.get_sku(target)
        _check_lease(claim)
        client.products.delete_sku(str(sku["product_id"]), str(sku["id"]), force=True)
    except NotFoundError:
        pass


def _lock_mirror(claim: Claim) -> None:
    """Lock the mirror row BEFORE the outbox row: the order a save takes them in (its UPDATE of the
    mirror, then the outbox upsert from ``post_save``). Taking them the other way round deadlocks."""
    list(MIRRORS[claim.kind].objects.select_for_update().filter(pk=claim.object_pk).values_list("pk"))


def _record_success(claim: Claim, response: dict[str, Any] | None) -> Outcome:
    return _enqueue_if_resend(claim, _record_success_locked(claim, response))


def _record_success_locked(claim: Claim, response: dict[str, Any] | None) -> Outcome:
    """Mirror locked, then the row updated only while the claim's token holds (one statement);
    a row whose version moved meanwhile goes back to ``pending``."""
    now = timezone.now()
    remote_id = recorded_remote_id(claim, response)
    if claim.action != OutboxAction.UPSERT:
        response = None  # a deletion's answer is not a copy of the object
    with transaction.atomic(using=router.db_for_write(OutboxEntry)):
        _lock_mirror(claim)
        state = claims.mark_sent(claim, remote_id, now)
        if state is None:  # gone, or another sender holds it now
            entry = OutboxEntry.objects.select_for_update().filter(pk=claim.entry_id).first()
            return _lost_claim(claim, entry, may_have_landed=True)
        current = state == OutboxState.SYNCED
        mirror: dict[str, Any] = {
            "synced_at": now,
            "sync_state": SyncState.SYNCED if current else SyncState.PENDING,
            **background.error_fields(None),
        }
        if response is not None:
            mirror["remote_payload"] = response
            if remote_id:
                mirror["voucherify_id"] = remote_id
        MIRRORS[claim.kind].objects.filter(pk=claim.object_pk).update(**mirror)
    return Outcome("sent" if current else "resend")


def _lost_claim(claim: Claim, entry: OutboxEntry | None, *, may_have_landed: bool) -> Outcome:
    """Record step of a sender whose lease ran out and whose row another sender took over.

    Nothing of its outcome is recorded (the row is the new holder's). But when its call may
    have reached Voucherify, it may have landed AFTER a newer state was sent and put an older one
    back: the row, and the row of another object now holding the same ``source_id`` (a customer
    deleted and created again), send their current state once more (:mod:`.takeover`). Runs
    inside the caller's transaction, with the mirror and the row locked; ``resend`` when the
    caller must enqueue this row, the other rows are enqueued once the transaction commits.
    """
    if entry is None or not may_have_landed:
        return Outcome("skipped")
    ids = takeover.send_again(claim, entry)
    db = router.db_for_write(OutboxEntry)
    for other_id in ids:
        if other_id != entry.pk:
            transaction.on_commit(partial(_enqueue, other_id), using=db)
    return Outcome("resend" if entry.pk in ids else "skipped")


def _enqueue(entry_id: int) -> None:
    enqueue(entry_id)  # looked up at call time (tests replace the module's ``enqueue``)


def _enqueue_if_resend(claim: Claim, outcome: Outcome) -> Outcome:
    """Enqueue the entry again after a ``resend`` outcome, once the record step committed."""
    if outcome.status == "resend":
        enqueue(claim.entry_id)
    return outcome


def is_retryable(exc: BaseException) -> bool:
    """Worth another attempt later: no response, 429, 5xx, 401/403 (the keys are wrong: once
    they are fixed, the re-drive delivers what waited), or an error that is not an answer of
    Voucherify's (a database hiccup, a deletion to wait for, a stalled sender). Other API
    errors (400, 404, 409...) refuse this payload: final until the object changes."""
    if isinstance(exc, APIError):
        return (
            isinstance(exc, RateLimitedError | ServerError | UnauthorizedError | ForbiddenError)
            or exc.status >= 500
        )
    # A source id no URL can carry (".", ".."; a mirror made through the Python API, which does
    # not validate): its deletion before Voucherify's id was known can never be sent. It was
    # retried at every retry and every sweep, forever; now it is failed for staff to see.
    return not isinstance(exc, UnaddressableError)


def _may_have_landed(exc: BaseException) -> bool:
    """Whether the failed call may still have changed Voucherify (its outcome is unknown)."""
    if isinstance(exc, LeaseExpiring | WaitingForDeletion):
        return False
    if isinstance(exc, APIError):
        return exc.status >= 500
    if isinstance(exc, TransportError):
        return exc.request_sent
    return True  # a local error: maybe after the call (harmless to send again)


def retry_delay(exc: BaseException, attempts: int) -> float:
    """``Retry-After`` when Voucherify sent one, else exponential backoff from SYNC_RETRY_BACKOFF."""
    retry_after = exc.retry_after if isinstance(exc, RateLimitedError) and exc.retry_after else None
    return background.backoff(
        attempts,
        base=conf.settings().sync_retry_backoff,
        cap=conf.settings().sync_retry_backoff_max,
        retry_after=retry_after,
    )


#: Failures this module expects: Voucherify's answers and its own reasons not to send. Any
#: other error (a bug on an odd answer, a database error) is *unexpected*: recorded with
#: :func:`~django_voucherify.background.describe` (its type, where it was raised) and logged
#: at ERROR, once, without a traceback.
_EXPECTED = (VoucherifyError, LeaseExpiring, WaitingForDeletion, UnaddressableError)


def _error_text(exc: BaseException) -> str | None:
    """The recorded text of ``exc``: its own for an expected failure (None), else described."""
    return None if isinstance(exc, _EXPECTED) else background.describe(exc)


def _record_failure_safely(claim: Claim, exc: BaseException) -> Outcome:
    """:func:`_record_failure`, and if even that fails (database down), a retry: the lease expires
    and a re-drive takes the row again."""
    try:
        return _record_failure(claim, exc)
    except Exception as again:
        error = _error_text(exc) or background.error_fields(exc)["last_error"]
        where = f"Voucherify sync of {claim.kind} {claim.source_id} failed ({error}); recording that failed"
        background.log_unexpected(logger, where, again)
        return Outcome("retry", retry_in=retry_delay(exc, claim.attempts + 1), error=error[:2000])


def _record_failure(claim: Claim, exc: BaseException) -> Outcome:
    return _enqueue_if_resend(claim, _record_failure_locked(claim, exc))


def _record_failure_locked(claim: Claim, exc: BaseException) -> Outcome:
    now = timezone.now()
    unexpected = _error_text(exc)
    error = background.error_fields(exc, unexpected)
    message, key, request_id = error["last_error"], error["last_error_key"], error["last_request_id"]
    retryable = is_retryable(exc)
    with transaction.atomic(using=router.db_for_write(OutboxEntry)):
        _lock_mirror(claim)
        entry = OutboxEntry.objects.select_for_update().filter(pk=claim.entry_id).first()
        if entry is None or entry.lease_token != claim.token:
            return _lost_claim(claim, entry, may_have_landed=_may_have_landed(exc))
        if not retryable and entry.version != claim.version:
            # Voucherify refused a version a newer save has replaced meanwhile: that refusal
            # says nothing of the newer one, which is sent now (as the success path does).
            return _superseded(claim, entry, error)
        attempts = entry.attempts + 1
        give_up = not retryable or attempts >= conf.settings().sync_max_attempts
        delay = None if give_up else retry_delay(exc, attempts)
        entry.attempts = attempts
        entry.state = OutboxState.FAILED if give_up else OutboxState.PENDING
        if give_up:
            # A temporary failure stays due for the periodic re-drive; a permanent one is not.
            entry.due_at = now if retryable else None
        else:
            entry.due_at = now + timedelta(seconds=float(delay or 0))
        entry.lease_until = None
        background.put_error(entry, error)
        entry.save()
        MIRRORS[claim.kind].objects.filter(pk=claim.object_pk).update(
            sync_state=SyncState.FAILED if give_up else SyncState.PENDING, **error
        )
    log = logger.error if give_up or unexpected else logger.warning
    log(
        "Voucherify sync of %s %s failed (attempt %s): %s",
        claim.kind,
        claim.source_id,
        attempts,
        message,
        extra={"request_id": request_id, "key": key},
    )
    if give_up:
        return Outcome("failed", error=message)
    return Outcome("retry", retry_in=delay, error=message)


def _superseded(claim: Claim, entry: OutboxEntry, error: dict[str, str]) -> Outcome:
    """A refused version was replaced by a newer save while it was sent: back to ``pending``
    (attempts reset: the newer version has not been tried; the caller enqueues it); the
    refusal stays on the row for the record, the mirror is pending. Caller holds the locks."""
    entry.state = OutboxState.PENDING
    entry.attempts = 0
    entry.due_at = None
    entry.lease_until = None
    background.put_error(entry, error)
    entry.save()
    MIRRORS[claim.kind].objects.filter(pk=claim.object_pk).update(sync_state=SyncState.PENDING, **error)
    logger.warning(
        "Voucherify sync of %s %s: version %s refused (%s); sending the newer version %s",
        claim.kind,
        claim.source_id,
        claim.version,
        error["last_error"],
        entry.version,
    )
    return Outcome("resend", error=error["last_error"])
