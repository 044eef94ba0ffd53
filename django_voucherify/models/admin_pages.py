"""Rows behind admin pages that are not mirrors: the overview's entry and the last refresh run.

- :class:`Overview` has no table (``managed = False``): it only gives the admin's app index a
  link to the Voucherify overview page (``admin/django_voucherify/overview/``), which
  :mod:`django_voucherify.admin.overview` draws from the other models.
- :class:`VoucherRefreshRun` records each "Refresh from Voucherify" of the vouchers or of the
  campaigns (the admin buttons or the periodic tasks): queued, running with its progress, then
  done with its counts or failed with its error. A row survives restarts, so the changelist can
  say when the last refresh ran and how it ended instead of "in the background".
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Overview(models.Model):
    class Meta:
        managed = False
        default_permissions = ()  # each block of the page checks the view permission of its model
        verbose_name = _("overview")
        verbose_name_plural = _("overview")

    def __str__(self) -> str:
        return str(self._meta.verbose_name)


class RefreshState(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    SUCCEEDED = "succeeded", _("done")
    INCOMPLETE = "incomplete", _("done, incomplete")
    FAILED = "failed", _("failed")


class RefreshSubject(models.TextChoices):
    """What a refresh run walks: the voucher mirrors, or the campaign, promotion-tier and
    validation-rule ones."""

    VOUCHERS = "vouchers", _("vouchers")
    CAMPAIGNS = "campaigns", _("campaigns, promotion tiers and validation rules")


#: States of a run that has not ended yet.
UNFINISHED_REFRESH_STATES = (RefreshState.QUEUED, RefreshState.RUNNING)


class VoucherRefreshRun(models.Model):
    """One full refresh of the voucher mirrors (or of the campaign mirrors: ``subject``) and
    how far it got. One run at a time per subject."""

    subject = models.CharField(
        _("subject"),
        max_length=16,
        choices=RefreshSubject.choices,
        default=RefreshSubject.VOUCHERS,
        db_index=True,
    )
    state = models.CharField(
        _("state"), max_length=16, choices=RefreshState.choices, default=RefreshState.QUEUED
    )
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # Written with each stored batch: a RUNNING run silent for long lost its worker.
    heartbeat_at = models.DateTimeField(_("last progress at"), null=True, blank=True)
    done = models.PositiveIntegerField(_("objects stored so far"), default=0)
    total = models.PositiveIntegerField(_("objects Voucherify reported"), null=True, blank=True)
    # The counts ``refresh_all`` returns (created, updated, removed, skipped...).
    stats = models.JSONField(_("result"), default=dict, blank=True)
    # Why the run failed or removed nothing; never a secret (an exception's type and message).
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("voucher refresh run")
        verbose_name_plural = _("voucher refresh runs")
        ordering = ("-pk",)

    def __str__(self) -> str:
        return f"{self.subject} refresh #{self.pk} [{self.state}]"

    @property
    def is_finished(self) -> bool:
        return self.state not in UNFINISHED_REFRESH_STATES
