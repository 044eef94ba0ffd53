"""Celery tasks of django_voucherify, one module per feature (Celery's autodiscovery imports
this package; each submodule registers its tasks under a stable ``django_voucherify.*`` name)."""

from .sync import deliver_outbox_entry, redrive_outbox
from .vouchers import refresh_vouchers, run_voucher_action

__all__ = ["deliver_outbox_entry", "redrive_outbox", "refresh_vouchers", "run_voucher_action"]
