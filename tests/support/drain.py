"""The outbox drain's tests (``SYNC_DRAIN_CACHE``, sync/drain.py): a broker that holds the
messages the commits send, the drain's caches, a customer saved in a transaction of its own,
one drain run."""

from __future__ import annotations

import queue
from typing import Any

from django.db import transaction

from django_voucherify import conf
from django_voucherify.models import Customer
from django_voucherify.sync import batches, drain

DRAIN_CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "drain": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "drain-tests"},
}


class Broker:
    """Messages the commits send, held instead of run: ``("drain",)`` or ``(task, entry id)``."""

    def __init__(self) -> None:
        self.messages: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self.refuse = False
        self.drains: list[tuple[dict[str, Any], float | None]] = []  # (kwargs, countdown) each

    def send(self, name: str, args: Any = (), kwargs: Any = None, **options: Any) -> bool:
        if self.refuse:
            return False
        self.messages.put(("drain",) if name == drain.DRAIN_TASK else (name, *args))
        if name == drain.DRAIN_TASK:
            self.drains.append((dict(kwargs or {}), options.get("countdown")))
        return True

    def taken(self) -> list[tuple[Any, ...]]:
        out = []
        while not self.messages.empty():
            out.append(self.messages.get_nowait())
        return out


def save_customer(source_id: str, name: str | None = None) -> Customer:
    """Create or update the customer ``source_id`` in a transaction of its own (committed)."""
    with transaction.atomic():
        customer, _ = Customer.objects.update_or_create(
            source_id=source_id, defaults={"name": name or source_id.upper()}
        )
    return customer


def run_drain(held_rounds: int = 0) -> list[tuple[int, Any]]:
    """One drain, as its task runs it (batches of ``SYNC_BATCH_SIZE``)."""
    return batches.drain_due(limit=conf.settings().sync_batch_size, held_rounds=held_rounds)
