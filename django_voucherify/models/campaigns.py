"""Mirrors of Voucherify campaigns and validation rules, for the Django admin.

Like vouchers (:mod:`.vouchers`), Voucherify is the source of truth: a row is written only from
a Voucherify answer (a refresh, an enable/disable, a code generation), never pushed from a local
save. ``remote_payload`` keeps the object exactly as Voucherify last sent it; the columns are
what the changelist lists, searches and filters on, so the list stays one indexed query however
many campaigns the project holds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import models
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from .background import LastVoucherifyError


def _datetime(value: Any) -> datetime | None:
    return parse_datetime(value) if isinstance(value, str) and value else None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


class Campaign(LastVoucherifyError):
    """A Voucherify campaign as last seen (``voucherify_id`` is its ``camp_...`` id)."""

    voucherify_id = models.CharField(_("Voucherify id"), max_length=100, unique=True)
    name = models.CharField(_("name"), max_length=255, db_index=True)
    campaign_type = models.CharField(_("campaign type"), max_length=40, blank=True, db_index=True)
    type = models.CharField(_("codes"), max_length=20, blank=True)  # AUTO_UPDATE / STATIC
    active = models.BooleanField(_("active"), default=True)
    category = models.CharField(_("category"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)
    vouchers_count = models.PositiveIntegerField(_("vouchers"), null=True, blank=True)
    generation_status = models.CharField(_("code generation"), max_length=20, blank=True)
    start_date = models.DateTimeField(_("start date"), null=True, blank=True)
    expiration_date = models.DateTimeField(_("expiration date"), null=True, blank=True)
    remote_created_at = models.DateTimeField(_("created in Voucherify"), null=True, blank=True)
    remote_payload = models.JSONField(_("Voucherify payload"), default=dict, blank=True)
    refreshed_at = models.DateTimeField(_("refreshed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ("name",)
        permissions = (
            ("change_campaign_state", _("Can enable and disable campaigns in Voucherify")),
            ("generate_campaign_codes", _("Can generate codes in campaigns")),
        )

    def __str__(self) -> str:
        return self.name or self.voucherify_id

    def apply_voucherify(self, data: dict[str, Any]) -> None:
        """Copy a Voucherify campaign object onto this mirror (no save)."""
        self.voucherify_id = str(data.get("id") or self.voucherify_id)
        self.name = _text(data.get("name"), 255) or self.voucherify_id
        self.campaign_type = _text(data.get("campaign_type"), 40)
        self.type = _text(data.get("type"), 20)
        self.active = data.get("active") is not False
        self.category = _text(data.get("category"), 200)
        self.description = _text(data.get("description"), 10_000)
        self.vouchers_count = _count(data.get("vouchers_count"))
        status = data.get("vouchers_generation_status") or data.get("creation_status")
        self.generation_status = _text(status, 20)
        self.start_date = _datetime(data.get("start_date"))
        self.expiration_date = _datetime(data.get("expiration_date"))
        self.remote_created_at = _datetime(data.get("created_at"))
        self.remote_payload = data
        self.last_error = self.last_error_key = self.last_request_id = ""

    @property
    def code_config(self) -> dict[str, Any]:
        voucher = (self.remote_payload or {}).get("voucher")
        config = voucher.get("code_config") if isinstance(voucher, dict) else None
        return config if isinstance(config, dict) else {}

    @property
    def generates_codes(self) -> bool:
        """Whether Voucherify can add codes to it (it has a voucher template)."""
        return isinstance((self.remote_payload or {}).get("voucher"), dict)


class ValidationRule(models.Model):
    """A Voucherify validation rule and its assignments as last seen (read-only in the admin)."""

    voucherify_id = models.CharField(_("Voucherify id"), max_length=100, unique=True)
    name = models.CharField(_("name"), max_length=255, db_index=True)
    type = models.CharField(_("type"), max_length=40, blank=True)
    context_type = models.CharField(_("context"), max_length=60, blank=True)
    error_message = models.TextField(_("error message"), blank=True)
    rules = models.JSONField(_("conditions"), default=dict, blank=True)
    #: ``[{"id", "related_object_type", "related_object_id", ...}]`` as Voucherify lists them.
    assignments = models.JSONField(_("assignments"), default=list, blank=True)
    assignments_count = models.PositiveIntegerField(_("assignments"), default=0)
    remote_created_at = models.DateTimeField(_("created in Voucherify"), null=True, blank=True)
    remote_payload = models.JSONField(_("Voucherify payload"), default=dict, blank=True)
    refreshed_at = models.DateTimeField(_("refreshed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("validation rule")
        verbose_name_plural = _("validation rules")
        ordering = ("name",)
        default_permissions = ("view",)  # read-only: rules are written in Voucherify

    def __str__(self) -> str:
        return self.name or self.voucherify_id

    def apply_voucherify(self, data: dict[str, Any], assignments: list[dict[str, Any]]) -> None:
        """Copy a Voucherify validation rule and its assignments onto this mirror (no save)."""
        self.voucherify_id = str(data.get("id") or self.voucherify_id)
        self.name = _text(data.get("name"), 255) or self.voucherify_id
        self.type = _text(data.get("type"), 40)
        self.context_type = _text(data.get("context_type"), 60)
        error = data.get("error")
        self.error_message = _text(error.get("message"), 10_000) if isinstance(error, dict) else ""
        rules = data.get("rules")
        self.rules = rules if isinstance(rules, dict) else {}
        self.assignments = assignments
        self.assignments_count = len(assignments)
        self.remote_created_at = _datetime(data.get("created_at"))
        self.remote_payload = data
