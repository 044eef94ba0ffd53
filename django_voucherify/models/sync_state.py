"""The sync bookkeeping every mirror of a Voucherify object carries (abstract mixin).

Contract: these fields are written by :mod:`django_voucherify.sync.delivery` with
``QuerySet.update`` (no signals), never by shop code. ``sync_state`` turns ``pending`` as soon as
a local save is made (set in :meth:`SyncedMirror.save`, no extra query) and ``synced`` or
``failed`` once the outbox entry carrying that save was delivered or gave up.
"""

from __future__ import annotations

from typing import Any

from django.db import models, router, transaction
from django.utils.translation import gettext_lazy as _

from .background import LastVoucherifyError

#: Written only by the sync service (``QuerySet.update``), never by ``save()`` on an update.
SENDER_FIELDS = frozenset(
    {
        "voucherify_id",
        "synced_at",
        "last_error",
        "last_error_key",
        "last_request_id",
        "remote_payload",
        "created_at",
    }
)


def atomic_save(instance: models.Model, using: str | None = None) -> transaction.Atomic:
    """The transaction a mirror's save (or an order item's) runs in, so that its row and the
    outbox row its ``post_save`` receiver writes commit together. Django sends ``post_save``
    after the save's own statement: in autocommit (no transaction open) that statement had
    committed already, and an outbox write that failed then (a dropped connection, a timeout,
    the process killed) left a change no row would ever send. ``savepoint=False``: inside the
    caller's transaction it costs nothing (an error marks that transaction for rollback, as the
    save's own error handling does)."""
    db = using or router.db_for_write(type(instance), instance=instance)
    return transaction.atomic(using=db, savepoint=False)


class SyncState(models.TextChoices):
    PENDING = "pending", _("pending")
    SYNCED = "synced", _("synced")
    FAILED = "failed", _("failed")


class SyncedMirror(LastVoucherifyError):
    """Voucherify id, last sync time, state, last error (with ``request_id``) and raw payload."""

    voucherify_id = models.CharField(_("Voucherify id"), max_length=64, blank=True, db_index=True)
    sync_state = models.CharField(
        _("sync state"), max_length=16, choices=SyncState.choices, default=SyncState.PENDING
    )
    synced_at = models.DateTimeField(_("last synced"), null=True, blank=True)
    remote_payload = models.JSONField(_("last payload received"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True, db_index=True)

    #: Outbox name of this mirror ("customer" / "order"); set by concrete models.
    sync_kind: str = ""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save the shop's fields; the sync bookkeeping is left to the sync service.

        A local change is not in Voucherify yet, so ``sync_state`` turns pending in the same
        UPDATE (no extra query). On updates the other bookkeeping fields are never written, so a
        stale instance cannot wipe the Voucherify id or payload recorded by a sender meanwhile.
        """
        self.sync_state = SyncState.PENDING
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "sync_state", "updated_at"}
        elif not self._state.adding and not args and not kwargs.get("force_insert"):
            kwargs["update_fields"] = [
                f.attname
                for f in self._meta.concrete_fields
                if not f.primary_key and f.attname not in SENDER_FIELDS
            ]
        with atomic_save(self, kwargs.get("using")):
            super().save(*args, **kwargs)

    def to_voucherify(self) -> dict[str, Any]:
        """The JSON body sent to Voucherify for this object's current state."""
        raise NotImplementedError
