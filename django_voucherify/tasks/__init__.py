"""Celery tasks of django_voucherify, one module per feature (Celery's autodiscovery imports
this package; each submodule registers its tasks under a stable ``django_voucherify.*`` name)."""

from .jobs import poll_job_part, prepare_job, resume_jobs, submit_job_part
from .sync import deliver_outbox_entry, redrive_outbox
from .vouchers import refresh_vouchers, run_voucher_action

__all__ = [
    "deliver_outbox_entry",
    "poll_job_part",
    "prepare_job",
    "redrive_outbox",
    "refresh_vouchers",
    "resume_jobs",
    "run_voucher_action",
    "submit_job_part",
]
