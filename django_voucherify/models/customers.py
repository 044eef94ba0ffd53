"""Mirror of a Voucherify customer (``source_id`` is the shop's identity of the customer)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .sync_state import SyncedMirror

ADDRESS_FIELDS = ("line_1", "line_2", "city", "state", "postal_code", "country")
#: The columns a customer's Voucherify body is made of, in :func:`customer_body`'s order: all a
#: bulk push reads (``.values_list(*BODY_FIELDS)``), never the rest of the row.
BODY_FIELDS = ("source_id", "name", "email", "phone", "description", "birthdate", *ADDRESS_FIELDS, "metadata")


def customer_body(
    source_id: str,
    name: str,
    email: str,
    phone: str,
    description: str,
    birthdate: date | None,
    line_1: str,
    line_2: str,
    city: str,
    state: str,
    postal_code: str,
    country: str,
    metadata: dict[str, Any] | None,
) -> dict[str, Any]:
    """The ``POST /v1/customers`` body from the :data:`BODY_FIELDS` values (one function for a
    saved instance and a bulk push's rows, so both send the same body)."""
    return {
        "source_id": source_id,
        "name": name or None,
        "email": email or None,
        "phone": phone or None,
        "description": description or None,
        "birthdate": birthdate.isoformat() if birthdate else None,
        "address": {
            "line_1": line_1 or None,
            "line_2": line_2 or None,
            "city": city or None,
            "state": state or None,
            "postal_code": postal_code or None,
            "country": country or None,
        },
        "metadata": dict(metadata or {}),
    }


class Customer(SyncedMirror):
    """A shop customer as Voucherify knows it; saving it queues an upsert (see ``sync``)."""

    source_id = models.CharField(_("source id"), max_length=200, unique=True)
    name = models.CharField(_("name"), max_length=200, blank=True)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=50, blank=True)
    birthdate = models.DateField(_("birthdate"), null=True, blank=True)
    description = models.TextField(_("description"), blank=True)
    line_1 = models.CharField(_("address line 1"), max_length=200, blank=True)
    line_2 = models.CharField(_("address line 2"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    state = models.CharField(_("state"), max_length=100, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=30, blank=True)
    country = models.CharField(_("country"), max_length=100, blank=True)
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="voucherify_customer",
    )

    sync_kind = "customer"

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ("pk",)

    def __str__(self) -> str:
        return self.name or self.email or self.source_id

    def to_voucherify(self) -> dict[str, Any]:
        """The ``POST /v1/customers`` body (an upsert keyed by ``source_id``)."""
        return customer_body(*(getattr(self, f) for f in BODY_FIELDS))

    def apply_voucherify(self, data: dict[str, Any]) -> None:
        """Copy a Voucherify customer object onto this mirror (no save); used by pulls."""
        self.voucherify_id = str(data.get("id") or self.voucherify_id)
        for f in ("name", "email", "phone", "description"):
            setattr(self, f, data.get(f) or "")
        birthdate = data.get("birthdate") or data.get("birthday")
        self.birthdate = birthdate[:10] if isinstance(birthdate, str) and birthdate else None
        address = data.get("address") or {}
        for f in ADDRESS_FIELDS:
            setattr(self, f, address.get(f) or "")
        self.metadata = data.get("metadata") or {}
        self.remote_payload = data
