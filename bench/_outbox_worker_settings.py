"""Settings of the Celery worker that ``bench/sync_outbox_throughput.py`` starts (env-driven).

The database connection follows docs/production.md (``CONN_MAX_AGE`` + ``CONN_HEALTH_CHECKS``);
``BENCH_CONN_MAX_AGE=0`` measures Django's default (a new connection per task).
"""

import os

from tests.sync.worker_settings import *  # noqa: F403
from tests.sync.worker_settings import DATABASES, VOUCHERIFY

_max_age = os.environ.get("BENCH_CONN_MAX_AGE", "60")  # 0: a new connection per task (Django default)
DATABASES["default"]["CONN_MAX_AGE"] = None if _max_age == "none" else int(_max_age)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
VOUCHERIFY = {
    **VOUCHERIFY,
    "SYNC_MAX_ATTEMPTS": 6,
    "READ_TIMEOUT": 20.0,
    "CONNECT_TIMEOUT": 3.0,
}
if os.environ.get("BENCH_DRAIN_CACHE_URL"):
    # One drain message per burst (docs/sync.md): a cache the bench process shares.
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "drain": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["BENCH_DRAIN_CACHE_URL"],
            "KEY_PREFIX": os.environ.get("BENCH_DRAIN_CACHE_PREFIX", ""),
        },
    }
    VOUCHERIFY["SYNC_DRAIN_CACHE"] = "drain"
if "BENCH_SYNC_BATCH_SIZE" in os.environ:
    VOUCHERIFY["SYNC_BATCH_SIZE"] = int(os.environ["BENCH_SYNC_BATCH_SIZE"])
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
