"""The ``VOUCHERIFY`` settings dict, read when needed (never frozen at import time).

Every option has a default except the two credentials. Options are looked up through
:func:`get_settings`, which validates types and builds a :class:`VoucherifySettings`; the system
checks in :mod:`django_voucherify.checks` report the same problems with hints at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

from .secret import MASK, Secret

#: Voucherify's Europe cluster, the account default (``https://{cluster}.voucherify.io``).
DEFAULT_API_URL = "https://api.voucherify.io"

#: Options a shop may set in ``settings.VOUCHERIFY`` and their defaults.
DEFAULTS: dict[str, Any] = {
    "APP_ID": None,
    "SECRET_KEY": None,
    "API_URL": DEFAULT_API_URL,
    # Where export files are downloaded from; derived from API_URL when None.
    "DOWNLOAD_URL": None,
    # Seconds to open a connection, and to wait for each read.
    "CONNECT_TIMEOUT": 3.05,
    "READ_TIMEOUT": 20.0,
    # Retries of safe requests: at most MAX_RETRIES more attempts, all within RETRY_BUDGET seconds.
    "MAX_RETRIES": 3,
    "RETRY_BUDGET": 20.0,
    "BACKOFF_BASE": 0.25,
    "BACKOFF_MAX": 8.0,
    # Connection pool size of the shared requests.Session (one per worker thread is plenty).
    "POOL_SIZE": 10,
    # Honour HTTP(S)_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE and .netrc from the environment. Off by
    # default: requests re-reads the environment on every call when it is on, which is slow.
    "TRUST_ENV": False,
    "PROXIES": None,
    "VERIFY": True,
    # Log request and response bodies (never credentials) at DEBUG level.
    "LOG_BODIES": False,
    # Customer/order mirrors (django_voucherify.sync): switch the outbox signals on or off,
    # erase customers permanently on delete (GDPR), attempts before an entry is marked failed,
    # first retry delay and cap (seconds), the claim lease of a sending worker (seconds), and the
    # JSON size of one customers bulk-update request (Voucherify refuses bodies over 10 MB).
    "SYNC_ENABLED": True,
    "SYNC_PERMANENT_DELETE": False,
    "SYNC_MAX_ATTEMPTS": 6,
    "SYNC_RETRY_BACKOFF": 5.0,
    "SYNC_RETRY_BACKOFF_MAX": 600.0,
    "SYNC_LEASE_SECONDS": 300.0,
    "BULK_CHUNK_BYTES": 9_000_000,
    # Voucher admin: selections larger than this run their action in a Celery task, not in the
    # admin request; and the longest Retry-After (seconds) an admin request waits out on a 429.
    "VOUCHER_ACTION_INLINE_LIMIT": 20,
    "VOUCHER_RATE_LIMIT_WAIT": 5.0,
    # Bulk jobs (django_voucherify.jobs): the storage alias (settings.STORAGES) and folder of
    # uploaded sources, CSV parts and export files; the first and the longest delay between two
    # polls of an async action (seconds); how long after an interrupted submit with no matching
    # async action at Voucherify the part is sent again (seconds); the age after which an
    # unfinished job is given up and failed with the last known status (seconds).
    "JOB_STORAGE": "default",
    "JOB_UPLOAD_TO": "voucherify/jobs",
    "JOB_POLL_INTERVAL": 2.0,
    "JOB_POLL_INTERVAL_MAX": 60.0,
    "JOB_RESUBMIT_AFTER": 120.0,
    "JOB_MAX_AGE": 7 * 24 * 3600.0,
    # Seconds an uploaded job source (customer data) is kept after its job ends; 0 deletes it
    # when the job ends (see django_voucherify.jobs.uploads).
    "JOB_UPLOAD_RETENTION": 0,
}

SETTING_NAME = "VOUCHERIFY"


@dataclass(frozen=True)
class VoucherifySettings:
    """A validated snapshot of ``settings.VOUCHERIFY`` (defaults live in :data:`DEFAULTS` only).

    ``secret_key`` is a :class:`~django_voucherify.secret.Secret`: masked in ``repr``, ``vars``
    and every error page; the client sends it.
    """

    app_id: str
    secret_key: Secret = field(repr=False)
    api_url: str
    download_url: str | None
    connect_timeout: float
    read_timeout: float
    max_retries: int
    retry_budget: float
    backoff_base: float
    backoff_max: float
    pool_size: int
    trust_env: bool
    proxies: dict[str, str] | None
    verify: bool | str
    log_bodies: bool
    sync_enabled: bool
    sync_permanent_delete: bool
    sync_max_attempts: int
    sync_retry_backoff: float
    sync_retry_backoff_max: float
    sync_lease_seconds: float
    bulk_chunk_bytes: int
    voucher_action_inline_limit: int
    voucher_rate_limit_wait: float
    job_storage: str
    job_upload_to: str
    job_poll_interval: float
    job_poll_interval_max: float
    job_resubmit_after: float
    job_max_age: float
    job_upload_retention: float
    extra: dict[str, Any] = field(default_factory=dict)


def raw_settings() -> dict[str, Any]:
    """The ``VOUCHERIFY`` dict merged over :data:`DEFAULTS` (unknown keys kept for add-ons)."""
    configured = getattr(django_settings, SETTING_NAME, None) or {}
    if not isinstance(configured, dict):
        raise ImproperlyConfigured(
            f"settings.{SETTING_NAME} must be a dict, got {type(configured).__name__}."
        )
    return {**DEFAULTS, **configured}


def _convert(cast: type[int] | type[float], key: str, value: Any) -> Any:
    """``cast(value)``, or ImproperlyConfigured naming the option (never a bare ValueError)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ImproperlyConfigured(f"settings.{SETTING_NAME}['{key}'] must be a number, got {value!r}.")
    return cast(value)


def _take_secret(values: dict[str, Any]) -> Secret | None:
    """Swap ``values['SECRET_KEY']`` for a mask (valid to the checks exactly when the real one
    is) and return the real one as a :class:`Secret` (None when it is missing or not a string)."""
    raw = values.get("SECRET_KEY")
    if not isinstance(raw, str | Secret):
        return None
    secret = Secret.wrap(raw)
    values["SECRET_KEY"] = MASK if (raw.strip() if isinstance(raw, str) else raw) else ""
    return secret


def get_settings() -> VoucherifySettings:
    """Validate ``settings.VOUCHERIFY`` and return it as :class:`VoucherifySettings`.

    Raises :class:`~django.core.exceptions.ImproperlyConfigured` naming the option to fix.
    """
    from .checks import settings_problems  # the checks and this lookup share one validator

    values = raw_settings()
    # First of all, so that no frame below (a validation error raised here is rendered with its
    # locals on Django's error pages) ever holds the token as a string.
    secret_key = _take_secret(values)
    errors = [p for p in settings_problems(values) if p.is_serious()]
    if errors:
        first = errors[0]
        raise ImproperlyConfigured(f"{first.msg} {first.hint or ''}".strip())
    known = {k.lower(): values[k] for k in DEFAULTS}
    extra = {k: v for k, v in values.items() if k not in DEFAULTS}

    def number(cast: type[int] | type[float], key: str) -> Any:
        return _convert(cast, key, values[key])

    return VoucherifySettings(
        app_id=str(known["app_id"]),
        secret_key=secret_key or Secret(""),
        api_url=str(known["api_url"]).rstrip("/"),
        download_url=(str(known["download_url"]).rstrip("/") if known["download_url"] else None),
        connect_timeout=number(float, "CONNECT_TIMEOUT"),
        read_timeout=number(float, "READ_TIMEOUT"),
        max_retries=number(int, "MAX_RETRIES"),
        retry_budget=number(float, "RETRY_BUDGET"),
        backoff_base=number(float, "BACKOFF_BASE"),
        backoff_max=number(float, "BACKOFF_MAX"),
        pool_size=number(int, "POOL_SIZE"),
        trust_env=bool(known["trust_env"]),
        proxies=known["proxies"],
        verify=known["verify"],
        log_bodies=bool(known["log_bodies"]),
        sync_enabled=bool(known["sync_enabled"]),
        sync_permanent_delete=bool(known["sync_permanent_delete"]),
        sync_max_attempts=number(int, "SYNC_MAX_ATTEMPTS"),
        sync_retry_backoff=number(float, "SYNC_RETRY_BACKOFF"),
        sync_retry_backoff_max=number(float, "SYNC_RETRY_BACKOFF_MAX"),
        sync_lease_seconds=number(float, "SYNC_LEASE_SECONDS"),
        bulk_chunk_bytes=number(int, "BULK_CHUNK_BYTES"),
        job_storage=str(known["job_storage"]),
        job_upload_to=str(known["job_upload_to"]),
        job_poll_interval=number(float, "JOB_POLL_INTERVAL"),
        job_poll_interval_max=number(float, "JOB_POLL_INTERVAL_MAX"),
        job_resubmit_after=number(float, "JOB_RESUBMIT_AFTER"),
        job_max_age=number(float, "JOB_MAX_AGE"),
        job_upload_retention=number(float, "JOB_UPLOAD_RETENTION"),
        voucher_action_inline_limit=number(int, "VOUCHER_ACTION_INLINE_LIMIT"),
        voucher_rate_limit_wait=number(float, "VOUCHER_RATE_LIMIT_WAIT"),
        extra=extra,
    )
