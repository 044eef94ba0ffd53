"""Fill and refresh the :class:`~django_voucherify.models.Voucher` mirrors from Voucherify.

:func:`refresh_all` walks every page of ``client.vouchers.iterate()`` (past Voucherify's page 99
by date), writes the mirrors in batches, and after a complete walk removes the mirrors of
vouchers Voucherify no longer lists (deleted from its dashboard, or to its bin). A walk that
fails half-way removes nothing. :func:`refresh_one` re-reads a single voucher.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..api.errors import NotFoundError
from ..models import Voucher

#: ``progress(done, total, requests)``, as the sync commands' progress bar takes it.
Progress = Callable[[int, int, int], None]

BATCH_SIZE = 500
_FIELDS = [
    f.name for f in Voucher._meta.concrete_fields if f.name not in ("id", "code", "created_at")
]


def _client(client: Any) -> Any:
    if client is None:
        from .. import client as shared_client

        return shared_client
    return client


def _batches(items: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for item in items:
        batch.append(item)
        if len(batch) >= BATCH_SIZE:
            yield batch
            batch = []
    if batch:
        yield batch


def store(data: dict[str, Any]) -> Voucher:
    """Create or update the mirror of one Voucherify voucher object."""
    voucher = Voucher.objects.filter(code=data["code"]).first() or Voucher(code=data["code"])
    voucher.apply_voucherify(data)
    voucher.refreshed_at = timezone.now()
    voucher.save()
    return voucher


def refresh_all(*, progress: Progress | None = None, client: Any = None,
                prune: bool = True) -> dict[str, int]:
    """Mirror every voucher Voucherify lists; returns ``created``/``updated``/``removed`` counts."""
    api = _client(client)
    started = timezone.now()
    stats = {"created": 0, "updated": 0, "removed": 0}
    first = api.vouchers.list(limit=1)  # only for the progress bar's total
    total = int(first.get("total") or 0)
    done = 0
    for batch in _batches(api.vouchers.iterate()):
        _store_batch(batch, stats)
        done += len(batch)
        if progress:
            progress(done, max(done, total), 0)
    if prune:
        stale = Voucher.objects.filter(refreshed_at__lt=started) | Voucher.objects.filter(
            refreshed_at__isnull=True, created_at__lt=started
        )
        stats["removed"], _ = stale.delete()
    if progress and not done:
        progress(0, 0, 0)
    return stats


def _store_batch(batch: list[dict[str, Any]], stats: dict[str, int]) -> None:
    now = timezone.now()
    by_code = {str(v["code"]): v for v in batch if v.get("code")}
    with transaction.atomic():
        existing = {v.code: v for v in Voucher.objects.select_for_update().filter(code__in=list(by_code))}
        new: list[Voucher] = []
        for code, data in by_code.items():
            voucher = existing.get(code) or Voucher(code=code)
            voucher.apply_voucherify(data)
            voucher.refreshed_at = voucher.updated_at = now
            if voucher.pk is None:
                voucher.created_at = now
                new.append(voucher)
        Voucher.objects.bulk_update(list(existing.values()), _FIELDS)
        Voucher.objects.bulk_create(new)
    stats["created"] += len(new)
    stats["updated"] += len(existing)


def refresh_one(voucher: Voucher, *, client: Any = None) -> Voucher | None:
    """Re-read ``voucher`` from Voucherify; deletes the mirror and returns None when it is gone."""
    try:
        data = _client(client).vouchers.get(voucher.code)
    except NotFoundError:
        voucher.delete()
        return None
    voucher.apply_voucherify(dict(data))
    voucher.refreshed_at = timezone.now()
    voucher.save()
    return voucher
