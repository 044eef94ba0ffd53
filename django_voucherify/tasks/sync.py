"""Sync tasks: thin shells over :mod:`django_voucherify.sync`.

The periodic re-drive is part of ``django_voucherify.sweep`` (:mod:`.periodic`); ``redrive_outbox``
stays for one release as an alias for shops that scheduled it.
"""

from __future__ import annotations

from celery import shared_task

from .. import conf
from ..sync import batches, delivery, outbox


@shared_task(name="django_voucherify.deliver_outbox_entry", acks_late=True, ignore_result=True)
def deliver_outbox_entry(entry_id: int, retry: bool = False) -> str:
    """Send outbox entry ``entry_id`` and up to ``SYNC_BATCH_SIZE - 1`` other due pending entries
    (:func:`~django_voucherify.sync.batches.deliver_batch`: claimed in one statement, read and
    recorded with a few queries per batch, one call per entry); on a retryable failure, an entry
    is sent again when the backoff the delivery chose is over (a broker refusal leaves it pending
    for the sweep).

    ``retry`` is True for the scheduled retry and for re-drives: the entry's ``due_at`` is then
    not waited for again. The batch amortizes a task's cost over the rows of a backlog: their own
    tasks, when they run, find them sent (one query) and claim the next due rows instead. The
    database connection is kept across tasks when the worker is set up as docs/production.md
    says (``CELERY_DB_REUSE_MAX``).
    """
    status = "skipped"
    for sent_id, outcome in batches.deliver_batch(
        entry_id, ignore_schedule=retry, limit=conf.settings().sync_batch_size
    ):
        _retry_later(sent_id, outcome)
        if sent_id == entry_id:
            status = outcome.status
    return status


@shared_task(name="django_voucherify.drain_outbox", acks_late=True, ignore_result=True)
def drain_outbox(held_rounds: int = 0) -> int:
    """Send every due pending outbox entry, ``SYNC_BATCH_SIZE`` at a time: the one message a
    burst of saves sends when ``SYNC_DRAIN_CACHE`` is set
    (:func:`~django_voucherify.sync.batches.drain_due`, :mod:`django_voucherify.sync.drain`).
    A retryable failure is sent again by its own task when its backoff is over. ``held_rounds``:
    drains in a row before this one that passed over a row another transaction held. Returns
    how many entries were sent."""
    sent = 0
    drained = batches.drain_due(limit=conf.settings().sync_batch_size, held_rounds=held_rounds)
    for sent_id, outcome in drained:
        _retry_later(sent_id, outcome)
        sent += outcome.status == "sent"
    return sent


def _retry_later(entry_id: int, outcome: delivery.Outcome) -> None:
    if outcome.retry_in is not None:
        outbox.enqueue(entry_id, retry=True, countdown=outcome.retry_in)


@shared_task(name="django_voucherify.redrive_outbox", ignore_result=True)
def redrive_outbox(include_failed: bool = False) -> dict[str, int]:
    """Deprecated alias (one release): schedule ``django_voucherify.sweep`` instead.

    Re-enqueue every due pending and stale in-progress entry, and the failed ones whose last
    error was temporary (no response, 429, 5xx). Entries Voucherify rejected (400...) are left for
    an explicit re-sync unless ``include_failed``."""
    return outbox.redrive(failed=outbox.FAILED_ALL if include_failed else outbox.FAILED_RETRYABLE)
