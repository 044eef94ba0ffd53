"""The typed, validated ``settings.VOUCHERIFY``: one field per option of the table, and the
timing bounds derived from them (the one home of "how long can a call take").

The dataclass is declared field by field (so that mypy sees every attribute); a test keeps its
fields equal to :data:`~django_voucherify.conf.options.OPTIONS`.

Timing bounds, used by the system checks and by the features at run time:

- :meth:`VoucherifySettings.longest_request` bounds one client call: ``MAX_RETRIES + 1``
  attempts of at most ``CONNECT_TIMEOUT + read timeout`` each, separated by waits (backoff up
  to ``BACKOFF_MAX``, or what a 429's ``Retry-After`` asked for, which has no cap of its own).
  The transport starts no retry whose wait would end later than the retry budget after the
  first attempt started, so the waits and all attempts but the last fit in the budget: the call
  ends at most ``budget + connect + read`` after it started (``connect + read`` without retries).
- :meth:`~VoucherifySettings.longest_send` is what one outbox claim may spend sending
  (:data:`REQUESTS_PER_SEND` calls); the sync lease must exceed it (``voucherify.E012``).
- :meth:`~VoucherifySettings.longest_checkout_request` is the same bound for checkout's client
  (read timeout ``CHECKOUT_TIMEOUT``, budget ``min(RETRY_BUDGET, CHECKOUT_TIMEOUT)``), or the
  redeem's own window if longer; the reconcile grace must exceed it (``voucherify.E024``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from ..secret import Secret, masked_url

#: Client calls one delivery may make for one claim (orders: update, then create after a 404;
#: a SKU moved to another product: its product, the SKU (409), read it, delete it, create it).
REQUESTS_PER_SEND = 5

#: Fields whose URL may carry a gateway's password (``https://user:password@host``).
_URL_FIELDS = frozenset({"api_url", "download_url"})


@dataclass(frozen=True)
class VoucherifySettings:
    """A validated snapshot of ``settings.VOUCHERIFY``; read it through ``conf.settings()``.

    ``secret_key`` is a :class:`~django_voucherify.secret.Secret`: masked in ``repr``, ``vars``
    and every error page; the client sends it. The credentials are empty when unset: only
    ``conf.get_settings()`` (the client's builder) requires them.
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
    #: Out of the repr: a proxy's URL may carry its password (``http://user:password@host``).
    proxies: dict[str, str] | None = field(repr=False)
    verify: bool | str
    log_bodies: bool
    sync_enabled: bool
    sync_permanent_delete: bool
    sync_max_attempts: int
    sync_retry_backoff: float
    sync_retry_backoff_max: float
    sync_lease_seconds: float
    sync_batch_size: int
    #: A ``settings.CACHES`` alias, or None (one delivery message per save).
    sync_drain_cache: str | None
    bulk_chunk_bytes: int
    voucher_action_inline_limit: int
    voucher_rate_limit_wait: float
    #: Upper-cased ISO 4217 code, or None (amounts shown as minor units).
    currency: str | None
    job_storage: str
    job_upload_to: str
    job_poll_interval: float
    job_poll_interval_max: float
    job_resubmit_after: float
    job_max_age: float
    job_upload_retention: float
    job_upload_max_bytes: int
    export_retention_days: int
    checkout_outage_policy: str
    checkout_timeout: float
    checkout_reconcile_grace: float
    #: Resolved: when unset, 3600 s or twice the grace if longer (so that a long grace set
    #: before the option existed stays valid).
    checkout_late_check_after: float
    checkout_rollback_backoff: float
    checkout_rollback_backoff_max: float
    checkout_reconcile_max_attempts: int
    checkout_attention_interval: float
    checkout_task_lease: float
    checkout_anonymous_max_codes: int
    #: Campaign names or ids the REST ``publications/`` endpoint may publish from for shoppers.
    self_service_campaigns: tuple[str, ...]
    #: Each a :class:`~django_voucherify.secret.Secret` (masked everywhere).
    webhook_secrets: tuple[Secret, ...] = field(repr=False)
    webhook_max_body_bytes: int
    webhook_max_attempts: int
    webhook_retention_days: int

    def __repr__(self) -> str:
        """The generated repr's fields, with a password in ``api_url``/``download_url`` masked."""
        shown = []
        for item in fields(self):
            if item.repr:
                value = getattr(self, item.name)
                if item.name in _URL_FIELDS and isinstance(value, str):
                    value = masked_url(value)
                shown.append(f"{item.name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    def longest_request(
        self, *, read_timeout: float | None = None, retry_budget: float | None = None
    ) -> float:
        """Seconds one client call may take at most (the shared client's timeouts unless given)."""
        read = self.read_timeout if read_timeout is None else read_timeout
        budget = self.retry_budget if retry_budget is None else retry_budget
        return self.connect_timeout + read + (budget if self.max_retries else 0.0)

    def longest_send(self) -> float:
        """Seconds one outbox claim may spend in client calls."""
        return REQUESTS_PER_SEND * self.longest_request()

    def checkout_retry_budget(self) -> float:
        """The retry budget of checkout's client: no retry may outlast ``CHECKOUT_TIMEOUT``."""
        return min(self.retry_budget, self.checkout_timeout)

    def longest_checkout_request(self) -> float:
        """Seconds a checkout request may take at most.

        The redeem is sent once, and must start leaving within connect + read timeout of its
        ledger row's creation (later it is never sent: ``checkout.redeem``); Voucherify then
        answers within the read timeout or the caller gives up: ``connect + 2 * read``. Other
        checkout calls are retried within :meth:`checkout_retry_budget`.
        """
        read = self.checkout_timeout
        retried = self.longest_request(read_timeout=read, retry_budget=self.checkout_retry_budget())
        return max(self.connect_timeout + 2 * read, retried)
