"""The transactional outbox: one row per mirrored object, carrying its latest change.

Contract (see :mod:`django_voucherify.sync.outbox`): a save or delete bumps ``version`` on the
object's row in the same transaction; a sender claims the row (``in_progress`` + a
``lease_until``/``lease_token`` lease, see :mod:`django_voucherify.background`), sends the
object's current state, and marks it ``synced`` only if ``version`` did not move meanwhile.
``failed`` rows wait for a re-drive: one whose last error was temporary (no response, 429,
5xx, a local error) keeps a ``due_at``, from which the periodic sweep takes it again; one
Voucherify rejected (400...) has none and waits for an explicit re-sync.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .background import BackgroundWork


class OutboxState(models.TextChoices):
    PENDING = "pending", _("pending")
    IN_PROGRESS = "in_progress", _("in progress")
    SYNCED = "synced", _("synced")
    FAILED = "failed", _("failed")


class OutboxAction(models.TextChoices):
    UPSERT = "upsert", _("create or update")
    DELETE = "delete", _("delete")
    ERASE = "erase", _("delete permanently")


class OutboxEntry(BackgroundWork):
    kind = models.CharField(_("kind"), max_length=32)
    object_pk = models.CharField(_("object id"), max_length=64)
    source_id = models.CharField(_("source id"), max_length=200, blank=True)
    remote_id = models.CharField(_("Voucherify id"), max_length=64, blank=True)
    action = models.CharField(_("action"), max_length=16, choices=OutboxAction.choices)
    version = models.PositiveBigIntegerField(_("version"), default=1)
    delivered_version = models.PositiveBigIntegerField(_("delivered version"), default=0)
    state = models.CharField(
        _("state"), max_length=16, choices=OutboxState.choices, default=OutboxState.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    created_at = models.DateTimeField(_("created"))
    updated_at = models.DateTimeField(_("updated"))
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    class Meta:
        verbose_name = _("outbox entry")
        verbose_name_plural = _("outbox entries")
        constraints = [models.UniqueConstraint(fields=["kind", "object_pk"], name="dv_outbox_one_per_object")]
        indexes = [
            models.Index(fields=["state", "due_at"], name="dv_outbox_state_due"),
            # Every lookup a delivery makes is an index scan whatever the size of the history
            # (synced rows are never deleted): a batch claim walks the pending rows in id order,
            # and the earlier-deletion check finds unsent deletions of a source_id. Both indexes
            # are partial: they hold the few rows still to send, not the synced history.
            models.Index(fields=["id"], condition=Q(state="pending"), name="dv_outbox_pending"),
            models.Index(
                fields=["kind", "source_id"],
                condition=Q(action__in=("delete", "erase")) & ~Q(state="synced"),
                name="dv_outbox_unsent_deletions",
            ),
            # Pulls and webhook events look up the deletions of the source ids they would make
            # again, sent ones too (a copy older than a deletion the shop sent stays out: see
            # sync/bulk.py). Partial: deletions only, not the history of upserts.
            models.Index(
                fields=["kind", "source_id"],
                condition=Q(action__in=("delete", "erase")),
                name="dv_outbox_deletions",
            ),
            # A finished push part looks up the rows of its kind delivered since its job began
            # (jobs/push.py, resend_overwritten): without it, one scan of the whole history per
            # part (93 ms at 1M rows). Deliveries change ``state`` (an indexed column) anyway, so
            # they lose no HOT update to it: it costs one more index entry per delivery.
            models.Index(fields=["kind", "delivered_at"], name="dv_outbox_kind_delivered"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.object_pk} v{self.version} {self.state}"
