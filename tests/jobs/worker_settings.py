"""Settings of the Celery worker subprocesses of the job tests (env-driven)."""

import os

from tests.sync.worker_settings import *  # noqa: F403
from tests.sync.worker_settings import VOUCHERIFY

VOUCHERIFY = {
    **VOUCHERIFY,
    "JOB_POLL_INTERVAL": 0.3,
    "JOB_POLL_INTERVAL_MAX": 0.6,
    "JOB_RESUBMIT_AFTER": float(os.environ.get("VOUCHERIFY_JOB_RESUBMIT_AFTER", "8")),
    "READ_TIMEOUT": 5.0,
}
MEDIA_ROOT = os.environ.get("MEDIA_ROOT", "/tmp/voucherify-job-tests")
# A killed worker's unacknowledged messages come back after 2 s, checked every second (Redis
# transport; production keeps the defaults: an hour). Early re-deliveries of live messages are
# harmless: every job task is idempotent.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 2,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
