"""The Celery task of the voucher admin's actions: one action over one selection, in chunks.

It lives with the admin because a "select all" selection is the admin changelist's queryset
(:mod:`.voucher_selection`), and ``tasks/`` never imports the admin. It is registered whenever
the admin is imported: Django's admin autodiscovery (``django.contrib.admin`` in
``INSTALLED_APPS``) does that in ``django.setup()``, which a Celery worker with Django's fixup
runs before it imports task modules, so web and worker processes both know it.

Each message runs :data:`SELECTION_CHUNK` vouchers and queues the next chunk itself; a long 429
retries from the voucher it stopped at (the ones done are not sent again), and after
``max_retries`` writes a ``too_many_requests`` error on each voucher of the chunk left rather
than dropping them silently; a run whose user may no longer act stops and writes
``not_permitted`` on each voucher a list still names. Failures stay on each voucher's mirror
(``last_error``, shown in the admin) and in the log.

The two task names of 0.1.0, ``django_voucherify.run_voucher_action`` (a list of codes) and
``django_voucherify.run_voucher_selection``, run the same code for one more release, so that
messages already in a shop's broker when it upgrades are not lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import shared_task
from django.core.exceptions import PermissionDenied

from ..vouchers import actions
from . import voucher_selection
from .voucher_selection import Cursor, Selection

logger = logging.getLogger("django_voucherify.vouchers")

#: Vouchers per message: a chunk fits comfortably in one task's time limit.
SELECTION_CHUNK = 500
TASK_NAME = "django_voucherify.admin.run_voucher_action"


@shared_task(bind=True, name=TASK_NAME, max_retries=20, acks_late=True)
def run_voucher_action(self: Any, action: str, selection: Selection, after_pk: int = 0) -> dict[str, Any]:
    """Run ``action`` on the next chunk of ``selection`` (see :mod:`.voucher_selection`)."""
    return _run_chunk(self, action, selection, after_pk, retry_at=_retry_with_cursor(self, action))


def _run_chunk(
    task: Any,
    action: str,
    selection: Selection,
    after_pk: int,
    retry_at: Callable[[Cursor, float | None], Exception],
) -> dict[str, Any]:
    chosen = actions.Action(action)
    try:
        chunk = voucher_selection.next_chunk(selection, chosen, after_pk, SELECTION_CHUNK)
    except (PermissionDenied, LookupError) as exc:  # its user may no longer act, its site is gone
        return _stopped(action, selection, exc)
    outcome = actions.run(chosen, chunk.codes, max_wait=0)
    for result in outcome.failed:
        if result.unexpected:
            continue  # logged where it was raised
        logger.warning(
            "Voucherify %s of %s failed: %s (key=%s request_id=%s)",
            action,
            result.code,
            result.message,
            result.key,
            result.request_id,
        )
    if outcome.remaining:
        if task.request.retries < task.max_retries:
            stopped = len(chunk.codes) - len(outcome.remaining)  # the first voucher not done
            raise retry_at(chunk.resume_at(stopped), outcome.retry_after)
        for code in outcome.remaining:  # rate limited for too long: say so on each voucher
            actions.record_error(actions.rate_limited(code))
    if chunk.following is not None:
        run_voucher_action.apply_async(args=(action, *chunk.following))
    return {
        "succeeded": [r.code for r in outcome.succeeded],
        "failed": {r.code: r.message for r in outcome.failed},
    }


def _stopped(action: str, selection: Selection, exc: Exception) -> dict[str, Any]:
    """A run refused at a chunk or retry: nothing more is sent, and it is said where staff look,
    not only as a Celery traceback. A list's vouchers left each say it (as a run giving up on a
    429 does); a "select all" run names none (its changelist is what was refused), the log does.
    """
    codes = [str(code) for code in selection.get("codes", ())]
    if codes:
        actions.record_not_permitted(codes)
    logger.warning(
        "Voucherify %s stopped, %s not done: %s",
        action,
        f"{len(codes)} voucher(s)" if codes else "the rest of the selection",
        exc,
    )
    return {"succeeded": [], "failed": dict.fromkeys(codes, str(actions.NOT_PERMITTED)), "stopped": str(exc)}


def _retry_with_cursor(task: Any, action: str) -> Callable[[Cursor, float | None], Exception]:
    def retry(cursor: Cursor, countdown: float | None) -> Exception:
        return task.retry(args=(action, *cursor), countdown=countdown)  # type: ignore[no-any-return]

    return retry


@shared_task(bind=True, name="django_voucherify.run_voucher_selection", max_retries=20, acks_late=True)
def run_voucher_selection(self: Any, action: str, selection: Selection, after_pk: int = 0) -> dict[str, Any]:
    """Deprecated name (0.1.0) of :func:`run_voucher_action`, same arguments; removed in 0.3."""
    return _run_chunk(self, action, selection, after_pk, retry_at=_retry_with_cursor(self, action))


@shared_task(bind=True, name="django_voucherify.run_voucher_action", max_retries=20, acks_late=True)
def run_voucher_codes(self: Any, action: str, codes: list[str]) -> dict[str, Any]:
    """Deprecated name (0.1.0) of :func:`run_voucher_action` for a list of codes; removed in 0.3."""

    def retry(cursor: Cursor, countdown: float | None) -> Exception:
        # A list of codes resumes as the codes left (after_pk is 0): this task's own arguments.
        return self.retry(args=(action, cursor[0]["codes"]), countdown=countdown)  # type: ignore[no-any-return]

    return _run_chunk(self, action, voucher_selection.of_codes(codes), 0, retry_at=retry)
