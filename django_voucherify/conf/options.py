"""The table of every ``settings.VOUCHERIFY`` option: the one place a key is declared.

Each :class:`Option` gives the key's type, default, bounds, meaning, check ids and docs page.
Everything else is derived from it: the typed :class:`~django_voucherify.conf.values.VoucherifySettings`
(a test keeps its fields equal to the keys), the per-key validation shared by ``conf.settings()``
and the system checks (:mod:`~django_voucherify.conf.rules`), and ``docs/settings.md``
(:mod:`django_voucherify.settings_reference`). A new option is one row here and one field there.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

#: Voucherify's Europe cluster, the account default (``https://{cluster}.voucherify.io``).
DEFAULT_API_URL = "https://api.voucherify.io"

#: Checkout's outage policies: refuse the codes with a clear message when Voucherify is
#: unreachable or slow, or let the order go through at full price (the codes are not applied).
REFUSE = "refuse"
PROCEED_WITHOUT_DISCOUNT = "proceed_without_discount"
OUTAGE_POLICIES = (REFUSE, PROCEED_WITHOUT_DISCOUNT)

#: Codes one redeem/validate request may name (Voucherify's limit of redeemables).
MAX_REDEEMABLES = 30

#: The longest retention in days (100 years): the sweeps take it from the current time, and a
#: date before year 1 does not exist.
MAX_RETENTION_DAYS = 36_500

#: The late check's delay when ``CHECKOUT_LATE_CHECK_AFTER`` is unset (unless the grace is longer).
DEFAULT_LATE_CHECK_AFTER = 3600.0


class Kind(Enum):
    """How a value is validated (and which Python type its field has)."""

    TEXT = "text"  # a non-empty string
    URL = "url"  # an absolute http(s) server root
    NUMBER = "number"  # int or float (never a bool), within the option's bounds
    BOOL = "bool"  # True or False: environment strings are refused, not guessed
    CHOICE = "choice"  # one of the option's choices
    FOLDER = "folder"  # a non-empty folder name (not only slashes)
    PROXIES = "proxies"  # None, or a dict of scheme (or "all", or a URL) to proxy URL
    VERIFY = "verify"  # True, False, or the path of a CA bundle (handed to requests as it is)
    SECRETS = "secrets"  # a list of non-empty strings, held as Secrets (never shown)
    CURRENCY = "currency"  # an ISO 4217 code: three ASCII letters (upper-cased when read)
    CAMPAIGNS = "campaigns"  # a list of campaign names or ids under identifiers.campaign_defect (a tuple)


@dataclass(frozen=True)
class Option:
    name: str
    kind: Kind
    default: Any
    meaning: str
    #: Every check id that can name this option, the per-key one first.
    checks: tuple[str, ...] = ()
    #: What to set, shown with the per-key error.
    hint: str = ""
    page: str = "configuration.md"
    minimum: float | None = None
    #: ``minimum`` itself is refused (the value must be strictly above it).
    above: bool = False
    maximum: float | None = None
    integer: bool = False
    #: ``None`` is a valid value (meaning "derive it" or "none").
    nullable: bool = False
    choices: tuple[str, ...] = ()
    #: Only the client needs it: reading the other options never requires it.
    required: bool = False

    @property
    def field(self) -> str:
        """The attribute of :class:`VoucherifySettings` holding this option."""
        return self.name.lower()

    @property
    def check_id(self) -> str | None:
        """The id of the error this option's own value can raise."""
        return f"voucherify.{self.checks[0]}" if self.checks else None


_CREDENTIALS_HINT = (
    "Set VOUCHERIFY = {{'{key}': ...}} in your settings, from Voucherify's Project settings > "
    "Application Keys (read it from the environment, e.g. env('VOUCHERIFY_{key}')). It is "
    "sent as a header, so without a line break at its end: a file (a Docker or "
    "Kubernetes secret) or a secret manager often ends it with a line break; strip it, e.g. "
    "Path('/run/secrets/voucherify').read_text().strip()."
)
_URL_HINT = (
    "Use your cluster's URL: https://api.voucherify.io (Europe), https://us1.api.voucherify.io "
    "(US), https://as1.api.voucherify.io (Asia), or the sandbox's, e.g. http://127.0.0.1:8100."
)
_TIMEOUT_HINT = "Typical values: CONNECT_TIMEOUT 3.05, READ_TIMEOUT 20."
_DEFAULT_HINT = "Leave it unset to use the default."
_BOOL_HINT = "Environment values are strings: read them with env.bool(...)."
_SYNC_HINT = "Leave it unset to use the default (see docs/sync.md)."
_SECONDS_HINT = "A number of seconds; leave it unset to use the default."


def _seconds(
    name: str, default: float | None, meaning: str, checks: tuple[str, ...], page: str, **kw: Any
) -> Option:
    return Option(name, Kind.NUMBER, default, meaning, checks, page=page, **{"minimum": 0, **kw})


OPTIONS: tuple[Option, ...] = (
    # -- the client -------------------------------------------------------------------------
    Option(
        "APP_ID",
        Kind.TEXT,
        None,
        "Your Voucherify Application ID (Project settings > Application Keys). Required.",
        ("E001",),
        _CREDENTIALS_HINT.format(key="APP_ID"),
        required=True,
    ),
    Option(
        "SECRET_KEY",
        Kind.TEXT,
        None,
        "Your App Secret Key. Required; never logged, never in a repr or exception.",
        ("E002",),
        _CREDENTIALS_HINT.format(key="SECRET_KEY"),
        required=True,
    ),
    Option(
        "API_URL",
        Kind.URL,
        DEFAULT_API_URL,
        "The server root of your cluster (`https://us1.api.voucherify.io`...) or of "
        "the sandbox; the client adds `/v1/...`.",
        ("E003", "W001"),
        _URL_HINT,
    ),
    Option(
        "DOWNLOAD_URL",
        Kind.URL,
        None,
        "Where export files are served; `None` derives it (`download.` beside "
        "`api.` on Voucherify's clusters, the API URL otherwise).",
        ("E003",),
        _URL_HINT,
        nullable=True,
    ),
    Option(
        "CONNECT_TIMEOUT",
        Kind.NUMBER,
        3.05,
        "Seconds to open a connection.",
        ("E004", "W002"),
        _TIMEOUT_HINT,
        minimum=0,
        above=True,
    ),
    Option(
        "READ_TIMEOUT",
        Kind.NUMBER,
        20.0,
        "Seconds to wait for each read of a response.",
        ("E004", "W002"),
        _TIMEOUT_HINT,
        minimum=0,
        above=True,
    ),
    Option(
        "MAX_RETRIES",
        Kind.NUMBER,
        3,
        "Extra attempts of a request that is safe to repeat (0: none). A redeem is never retried.",
        ("E005",),
        "Use 0 to switch retries off; 3 is the default.",
        minimum=0,
        maximum=10,
        integer=True,
    ),
    Option(
        "RETRY_BUDGET",
        Kind.NUMBER,
        20.0,
        "No retry starts later than this many seconds after the first attempt.",
        ("E005", "W003"),
        _DEFAULT_HINT,
        minimum=0,
    ),
    Option(
        "BACKOFF_BASE",
        Kind.NUMBER,
        0.25,
        "Backoff of retry *n*: `uniform(0, min(BACKOFF_MAX, BACKOFF_BASE * 2**n))` seconds.",
        ("E005",),
        _DEFAULT_HINT,
        minimum=0,
    ),
    Option(
        "BACKOFF_MAX",
        Kind.NUMBER,
        8.0,
        "The longest backoff between two retries (s).",
        ("E005",),
        _DEFAULT_HINT,
        minimum=0,
    ),
    Option(
        "POOL_SIZE",
        Kind.NUMBER,
        10,
        "Keep-alive connections kept per process.",
        ("E006",),
        "Leave it unset (10) or set it to the number of threads per process.",
        minimum=1,
        maximum=1000,  # urllib3 fills each pool with that many slots at its first request
        integer=True,
    ),
    Option(
        "TRUST_ENV",
        Kind.BOOL,
        False,
        "Honour `HTTPS_PROXY`, `NO_PROXY`, `REQUESTS_CA_BUNDLE`, `.netrc`.",
        ("E011",),
        _BOOL_HINT,
    ),
    Option(
        "PROXIES",
        Kind.PROXIES,
        None,
        'Explicit proxies, e.g. `{"https": "http://proxy:3128"}`.',
        ("E007",),
        "A dict of scheme to proxy URL, e.g. {'https': 'http://proxy:3128'}, or None (with "
        "TRUST_ENV, HTTPS_PROXY is read from the environment).",
        nullable=True,
    ),
    Option(
        "VERIFY",
        Kind.VERIFY,
        True,
        "TLS verification, or the path of a CA bundle.",
        ("E007",),
        "True (the default), or the path of a CA bundle file; False switches TLS verification off.",
    ),
    Option(
        "LOG_BODIES",
        Kind.BOOL,
        False,
        "Log request and response bodies at DEBUG (never credentials).",
        ("E011",),
        _BOOL_HINT,
    ),
    # -- sync (mirrors and the outbox) ------------------------------------------------------
    Option(
        "SYNC_ENABLED",
        Kind.BOOL,
        True,
        "Saves of mirrored models write outbox rows.",
        ("E011",),
        _BOOL_HINT,
        page="sync.md",
    ),
    Option(
        "SYNC_PERMANENT_DELETE",
        Kind.BOOL,
        False,
        "Deleting a customer erases it permanently in Voucherify.",
        ("E011",),
        _BOOL_HINT,
        page="sync.md",
    ),
    Option(
        "SYNC_MAX_ATTEMPTS",
        Kind.NUMBER,
        6,
        "Attempts of an outbox entry before it is marked failed.",
        ("E010",),
        _SYNC_HINT,
        page="sync.md",
        minimum=1,
        integer=True,
    ),
    _seconds(
        "SYNC_RETRY_BACKOFF",
        5.0,
        "First delay between two attempts of an entry (s).",
        ("E010",),
        "sync.md",
        hint=_SYNC_HINT,
    ),
    _seconds(
        "SYNC_RETRY_BACKOFF_MAX",
        600.0,
        "Longest delay between two attempts of an entry (s).",
        ("E010",),
        "sync.md",
        hint=_SYNC_HINT,
    ),
    _seconds(
        "SYNC_LEASE_SECONDS",
        300.0,
        "How long a sender holds an entry before another may take it; must exceed the longest send.",
        ("E010", "E012"),
        "sync.md",
        hint=_SYNC_HINT,
        minimum=1,
    ),
    Option(
        "SYNC_BATCH_SIZE",
        Kind.NUMBER,
        50,
        "Entries one delivery task sends at most: its own and other due ones it claims (1: its own only).",
        ("E010",),
        _SYNC_HINT,
        page="sync.md",
        minimum=1,
        maximum=1000,
        integer=True,
    ),
    Option(
        "SYNC_DRAIN_CACHE",
        Kind.TEXT,
        None,
        "Alias in `settings.CACHES` (shared by the shop and its workers, e.g. Redis) holding the "
        "flag that makes a burst of saves one delivery message; `None`: one message per save.",
        ("E014", "W014"),
        "Name a cache every process shares (e.g. a RedisCache alias), or leave it unset (see docs/sync.md).",
        page="sync.md",
        nullable=True,
    ),
    Option(
        "BULK_CHUNK_BYTES",
        Kind.NUMBER,
        9_000_000,
        "Size limit of one bulk request body (Voucherify refuses 10 MB).",
        ("E010",),
        "Keep it at 9_000_000 (the default) or lower: Voucherify refuses bodies over 10 MB "
        "(see docs/sync.md).",
        page="jobs.md",
        minimum=1024,
        maximum=10_000_000,
        integer=True,
    ),
    # -- the voucher admin ------------------------------------------------------------------
    Option(
        "VOUCHER_ACTION_INLINE_LIMIT",
        Kind.NUMBER,
        20,
        "An admin action on more vouchers than this runs in a "
        "Celery task instead of the request (0: always).",
        ("E030",),
        "Admin actions on more vouchers than this run in Celery; 20 is the default, 0 sends "
        "every action to Celery.",
        page="admin.md",
        minimum=0,
        integer=True,
    ),
    _seconds(
        "VOUCHER_RATE_LIMIT_WAIT",
        5.0,
        "The longest `Retry-After` (s) an admin request waits out on a 429; longer hands the rest to Celery.",
        ("E031",),
        "admin.md",
        hint="The longest Retry-After an admin request waits out; keep it short (5 s default).",
    ),
    Option(
        "CURRENCY",
        Kind.CURRENCY,
        None,
        "The shop's currency (ISO 4217, e.g. `EUR`): the admin shows amounts in it, in the active "
        "language's number format (Voucherify orders carry no currency: a project has one). "
        "`None`: amounts are shown as minor units.",
        ("E032",),
        "Set it to your shop's currency code, e.g. 'EUR' (the example project passes SHOP_CURRENCY).",
        page="admin.md",
        nullable=True,
    ),
    # -- bulk jobs --------------------------------------------------------------------------
    Option(
        "JOB_STORAGE",
        Kind.TEXT,
        "default",
        "Alias in `settings.STORAGES` for uploads, CSV parts and exports (keep it "
        "private: it holds customer data).",
        ("E040",),
        "Leave it unset to use the 'default' storage, or add the alias to STORAGES.",
        page="jobs.md",
    ),
    Option(
        "JOB_UPLOAD_TO",
        Kind.FOLDER,
        "voucherify/jobs",
        "Folder inside that storage.",
        ("E042",),
        "For example 'voucherify/jobs'.",
        page="jobs.md",
    ),
    _seconds(
        "JOB_POLL_INTERVAL",
        2.0,
        "First delay between two polls of an async action (s), growing x1.5.",
        ("E041",),
        "jobs.md",
        hint=_SECONDS_HINT,
        above=True,
    ),
    _seconds(
        "JOB_POLL_INTERVAL_MAX",
        60.0,
        "Longest delay between two polls (s).",
        ("E041",),
        "jobs.md",
        hint=_SECONDS_HINT,
        above=True,
    ),
    _seconds(
        "JOB_RESUBMIT_AFTER",
        120.0,
        "An interrupted submit with no matching async action is sent again after this (s).",
        ("E041", "W040"),
        "jobs.md",
        hint=_SECONDS_HINT,
        above=True,
    ),
    _seconds(
        "JOB_MAX_AGE",
        7 * 24 * 3600.0,
        "An unfinished job older than this is failed with the last known status (s).",
        ("E043",),
        "jobs.md",
        hint="Leave it unset for 7 days; an unfinished job older than this is failed.",
        above=True,
    ),
    _seconds(
        "JOB_UPLOAD_RETENTION",
        0,
        "Seconds an uploaded source is kept after its job ends (0: deleted when the job ends).",
        ("E044",),
        "jobs.md",
        hint="Seconds an uploaded source is kept after its job ends; 0 (the default) deletes it "
        "when the job ends.",
    ),
    Option(
        "JOB_UPLOAD_MAX_BYTES",
        Kind.NUMBER,
        200_000_000,
        "Largest CSV a voucher or customer import accepts, in bytes; a larger one is refused "
        "before anything is stored.",
        ("E050",),
        "A whole number of bytes from 1024 to 10**12 (1 TB); the default is 200_000_000 (200 MB). Also limit "
        "request bodies in the web server (nginx client_max_body_size): Django receives a file "
        "whole before the form can refuse it.",
        page="jobs.md",
        minimum=1024,
        maximum=10**12,  # past NUMBER_CEILING (1 GB here): a size, not a span of seconds
        integer=True,
    ),
    Option(
        "EXPORT_RETENTION_DAYS",
        Kind.NUMBER,
        30,
        "Days an export's stored file is kept after its job ends; the sweep then deletes it and "
        "the job says its file expired.",
        ("E049",),
        "A whole number of days from 1 to 36500; the default is 30.",
        page="jobs.md",
        minimum=1,
        maximum=MAX_RETENTION_DAYS,
        integer=True,
    ),
    # -- checkout ---------------------------------------------------------------------------
    Option(
        "CHECKOUT_OUTAGE_POLICY",
        Kind.CHOICE,
        REFUSE,
        '`"refuse"` or `"proceed_without_discount"` when Voucherify cannot answer.',
        ("E020",),
        "'refuse' shows the customer that codes cannot be checked right now; "
        "'proceed_without_discount' lets the order go through at full price.",
        page="checkout.md",
        choices=OUTAGE_POLICIES,
    ),
    Option(
        "CHECKOUT_TIMEOUT",
        Kind.NUMBER,
        5.0,
        "Read timeout and retry budget of checkout calls (s).",
        ("E021", "W020"),
        "The default, 5, keeps a slow Voucherify from holding up order placement.",
        page="checkout.md",
        minimum=0,
        above=True,
    ),
    _seconds(
        "CHECKOUT_RECONCILE_GRACE",
        60.0,
        "How long after an unanswered redeem reconciliation may "
        'conclude "not redeemed"; must exceed the longest request.',
        ("E022", "E024"),
        "checkout.md",
        hint=_SECONDS_HINT,
    ),
    _seconds(
        "CHECKOUT_LATE_CHECK_AFTER",
        None,
        'When a row concluded "not redeemed" is checked once more (s); must exceed the grace. '
        "Unset: 3600, or twice the grace if longer.",
        ("E022", "E026"),
        "checkout.md",
        hint="A number of seconds above CHECKOUT_RECONCILE_GRACE; leave it unset to use the default.",
        nullable=True,
    ),
    _seconds(
        "CHECKOUT_ROLLBACK_BACKOFF",
        5.0,
        "First delay between rollback attempts (s).",
        ("E022",),
        "checkout.md",
        hint=_SECONDS_HINT,
    ),
    _seconds(
        "CHECKOUT_ROLLBACK_BACKOFF_MAX",
        900.0,
        "Longest delay between rollback attempts (s).",
        ("E022",),
        "checkout.md",
        hint=_SECONDS_HINT,
    ),
    Option(
        "CHECKOUT_RECONCILE_MAX_ATTEMPTS",
        Kind.NUMBER,
        10,
        "Reads before a row still unknown is flagged for staff.",
        ("E023",),
        "After that many reads the row is flagged for staff; the default is 10.",
        page="checkout.md",
        minimum=1,
        integer=True,
    ),
    _seconds(
        "CHECKOUT_ATTENTION_INTERVAL",
        3600.0,
        "How often the sweep re-reads a flagged row (s).",
        ("E022",),
        "checkout.md",
        hint=_SECONDS_HINT,
    ),
    _seconds(
        "CHECKOUT_TASK_LEASE",
        300.0,
        "How long a ledger row's task holds it past its due time (s): a task lost with its "
        "message is sent again by the sweep once that is over.",
        ("E022",),
        "checkout.md",
        hint=_SECONDS_HINT,
    ),
    Option(
        "CHECKOUT_ANONYMOUS_MAX_CODES",
        Kind.NUMBER,
        5,
        "Codes one anonymous REST validate request may name (1 to 30).",
        ("E025",),
        "The codes one anonymous validate request may name; the default, 5, keeps one request "
        "from testing many guessed codes. Signed-in users may send up to 30.",
        page="checkout.md",
        minimum=1,
        maximum=MAX_REDEEMABLES,
        integer=True,
    ),
    Option(
        "SELF_SERVICE_CAMPAIGNS",
        Kind.CAMPAIGNS,
        (),
        "The campaigns (names or ids) a signed-in shopper may ask a code of through the REST "
        "endpoint `publications/`; any other campaign, and an unknown one, is a 403. Empty: "
        "none. A user with `add_customerpublication`, and `checkout.publish()`, are not limited.",
        ("E027",),
        "A list of campaign names or ids, e.g. ['Welcome']; listing the name is enough (a request "
        "naming the campaign by its id is matched too). Each entry as the publications endpoint "
        "takes a campaign: text of 1 to 200 characters, no surrounding white space, no control or "
        "invisible characters, not '.' or '..'; an entry it refuses could never match.",
        page="checkout.md",
    ),
    # -- webhooks -----------------------------------------------------------------------------
    Option(
        "WEBHOOK_SECRETS",
        Kind.SECRETS,
        (),
        "The signing secrets of your webhook endpoints (Project settings > Webhooks), newest "
        "first: an event signed with any of them is accepted, so a secret can be rotated "
        "without downtime. Empty: the receiver refuses every event. Never logged or shown.",
        ("E045",),
        "A list of strings, e.g. [env('VOUCHERIFY_WEBHOOK_SECRET')]; during a rotation, list "
        "the new secret and the old one until Voucherify signs with the new one only.",
        page="webhooks.md",
    ),
    Option(
        "WEBHOOK_MAX_BODY_BYTES",
        Kind.NUMBER,
        1_048_576,
        "Largest webhook request body accepted (bytes); larger ones are refused with 413.",
        ("E046",),
        "A whole number of bytes, at least 1024; the default is 1 MiB.",
        page="webhooks.md",
        minimum=1024,
        integer=True,
    ),
    Option(
        "WEBHOOK_MAX_ATTEMPTS",
        Kind.NUMBER,
        8,
        "Processing attempts before an event is parked for staff.",
        ("E047",),
        "A whole number, 1 or more; the default is 8.",
        page="webhooks.md",
        minimum=1,
        integer=True,
    ),
    Option(
        "WEBHOOK_RETENTION_DAYS",
        Kind.NUMBER,
        30,
        "Days a processed (or stale) event is kept; the sweep deletes older ones. Parked "
        "events are kept until staff reprocess or delete them. An event that happened longer "
        "ago is refused (400 too_old): its id may be forgotten, so a replay would be applied again.",
        ("E048",),
        "A whole number of days from 1 to 36500; the default is 30.",
        page="webhooks.md",
        minimum=1,
        maximum=MAX_RETENTION_DAYS,
        integer=True,
    ),
)

#: The options by name.
BY_NAME: dict[str, Option] = {option.name: option for option in OPTIONS}

#: Every option's default, by name.
DEFAULTS: dict[str, Any] = {option.name: option.default for option in OPTIONS}

#: The credentials: only the client needs them (reading the other options never does, so a
#: process without keys may still save mirrored models).
CREDENTIALS: tuple[Option, ...] = tuple(option for option in OPTIONS if option.required)

#: Every option but the credentials.
OPTIONAL: tuple[Option, ...] = tuple(option for option in OPTIONS if not option.required)
