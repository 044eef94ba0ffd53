"""The reference of every ``settings.VOUCHERIFY`` option: default, meaning, system checks.

``docs/settings.md`` is generated from this table (no project needed: ``python -m
django_voucherify.settings_reference > docs/settings.md``) and a test keeps the two equal, and
keeps the table's options equal to the options the code reads (:data:`conf.DEFAULTS` and
:data:`checkout.conf.CHECKOUT_DEFAULTS`): a new option cannot ship undocumented.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Option:
    name: str
    meaning: str
    checks: tuple[str, ...] = ()
    page: str = "configuration.md"


OPTIONS: tuple[Option, ...] = (
    Option(
        "APP_ID", "Your Voucherify Application ID (Project settings > Application Keys). Required.", ("E001",)
    ),
    Option(
        "SECRET_KEY", "Your App Secret Key. Required; never logged, never in a repr or exception.", ("E002",)
    ),
    Option(
        "API_URL",
        "The server root of your cluster (`https://us1.api.voucherify.io`...) or of "
        "the sandbox; the client adds `/v1/...`.",
        ("E003", "W001"),
    ),
    Option(
        "DOWNLOAD_URL",
        "Where export files are served; `None` derives it (`download.` beside "
        "`api.` on Voucherify's clusters, the API URL otherwise).",
        ("E003",),
    ),
    Option("CONNECT_TIMEOUT", "Seconds to open a connection.", ("E004", "W002")),
    Option("READ_TIMEOUT", "Seconds to wait for each read of a response.", ("E004", "W002")),
    Option(
        "MAX_RETRIES",
        "Extra attempts of a request that is safe to repeat (0: none). A redeem is never retried.",
        ("E005",),
    ),
    Option(
        "RETRY_BUDGET",
        "No retry starts later than this many seconds after the first attempt.",
        ("E005", "W003"),
    ),
    Option(
        "BACKOFF_BASE",
        "Backoff of retry *n*: `uniform(0, min(BACKOFF_MAX, BACKOFF_BASE * 2**n))` seconds.",
        ("E005",),
    ),
    Option("BACKOFF_MAX", "The longest backoff between two retries (s).", ("E005",)),
    Option("POOL_SIZE", "Keep-alive connections kept per process.", ("E006",)),
    Option("TRUST_ENV", "Honour `HTTPS_PROXY`, `NO_PROXY`, `REQUESTS_CA_BUNDLE`, `.netrc`.", ("E011",)),
    Option("PROXIES", 'Explicit proxies, e.g. `{"https": "http://proxy:3128"}`.'),
    Option("VERIFY", "TLS verification, or the path of a CA bundle."),
    Option("LOG_BODIES", "Log request and response bodies at DEBUG (never credentials).", ("E011",)),
    Option("SYNC_ENABLED", "Saves of mirrored models write outbox rows.", ("E011",), "sync.md"),
    Option(
        "SYNC_PERMANENT_DELETE",
        "Deleting a customer erases it permanently in Voucherify.",
        ("E011",),
        "sync.md",
    ),
    Option(
        "SYNC_MAX_ATTEMPTS", "Attempts of an outbox entry before it is marked failed.", ("E010",), "sync.md"
    ),
    Option("SYNC_RETRY_BACKOFF", "First delay between two attempts of an entry (s).", ("E010",), "sync.md"),
    Option(
        "SYNC_RETRY_BACKOFF_MAX", "Longest delay between two attempts of an entry (s).", ("E010",), "sync.md"
    ),
    Option(
        "SYNC_LEASE_SECONDS",
        "How long a sender holds an entry before another may take it; must exceed the longest send.",
        ("E010", "E012"),
        "sync.md",
    ),
    Option(
        "BULK_CHUNK_BYTES",
        "Size limit of one bulk request body (Voucherify refuses 10 MB).",
        ("E010",),
        "jobs.md",
    ),
    Option(
        "VOUCHER_ACTION_INLINE_LIMIT",
        "An admin action on more vouchers than this runs in a "
        "Celery task instead of the request (0: always).",
        ("E030",),
        "admin.md",
    ),
    Option(
        "VOUCHER_RATE_LIMIT_WAIT",
        "The longest `Retry-After` (s) an admin request waits out on a 429; longer hands the rest to Celery.",
        ("E031",),
        "admin.md",
    ),
    Option(
        "JOB_STORAGE",
        "Alias in `settings.STORAGES` for uploads, CSV parts and exports (keep it "
        "private: it holds customer data).",
        ("E040",),
        "jobs.md",
    ),
    Option("JOB_UPLOAD_TO", "Folder inside that storage.", ("E042",), "jobs.md"),
    Option(
        "JOB_POLL_INTERVAL",
        "First delay between two polls of an async action (s), growing x1.5.",
        ("E041",),
        "jobs.md",
    ),
    Option("JOB_POLL_INTERVAL_MAX", "Longest delay between two polls (s).", ("E041",), "jobs.md"),
    Option(
        "JOB_RESUBMIT_AFTER",
        "An interrupted submit with no matching async action is sent again after this (s).",
        ("E041", "W040"),
        "jobs.md",
    ),
    Option(
        "JOB_MAX_AGE",
        "An unfinished job older than this is failed with the last known status (s).",
        ("E043",),
        "jobs.md",
    ),
    Option(
        "JOB_UPLOAD_RETENTION",
        "Seconds an uploaded source is kept after its job ends (0: deleted when the job ends).",
        ("E044",),
        "jobs.md",
    ),
    Option(
        "CHECKOUT_OUTAGE_POLICY",
        '`"refuse"` or `"proceed_without_discount"` when Voucherify cannot answer.',
        ("E020",),
        "checkout.md",
    ),
    Option(
        "CHECKOUT_TIMEOUT",
        "Read timeout and retry budget of checkout calls (s).",
        ("E021", "W020"),
        "checkout.md",
    ),
    Option(
        "CHECKOUT_RECONCILE_GRACE",
        "How long after an unanswered redeem reconciliation may "
        'conclude "not redeemed"; must exceed the longest request.',
        ("E022", "E024"),
        "checkout.md",
    ),
    Option(
        "CHECKOUT_LATE_CHECK_AFTER",
        'When a row concluded "not redeemed" is checked once more (s); must exceed the grace. '
        "Unset: 3600, or twice the grace if longer.",
        ("E022", "E026"),
        "checkout.md",
    ),
    Option(
        "CHECKOUT_ROLLBACK_BACKOFF", "First delay between rollback attempts (s).", ("E022",), "checkout.md"
    ),
    Option(
        "CHECKOUT_ROLLBACK_BACKOFF_MAX",
        "Longest delay between rollback attempts (s).",
        ("E022",),
        "checkout.md",
    ),
    Option(
        "CHECKOUT_RECONCILE_MAX_ATTEMPTS",
        "Reads before a row still unknown is flagged for staff.",
        ("E023",),
        "checkout.md",
    ),
    Option(
        "CHECKOUT_ATTENTION_INTERVAL",
        "How often the sweep re-reads a flagged row (s).",
        ("E022",),
        "checkout.md",
    ),
    Option(
        "CHECKOUT_TASK_LEASE",
        "How long a ledger row's task holds it past its due time (s).",
        ("E022",),
        "checkout.md",
    ),
    Option(
        "CHECKOUT_ANONYMOUS_MAX_CODES",
        "Codes one anonymous REST validate request may name (1 to 30).",
        ("E025",),
        "checkout.md",
    ),
)


def defaults() -> dict[str, Any]:
    """Every option the code reads, with its default."""
    from .checkout.conf import CHECKOUT_DEFAULTS
    from .conf import DEFAULTS

    return {**DEFAULTS, **CHECKOUT_DEFAULTS}


def _default(value: Any) -> str:
    if value is None:
        return "`None`"
    if isinstance(value, float) and value.is_integer() and value >= 3600:
        return f"`{value:g}`"
    return f"`{value!r}`"


def markdown() -> str:
    """The generated ``docs/settings.md``."""
    values = defaults()
    lines = [
        "# Every setting",
        "",
        "<!-- Generated by `python -m django_voucherify.settings_reference > docs/settings.md`; "
        "a test keeps it current. -->",
        "",
        "All options live in one dict, `settings.VOUCHERIFY`. Only `APP_ID` and `SECRET_KEY` are "
        "required. `manage.py check` validates every option; the check ids below are "
        "`voucherify.<id>`, and each capability's page says more.",
        "",
        "| Option | Default | Meaning | Checks | Page |",
        "|---|---|---|---|---|",
    ]
    for option in OPTIONS:
        checks = ", ".join(f"`{c}`" for c in option.checks) or "-"
        lines.append(
            f"| `{option.name}` | {_default(values[option.name])} | {option.meaning} | {checks} "
            f"| [{option.page.removesuffix('.md')}]({option.page}) |"
        )
    lines += ["", "Unknown keys are reported by `voucherify.W004`, with the closest option.", ""]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    import django
    from django.conf import settings

    settings.configure(
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django_voucherify"]
    )
    django.setup()
    print(markdown(), end="")
