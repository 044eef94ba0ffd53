"""Celery tasks of django_voucherify, one module per feature (Celery's autodiscovery imports
this package; each submodule registers its tasks under a stable ``django_voucherify.*`` name).

Nothing imports this package at start-up (it pulls in Celery), and no feature imports it:
features enqueue tasks by name (:mod:`django_voucherify.background`), and workers find the
tasks through ``app.autodiscover_tasks()``.
"""

from . import connections  # noqa: F401  (connects the workers' connection handlers)
from .checkout import (
    checkout_sweep,
    late_check_checkout_redemption,
    reconcile_checkout_redemption,
    rollback_checkout_redemption,
)
from .jobs import poll_job_part, prepare_job, resume_jobs, submit_job_part
from .periodic import sweep
from .sync import deliver_outbox_entry, drain_outbox, redrive_outbox
from .vouchers import refresh_vouchers
from .webhooks import process_webhook_event

__all__ = [
    "checkout_sweep",
    "deliver_outbox_entry",
    "drain_outbox",
    "late_check_checkout_redemption",
    "poll_job_part",
    "prepare_job",
    "process_webhook_event",
    "reconcile_checkout_redemption",
    "redrive_outbox",
    "refresh_vouchers",
    "resume_jobs",
    "rollback_checkout_redemption",
    "submit_job_part",
    "sweep",
]
