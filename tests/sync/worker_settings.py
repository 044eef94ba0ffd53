"""Settings of the Celery worker subprocess started by the slow tests (env-driven)."""

import os

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES, VOUCHERIFY

VOUCHERIFY = {
    **VOUCHERIFY,
    "APP_ID": "sandbox-app-id",
    "SECRET_KEY": "sandbox-secret-key",
    "API_URL": os.environ.get("VOUCHERIFY_API_URL", "http://127.0.0.1:9"),
    "SYNC_MAX_ATTEMPTS": int(os.environ.get("VOUCHERIFY_SYNC_MAX_ATTEMPTS", "2")),
    "SYNC_RETRY_BACKOFF": 0.2,
    "SYNC_RETRY_BACKOFF_MAX": 0.5,
    "CONNECT_TIMEOUT": 0.5,
    "READ_TIMEOUT": 2.0,
    "MAX_RETRIES": 0,
    "SYNC_BATCH_SIZE": int(os.environ.get("VOUCHERIFY_SYNC_BATCH_SIZE", "50")),
}
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "celery")
# As docs/production.md recommends for workers: one connection kept across tasks.
DATABASES["default"]["CONN_MAX_AGE"] = 60
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
CELERY_DB_REUSE_MAX = 1000
