"""System checks for ``settings.VOUCHERIFY`` (``manage.py check``).

Ids: ``voucherify.E001``-``E009`` are errors that stop the client from working, ``W0xx`` are
warnings about settings that work but are probably not what the shop wants.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from django.core import checks

SETTING = "settings.VOUCHERIFY"


def _number(value: Any) -> float | None:
    """``value`` as a float when it is a real number (not a bool), else None."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def number_problem(
    values: dict[str, Any],
    key: str,
    *,
    check_id: str,
    hint: str,
    minimum: float = 0,
    above: bool = False,
    integer: bool = False,
) -> checks.CheckMessage | None:
    """The error for option ``key`` unless it is a number (not a bool) at least ``minimum``
    (``above``: strictly more), and an ``int`` when ``integer``. Shared by every feature's
    checks so that all numeric options are validated and worded alike."""
    raw = values.get(key)
    value = _number(raw)
    if (
        value is not None
        and (value > minimum if above else value >= minimum)
        and (not integer or isinstance(raw, int))
    ):
        return None
    kind = "a whole number" if integer else "a number"
    bound = f"above {minimum:g}" if above else f"{minimum:g} or more"
    return checks.Error(f"{SETTING}['{key}'] must be {kind}, {bound} (got {raw!r}).", hint=hint, id=check_id)


def _url_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "must be an absolute http(s) URL such as https://api.voucherify.io"
    if parts.query or parts.fragment:
        return "must not carry a query string or fragment"
    if parts.path not in ("", "/"):
        return "must be the server root; the client adds /v1/... itself"
    return None


def settings_problems(values: dict[str, Any]) -> list[checks.CheckMessage]:
    """Validate a merged VOUCHERIFY dict; shared by the checks and :func:`conf.get_settings`."""
    problems: list[checks.CheckMessage] = []
    for key, cid in (("APP_ID", "voucherify.E001"), ("SECRET_KEY", "voucherify.E002")):
        value = values.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append(
                checks.Error(
                    f"{SETTING}['{key}'] is missing or empty.",
                    hint=(
                        f"Set VOUCHERIFY = {{'{key}': ...}} in your settings, from Voucherify's "
                        "Project settings > Application Keys (read it from the environment, "
                        f"e.g. env('VOUCHERIFY_{key}'))."
                    ),
                    id=cid,
                )
            )
    for key, cid in (("API_URL", "voucherify.E003"), ("DOWNLOAD_URL", "voucherify.E003")):
        value = values.get(key)
        if key == "DOWNLOAD_URL" and value is None:
            continue
        reason = _url_problem(value)
        if reason:
            problems.append(
                checks.Error(
                    f"{SETTING}['{key}'] {reason} (got {value!r}).",
                    hint=(
                        "Use your cluster's URL: https://api.voucherify.io (Europe), "
                        "https://us1.api.voucherify.io (US), https://as1.api.voucherify.io (Asia), "
                        "or the sandbox's, e.g. http://127.0.0.1:8100."
                    ),
                    id=cid,
                )
            )
    problems.extend(_timeout_problems(values))
    problems.extend(_retry_problems(values))
    problems.extend(_sync_problems(values))
    pool_size = values.get("POOL_SIZE")
    if not isinstance(pool_size, int) or isinstance(pool_size, bool) or pool_size < 1:
        problems.append(
            checks.Error(
                f"{SETTING}['POOL_SIZE'] must be a positive integer.",
                hint="Leave it unset (10) or set it to the number of threads per process.",
                id="voucherify.E006",
            )
        )
    url = values.get("API_URL")
    if isinstance(url, str) and url.startswith("http://") and not _is_local(url):
        problems.append(
            checks.Warning(
                f"{SETTING}['API_URL'] uses plain http to a non-local host ({url}).",
                hint="Your secret key would travel unencrypted; use https.",
                id="voucherify.W001",
            )
        )
    return problems


def _is_local(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("localhost", "::1", "testserver") or host.startswith("127.")


def _timeout_problems(values: dict[str, Any]) -> Iterable[checks.CheckMessage]:
    for key in ("CONNECT_TIMEOUT", "READ_TIMEOUT"):
        raw = values.get(key)
        value = _number(raw)
        if value is None or value <= 0:
            yield checks.Error(
                f"{SETTING}['{key}'] must be a positive number of seconds (got {raw!r}).",
                hint="Typical values: CONNECT_TIMEOUT 3.05, READ_TIMEOUT 20.",
                id="voucherify.E004",
            )
        elif value > 120:
            yield checks.Warning(
                f"{SETTING}['{key}'] is {value} seconds; a request thread would hang that long.",
                hint="Keep timeouts short (under 30 s) and let retries do the rest.",
                id="voucherify.W002",
            )
    connect, budget = _number(values.get("CONNECT_TIMEOUT")), _number(values.get("RETRY_BUDGET"))
    if connect is not None and budget is not None and 0 < budget < connect:
        yield checks.Warning(
            f"{SETTING}['RETRY_BUDGET'] ({budget} s) is shorter than CONNECT_TIMEOUT ({connect} s).",
            hint="No retry could ever fit in the budget; raise RETRY_BUDGET or set MAX_RETRIES=0.",
            id="voucherify.W003",
        )


def _retry_problems(values: dict[str, Any]) -> Iterable[checks.CheckMessage]:
    retries = values.get("MAX_RETRIES")
    if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= 10:
        yield checks.Error(
            f"{SETTING}['MAX_RETRIES'] must be an integer from 0 to 10 (got {retries!r}).",
            hint="Use 0 to switch retries off; 3 is the default.",
            id="voucherify.E005",
        )
    for key in ("RETRY_BUDGET", "BACKOFF_BASE", "BACKOFF_MAX"):
        raw = values.get(key)
        value = _number(raw)
        if value is None or value < 0:
            yield checks.Error(
                f"{SETTING}['{key}'] must be a number of seconds, zero or more (got {raw!r}).",
                hint="Leave it unset to use the default.",
                id="voucherify.E005",
            )


#: Sync options: (minimum, integer only). Checked here because the outbox reads them in every
#: worker; a bad value must stop start-up, not each delivery.
_SYNC_NUMBERS = {
    "SYNC_MAX_ATTEMPTS": (1, True),
    "SYNC_RETRY_BACKOFF": (0, False),
    "SYNC_RETRY_BACKOFF_MAX": (0, False),
    "SYNC_LEASE_SECONDS": (1, False),
    "BULK_CHUNK_BYTES": (1024, True),
}
_BOOLEANS = ("TRUST_ENV", "LOG_BODIES", "SYNC_ENABLED", "SYNC_PERMANENT_DELETE")


def _sync_problems(values: dict[str, Any]) -> Iterable[checks.CheckMessage]:
    for key, (minimum, integer) in _SYNC_NUMBERS.items():
        problem = number_problem(
            values,
            key,
            minimum=minimum,
            integer=integer,
            check_id="voucherify.E010",
            hint="Leave it unset to use the default (see docs/sync.md).",
        )
        if problem:
            yield problem
    if _number(values.get("BULK_CHUNK_BYTES")) is not None and values["BULK_CHUNK_BYTES"] > 10_000_000:
        yield checks.Error(
            f"{SETTING}['BULK_CHUNK_BYTES'] is over Voucherify's 10 MB body limit.",
            hint="Keep it at 9_000_000 (the default) or lower.",
            id="voucherify.E010",
        )
    yield from _lease_problems(values)
    for key in _BOOLEANS:
        if not isinstance(values.get(key), bool):
            yield checks.Error(
                f"{SETTING}['{key}'] must be True or False (got {values.get(key)!r}).",
                hint="Environment values are strings: read them with env.bool(...).",
                id="voucherify.E011",
            )


def _lease_problems(values: dict[str, Any]) -> Iterable[checks.CheckMessage]:
    """``voucherify.E012``: a sync lease that a sender's calls could outlast (two senders would
    then send one object at once, and the older state could land last)."""
    from .sync.timing import REQUESTS_PER_SEND, longest_request, longest_send

    lease, longest = _number(values.get("SYNC_LEASE_SECONDS")), longest_send(values)
    if lease is None or longest is None or lease > longest:
        return
    yield checks.Error(
        f"{SETTING}['SYNC_LEASE_SECONDS'] ({lease:g} s) does not exceed the longest send of one "
        f"outbox entry ({longest:g} s: {REQUESTS_PER_SEND} calls of up to "
        f"{longest_request(values):g} s, i.e. CONNECT_TIMEOUT + READ_TIMEOUT, plus RETRY_BUDGET "
        "when MAX_RETRIES > 0).",
        hint=f"Raise SYNC_LEASE_SECONDS above {longest:g} (e.g. {2 * longest:g}), or lower the "
        "timeouts or RETRY_BUDGET (see docs/sync.md).",
        id="voucherify.E012",
    )


def _unknown_keys(values: dict[str, Any]) -> Iterable[checks.CheckMessage]:
    from .checkout.conf import CHECKOUT_DEFAULTS
    from .conf import DEFAULTS

    known = {*DEFAULTS, *CHECKOUT_DEFAULTS}
    for key in sorted(set(values) - known):
        close = difflib.get_close_matches(key, known, n=1)
        yield checks.Warning(
            f"{SETTING}['{key}'] is not an option of django_voucherify; it is ignored.",
            hint=f"Did you mean '{close[0]}'?" if close else "See docs/configuration.md for the options.",
            id="voucherify.W004",
        )


@checks.register("voucherify")
def check_voucherify_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Report every problem in ``settings.VOUCHERIFY`` with a hint that says what to set."""
    from .conf import raw_settings

    try:
        values = raw_settings()
    except Exception as exc:  # ImproperlyConfigured: not a dict
        return [
            checks.Error(
                str(exc), hint="VOUCHERIFY = {'APP_ID': ..., 'SECRET_KEY': ...}", id="voucherify.E000"
            )
        ]
    # Unknown keys only warn, so they are reported by `manage.py check`, not by every client
    # build (and the list of known keys takes the checkout package, not needed at start-up).
    return [*settings_problems(values), *_unknown_keys(values)]


@checks.register("voucherify")
def check_feature_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The options of checkout (E02x), the voucher admin (E03x) and bulk jobs (E04x).

    Imported here, when checks run, rather than at start-up: the features' packages import the
    client and Celery, which a web process only needs when it uses them.
    """
    from .checkout.checks import check_checkout_settings
    from .jobs.checks import job_settings_problems
    from .vouchers.checks import check_voucher_settings

    return [*check_checkout_settings(), *check_voucher_settings(), *job_settings_problems()]
