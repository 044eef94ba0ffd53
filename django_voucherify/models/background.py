"""The fields every row driven by background work shares (abstract mixins).

- :class:`LastVoucherifyError`: the one spelling of "the last Voucherify error" (message, its
  ``key``, the ``request_id`` to quote to Voucherify's support), on every model that records
  one: outbox entries, ledger rows, the customer/order mirrors and vouchers.
- :class:`BackgroundWork`: when the next step is due and who holds the row until when, the
  fields :mod:`django_voucherify.background` claims, leases and releases. Attempts are counted
  by each feature (the outbox per entry, the ledger per kind of step).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

#: The error fields (:func:`django_voucherify.background.error_fields` gives their values).
ERROR_FIELDS = ("last_error", "last_error_key", "last_request_id")


class LastVoucherifyError(models.Model):
    last_error = models.TextField(_("last error"), blank=True)
    last_error_key = models.CharField(_("last error key"), max_length=100, blank=True)
    last_request_id = models.CharField(_("last request id"), max_length=100, blank=True)

    class Meta:
        abstract = True


class BackgroundWork(LastVoucherifyError):
    # NULL: due at once. The sweep takes rows due and not leased, earliest due first.
    due_at = models.DateTimeField(_("due at"), null=True, blank=True, db_index=True)
    lease_until = models.DateTimeField(_("leased until"), null=True, blank=True)
    # A new token per lease: a stalled holder's late write finds another token and is dropped.
    lease_token = models.CharField(_("lease token"), max_length=32, blank=True, editable=False)

    class Meta:
        abstract = True
