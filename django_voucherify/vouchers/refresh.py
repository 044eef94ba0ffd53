"""Fill and refresh the :class:`~django_voucherify.models.Voucher` mirrors from Voucherify.

:func:`refresh_all` walks every page of ``client.vouchers.iterate()`` (past Voucherify's page 99
by date), writes the mirrors in batches, and after a complete walk removes the mirrors of
vouchers Voucherify no longer lists (deleted from its dashboard, or to its bin).

Removing rows the walk did not see is only safe when the walk saw everything, so nothing is
removed unless the walk ended normally *and* brought at least the ``total`` Voucherify reported
beforehand (none reported: nothing is removed). A walk the client could not finish
(:class:`~django_voucherify.api.PaginationError`: a page repeating the previous one, more
vouchers than the pages reach) keeps what it stored,
removes nothing and reports the error in the result; any other error propagates, also
removing nothing. :func:`refresh_one` re-reads a single voucher.

A voucher Voucherify holds but the database cannot (a NUL character anywhere in it, even deep
in its metadata; a code longer than the column; a number out of its column's range, a date that
does not exist, a string where an object is expected), see
:func:`~django_voucherify.validation.applied_problem`, is skipped and reported, never allowed to
abort the walk: counted in ``skipped``, listed (code and reason, the first
:data:`SKIPPED_SAMPLE`) in ``skipped_objects``. An existing mirror of such a voucher is kept
as it was, with the reason in ``last_error``, and not removed (the voucher exists).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import validation
from ..api.errors import NotFoundError
from ..api.paging import PaginationError
from ..freshness import is_older
from ..models import Voucher
from ..validation import applied_problem, mirror_problem

logger = logging.getLogger("django_voucherify.vouchers")

#: ``progress(done, total, requests)``, as the sync commands' progress bar takes it.
Progress = Callable[[int, int, int], None]

BATCH_SIZE = 500
#: How many skipped vouchers the result lists (all are counted).
SKIPPED_SAMPLE = 50
_FIELDS = [f.name for f in Voucher._meta.concrete_fields if f.name not in ("id", "code", "created_at")]


def _client(client: Any) -> Any:
    if client is None:
        from .. import client as shared_client

        return shared_client
    return client


def store(data: dict[str, Any]) -> Voucher:
    """Create or update the mirror of one Voucherify voucher object.

    Raises :class:`~django_voucherify.validation.InvalidInput` when it cannot be stored."""
    code = data.get("code") if isinstance(data, dict) else None
    if not isinstance(code, str) or not code:
        raise validation.InvalidInput(_("it has no code."))
    try:
        return _store_once(code, data)
    except IntegrityError:
        # Another writer (a refresh, a webhook) inserted the same new code after our lookup
        # found none: a lock on no row locks nothing, so our INSERT waited on its unique entry
        # and failed once it committed. Its row is visible now: locked and compared this time.
        return _store_once(code, data)


def _store_once(code: str, data: dict[str, Any]) -> Voucher:
    with transaction.atomic():  # a savepoint inside a caller's transaction: a failed INSERT undone alone
        voucher = Voucher.objects.select_for_update().filter(code=code).first() or Voucher(code=code)
        if voucher.pk is not None and is_older(data, voucher.remote_payload):
            return voucher  # a newer copy is stored already (a webhook or a refresh won the race)
        validation.check(applied_problem(voucher, data))
        voucher.refreshed_at = timezone.now()
        voucher.save()
    return voucher


def _flag_unstorable(code: str, problem: str, now: Any) -> int:
    """Keep an existing mirror of a voucher that cannot be stored, say why (not pruned)."""
    message = _("Voucherify's copy of this voucher cannot be stored here: %(problem)s") % {"problem": problem}
    return Voucher.objects.filter(code=code).update(
        last_error=message, last_error_key="unstorable", refreshed_at=now
    )


def refresh_all(
    *, progress: Progress | None = None, client: Any = None, prune: bool = True
) -> dict[str, Any]:
    """Mirror every voucher Voucherify lists.

    Returns ``created``/``updated``/``removed``/``skipped`` counts, ``skipped_objects``
    (``{"code", "reason"}`` of the first skipped ones), ``seen`` and ``total`` (Voucherify's
    count before the walk, None if it gave none) and ``error``: "" after a complete walk, else
    why nothing was removed (see the module docstring).
    """
    api = _client(client)
    started = timezone.now()
    stats: dict[str, Any] = {
        "created": 0,
        "updated": 0,
        "removed": 0,
        "skipped": 0,
        "skipped_objects": [],
        "seen": 0,
        "total": None,
        "error": "",
    }
    first = api.vouchers.list(limit=1)  # the progress bar's total, and the bar for pruning
    reported = first.get("total")
    total = reported if isinstance(reported, int) and not isinstance(reported, bool) else None
    stats["total"] = total
    done = 0
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal done, batch
        _store_batch(batch, stats)
        done, batch = done + len(batch), []
        if progress:
            progress(done, max(done, total or 0), 0)

    try:
        for item in api.vouchers.iterate():
            batch.append(item)
            if len(batch) >= BATCH_SIZE:
                flush()
    except PaginationError as exc:
        stats["error"] = f"{type(exc).__name__}: {exc}"
    if batch:
        flush()  # the vouchers seen before a stall are stored too
    stats["seen"] = done
    if not stats["error"] and total is None:
        # The count read answered without a total (a gateway's {}: only the walk's pages raise
        # on a missing list, api.paging): the walk cannot be shown complete, and removing then
        # could empty the mirror (review 20).
        stats["error"] = "Voucherify reported no total of vouchers"
    elif not stats["error"] and total is not None and done < total:
        stats["error"] = f"the walk brought {done} vouchers, Voucherify reported {total}"
    if stats["error"]:
        logger.warning("Voucher refresh incomplete, no mirror removed: %s", stats["error"])
    elif prune:
        stale = Voucher.objects.filter(refreshed_at__lt=started) | Voucher.objects.filter(
            refreshed_at__isnull=True, created_at__lt=started
        )
        stats["removed"], _ = stale.delete()
    if progress and not done:
        progress(0, 0, 0)
    return stats


def _skip(stats: dict[str, Any], code: str, problem: str) -> None:
    stats["skipped"] += 1
    if len(stats["skipped_objects"]) < SKIPPED_SAMPLE:
        stats["skipped_objects"].append({"code": ascii(code)[1:-1][:300], "reason": problem})
    logger.warning("Voucher refresh: skipped %a, which cannot be stored: %s", code[:300], problem)


def _store_batch(batch: list[dict[str, Any]], stats: dict[str, Any]) -> None:
    now = timezone.now()
    by_code: dict[str, dict[str, Any]] = {}
    for data in batch:
        code = data.get("code") if isinstance(data, dict) else None
        if not isinstance(code, str) or not code:
            _skip(stats, str(code or ""), _("it has no code."))
        else:
            by_code[code] = data
    with transaction.atomic():
        storable = [c for c in by_code if mirror_problem(Voucher(code=c)) is None]
        existing = {v.code: v for v in Voucher.objects.select_for_update().filter(code__in=storable)}
        new: list[Voucher] = []
        updated: list[Voucher] = []
        for code, data in by_code.items():
            if code in existing and is_older(data, existing[code].remote_payload):
                stats["kept_newer"] = stats.get("kept_newer", 0) + 1  # read before a newer write
                continue
            voucher = existing.get(code) or Voucher(code=code)
            problem = applied_problem(voucher, data)
            voucher.refreshed_at = voucher.updated_at = now
            if problem:
                _skip(stats, code, problem)
                if code in existing:
                    _flag_unstorable(code, problem, now)
                continue
            if voucher.pk is None:
                voucher.created_at = now
                new.append(voucher)
            else:
                updated.append(voucher)
        Voucher.objects.bulk_update(updated, _FIELDS)
        Voucher.objects.bulk_create(new)
    stats["created"] += len(new)
    stats["updated"] += len(updated)


def refresh_one(voucher: Voucher, *, client: Any = None) -> Voucher | None:
    """Re-read ``voucher`` from Voucherify; deletes the mirror and returns None when it is gone."""
    try:
        data = _client(client).vouchers.get(voucher.code)
    except NotFoundError:
        voucher.delete()
        return None
    with transaction.atomic():
        # Locked while compared and written: a webhook event storing a newer copy meanwhile
        # is not undone by this older read.
        locked = Voucher.objects.select_for_update().filter(pk=voucher.pk).first()
        if locked is not None and is_older(data, locked.remote_payload):
            return locked
        before = {f: getattr(voucher, f) for f in _FIELDS}
        if problem := applied_problem(voucher, data):  # keep the mirror as it was, say why
            for name, value in before.items():
                setattr(voucher, name, value)
            _skip({"skipped": 0, "skipped_objects": []}, voucher.code, problem)
            _flag_unstorable(voucher.code, problem, timezone.now())
            voucher.refresh_from_db()
            return voucher
        voucher.refreshed_at = timezone.now()
        voucher.save()
    return voucher
