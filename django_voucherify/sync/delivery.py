"""Send one outbox entry to Voucherify: claim, call, record. The only place sync does HTTP.

Contract of :func:`deliver`:
1. **Claim** in a short transaction: ``SELECT ... FOR UPDATE SKIP LOCKED`` on the row; only a
   ``pending`` row that is due (or whose sender's lease ran out) is taken: it becomes
   ``in_progress`` with ``claimed_until = now + SYNC_LEASE_SECONDS`` and a fresh claim token.
   The version is read here, BEFORE the object, so the state sent is at least that version.
2. **Send** with no transaction open: the object's CURRENT row is read and turned into a payload
   (customers: ``client.customers.create``, an upsert by ``source_id``; orders:
   ``client.orders.update`` when the Voucherify id is known, else ``create``; deletions:
   ``client.customers.delete`` or ``delete_permanently``).
3. **Record** in a second short transaction that locks the mirror row, then the outbox row (the
   order a save locks them in, so a save and a sender never deadlock): on success the row is
   ``synced`` only if its version is still the one claimed, otherwise it goes back to
   ``pending`` and is enqueued again (a newer save arrived while sending). Retryable failures
   (no response, 429, 5xx) back off (``Retry-After`` honoured) until ``SYNC_MAX_ATTEMPTS``;
   then, or at once for other errors, the row and the mirror are ``failed`` with the error, its
   ``key`` and ``request_id``; a temporary one keeps ``next_attempt_at`` (the periodic re-drive
   retries it), a permanent one does not (it waits for an explicit re-sync). Errors that are not
   Voucherify's answer (database errors, bugs) are recorded as temporary failures.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..api.errors import (
    APIError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
    VoucherifyError,
)
from ..models.customers import Customer
from ..models.orders import Order
from ..models.outbox import OutboxAction, OutboxEntry, OutboxState
from ..models.sync_state import SyncState
from .config import option
from .outbox import enqueue, lease

logger = logging.getLogger("django_voucherify.sync")

MIRRORS: dict[str, type[Customer] | type[Order]] = {"customer": Customer, "order": Order}


@dataclass(frozen=True)
class Outcome:
    """What happened: ``sent``, ``resend`` (a newer version is queued), ``retry``, ``failed``,
    ``skipped`` (nothing claimable)."""

    status: str
    retry_in: float | None = None
    error: str = ""


@dataclass(frozen=True)
class _Claim:
    entry_id: int
    token: str
    version: int
    kind: str
    object_pk: str
    source_id: str
    remote_id: str
    action: str
    attempts: int


def deliver(entry_id: int, *, ignore_schedule: bool = False, client: Any = None) -> Outcome:
    """Send entry ``entry_id`` if it is claimable; see the module docstring for the contract.

    ``ignore_schedule`` takes a pending row even before its ``next_attempt_at`` (the scheduled
    retry itself, and re-drives). ``client`` defaults to the shared ``django_voucherify.client``.
    Any error, Voucherify's or not (a database error, a bug in a payload), is recorded on the row
    and the mirror; it never leaves the row ``in_progress`` until the lease runs out.
    """
    claim = _claim(entry_id, ignore_schedule=ignore_schedule)
    if claim is None:
        return Outcome("skipped")
    if client is None:
        from .. import client as shared_client

        client = shared_client
    try:
        _deliver_earlier_deletion(claim, client)
        response = _send(client, claim)
    except VoucherifyError as exc:
        return _record_failure_safely(claim, exc)
    except Exception as exc:  # recorded as a temporary failure, never left in progress
        logger.exception("Voucherify sync of %s %s raised an unexpected error", claim.kind, claim.source_id)
        return _record_failure_safely(claim, exc)
    try:
        return _record_success(claim, response)
    except Exception as exc:  # e.g. the database went away after the call was made
        logger.exception("Voucherify sync of %s %s: sent, recording it failed", claim.kind, claim.source_id)
        return _record_failure_safely(claim, exc)


class WaitingForDeletion(Exception):
    """A customer with this ``source_id`` was deleted here and that deletion is not sent yet."""


def _deliver_earlier_deletion(claim: _Claim, client: Any) -> None:
    """Send a pending deletion of an earlier object with the same ``source_id`` first.

    Deleting a customer and creating a new one with the same ``source_id`` makes two outbox rows
    (one per primary key). Voucherify upserts by ``source_id``, so the new one must not be sent
    before the old one's deletion: that deletion would then remove the new customer. Raises
    :class:`WaitingForDeletion` (a temporary failure) while the deletion cannot be sent.
    """
    if claim.action != OutboxAction.UPSERT or claim.kind != "customer" or not claim.source_id:
        return
    earlier = list(
        OutboxEntry.objects.filter(kind=claim.kind, source_id=claim.source_id,
                                   action__in=(OutboxAction.DELETE, OutboxAction.ERASE))
        .exclude(pk=claim.entry_id).exclude(state=OutboxState.SYNCED).values_list("pk", flat=True)
    )  # fmt: skip
    for deletion_id in earlier:
        if deliver(deletion_id, ignore_schedule=True, client=client).status != "sent":
            raise WaitingForDeletion(
                f"waiting for outbox entry {deletion_id}: the deletion of an earlier {claim.kind} "
                f"with source_id {claim.source_id!r} must reach Voucherify first"
            )


def _claim(entry_id: int, *, ignore_schedule: bool) -> _Claim | None:
    now = timezone.now()
    with transaction.atomic():
        entry = OutboxEntry.objects.select_for_update(skip_locked=True).filter(pk=entry_id).first()
        if entry is None:
            return None  # gone, or another sender holds the lock right now
        if entry.state == OutboxState.IN_PROGRESS:
            if entry.claimed_until is not None and entry.claimed_until > now:
                return None
        elif entry.state != OutboxState.PENDING or (
            not ignore_schedule and entry.next_attempt_at and entry.next_attempt_at > now
        ):
            return None
        entry.state = OutboxState.IN_PROGRESS
        entry.claimed_until = now + lease()
        entry.claim_token = secrets.token_hex(8)
        entry.save(update_fields=["state", "claimed_until", "claim_token"])
        return _Claim(entry.pk, entry.claim_token, entry.version, entry.kind, entry.object_pk,
                      entry.source_id, entry.remote_id, entry.action, entry.attempts)  # fmt: skip


def _send(client: Any, claim: _Claim) -> dict[str, Any] | None:
    """The HTTP call for ``claim`` (no transaction open). None: nothing to read back."""
    model = MIRRORS.get(claim.kind)
    if model is None:
        raise ValueError(f"Unknown outbox kind {claim.kind!r}")
    if claim.action in (OutboxAction.DELETE, OutboxAction.ERASE):
        if claim.kind != "customer":
            return None  # Voucherify has no order deletion; the mirror row is simply gone
        target = claim.remote_id or claim.source_id
        try:
            if claim.action == OutboxAction.ERASE:
                client.customers.delete_permanently(target)
            else:
                client.customers.delete(target)
        except NotFoundError:
            pass  # already gone: the wanted end state
        return None
    obj = model.objects.filter(pk=claim.object_pk).first()
    if obj is None:
        return None  # deleted since; its deletion carries on in this same row
    payload = obj.to_voucherify()
    if claim.kind == "customer":
        return dict(client.customers.create(payload))
    if obj.voucherify_id:
        changes = {k: v for k, v in payload.items() if k != "source_id"}
        try:
            return dict(client.orders.update(obj.voucherify_id, changes))
        except NotFoundError:
            pass
    return dict(client.orders.create(payload))


def _lock_mirror(claim: _Claim) -> None:
    """Lock the mirror row BEFORE the outbox row: the order a save takes them in (its UPDATE of the
    mirror, then the outbox upsert from ``post_save``). Taking them the other way round deadlocks."""
    list(MIRRORS[claim.kind].objects.select_for_update().filter(pk=claim.object_pk).values_list("pk"))


def _record_success(claim: _Claim, response: dict[str, Any] | None) -> Outcome:
    now = timezone.now()
    with transaction.atomic():
        _lock_mirror(claim)
        entry = OutboxEntry.objects.select_for_update().filter(pk=claim.entry_id).first()
        if entry is None or entry.claim_token != claim.token:
            return Outcome("skipped")  # our lease ran out and another sender took over
        current = entry.version == claim.version
        entry.state = OutboxState.SYNCED if current else OutboxState.PENDING
        entry.delivered_version = claim.version
        entry.delivered_at = now
        entry.attempts = 0
        entry.claimed_until = None
        entry.next_attempt_at = None
        entry.last_error = entry.error_key = entry.request_id = ""
        if response and response.get("id"):
            entry.remote_id = str(response["id"])
        entry.save()
        mirror: dict[str, Any] = {
            "synced_at": now, "sync_state": SyncState.SYNCED if current else SyncState.PENDING,
            "sync_error": "", "sync_error_key": "", "sync_request_id": "",
        }  # fmt: skip
        if response is not None:
            mirror["remote_payload"] = response
            if response.get("id"):
                mirror["voucherify_id"] = str(response["id"])
        MIRRORS[claim.kind].objects.filter(pk=claim.object_pk).update(**mirror)
    if not current:
        enqueue(claim.entry_id)
        return Outcome("resend")
    return Outcome("sent")


def is_retryable(exc: BaseException) -> bool:
    """Worth another attempt later: no response, 429, 5xx, or an error that is not Voucherify's
    answer (a database hiccup, a deletion to wait for). Other API errors (400, 401...) are final."""
    if isinstance(exc, VoucherifyError):
        return isinstance(exc, TransportError | RateLimitedError | ServerError)
    return True


def retry_delay(exc: BaseException, attempts: int) -> float:
    """``Retry-After`` when Voucherify sent one, else exponential backoff from SYNC_RETRY_BACKOFF."""
    if isinstance(exc, RateLimitedError) and exc.retry_after:
        return float(exc.retry_after)
    base = float(option("SYNC_RETRY_BACKOFF"))
    delay: float = base * 2 ** max(attempts - 1, 0)
    return min(float(option("SYNC_RETRY_BACKOFF_MAX")), delay)


def _record_failure_safely(claim: _Claim, exc: BaseException) -> Outcome:
    """:func:`_record_failure`, and if even that fails (database down), a retry: the lease expires
    and a re-drive takes the row again."""
    try:
        return _record_failure(claim, exc)
    except Exception:
        logger.exception("Voucherify sync of %s %s: could not record failure", claim.kind, claim.source_id)
        return Outcome("retry", retry_in=retry_delay(exc, claim.attempts + 1), error=str(exc)[:2000])


def _record_failure(claim: _Claim, exc: BaseException) -> Outcome:
    now = timezone.now()
    key = (exc.key or "") if isinstance(exc, APIError) else type(exc).__name__
    request_id = (exc.request_id or "") if isinstance(exc, APIError) else ""
    message = str(exc)[:2000]
    retryable = is_retryable(exc)
    with transaction.atomic():
        _lock_mirror(claim)
        entry = OutboxEntry.objects.select_for_update().filter(pk=claim.entry_id).first()
        if entry is None or entry.claim_token != claim.token:
            return Outcome("skipped")
        attempts = entry.attempts + 1
        give_up = not retryable or attempts >= int(option("SYNC_MAX_ATTEMPTS"))
        delay = None if give_up else retry_delay(exc, attempts)
        entry.attempts = attempts
        entry.state = OutboxState.FAILED if give_up else OutboxState.PENDING
        if give_up:
            # A temporary failure stays due for the periodic re-drive; a permanent one is not.
            entry.next_attempt_at = now if retryable else None
        else:
            entry.next_attempt_at = now + timedelta(seconds=float(delay or 0))
        entry.claimed_until = None
        entry.last_error, entry.error_key, entry.request_id = message, key[:100], request_id[:100]
        entry.save()
        MIRRORS[claim.kind].objects.filter(pk=claim.object_pk).update(
            sync_state=SyncState.FAILED if give_up else SyncState.PENDING,
            sync_error=message, sync_error_key=key[:100], sync_request_id=request_id[:100],
        )  # fmt: skip
    log = logger.error if give_up else logger.warning
    log("Voucherify sync of %s %s failed (attempt %s): %s", claim.kind, claim.source_id, attempts, message,
        extra={"request_id": request_id, "key": key})  # fmt: skip
    if give_up:
        return Outcome("failed", error=message)
    return Outcome("retry", retry_in=delay, error=message)
