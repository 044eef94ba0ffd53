"""What is wrong with a ``settings.VOUCHERIFY`` dict: the one validator of every option.

:func:`option_problems` checks each value against its row of the table (type, bounds,
choices); :data:`RULES` then check what only several options together can get wrong (a lease
the longest send could outlast, a grace shorter than the longest request...). Both give plain
:class:`Problem` records: ``conf.settings()`` raises the first error as ImproperlyConfigured,
and :mod:`django_voucherify.checks` reports them all as system check messages, with the same
words. This module imports nothing of Django's checks framework and no feature module.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..identifiers import campaign_defect
from ..secret import Secret, Withheld, header_defect, masked_url
from .options import OPTIONS, Kind, Option
from .values import REQUESTS_PER_SEND, VoucherifySettings

SETTING = "settings.VOUCHERIFY"


@dataclass(frozen=True)
class Problem:
    check_id: str
    message: str
    hint: str
    error: bool = True
    #: ``conf.settings()`` refuses to run with it; False for what only ``manage.py check``
    #: reports (a choice the shop may make on purpose in development, e.g. no reconcile grace).
    enforced: bool = True


#: The largest value of a number option without a maximum of its own: every one is a number
#: of seconds (or a count, or bytes) the app adds to or takes from the current time or sleeps,
#: and a ``timedelta`` holds 999999999 days: ``inf`` or ``1e300`` passed the checks, then each
#: step computing a deadline from it raised OverflowError. 10**9 s is more than 31 years.
NUMBER_CEILING = 10**9


def _number(value: Any) -> float | None:
    """``value`` as a float when it is a finite real number (not a bool), else None."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # an int past what a float holds
            return None
        return number if math.isfinite(number) else None
    return None


#: What a credential sent as a header must be (each problem adds what it found in it).
HEADER_RULE = (
    "must be text an HTTP header can carry: no line break or other control character, no "
    "character outside Latin-1"
)

#: A host name the HTTP stack sends as it is (letters, digits, '.', '-', '_', no '.' first:
#: requests refuses an empty label); an IPv6 literal is checked apart. An internationalised
#: name goes in its ASCII form (xn--...).
_HOST = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")

_ABSOLUTE_URL = "must be an absolute http(s) URL such as https://api.voucherify.io"


def _url_reason(value: Any) -> str | None:
    """Why ``value`` is no server root the client can send to (None when it is): what urlsplit
    accepts, requests and http.client may still refuse at every request (a space, a control
    character, a host that is no host name, a port that is no port)."""
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    if not all("!" <= char <= "~" for char in value):
        return (
            "must be printable ASCII without spaces or control characters (a host name in its "
            "ASCII form, xn--..., other characters %-encoded)"
        )
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:  # an unbalanced "[", a port that is no number from 0 to 65535
        return _ABSOLUTE_URL
    if parts.scheme not in ("http", "https") or not _is_host(parts.hostname) or port == 0:
        return _ABSOLUTE_URL
    if parts.query or parts.fragment:
        return "must not carry a query string or fragment"
    if parts.path not in ("", "/"):
        return "must be the server root; the client adds /v1/... itself"
    return None


def _is_host(host: str | None) -> bool:
    if not host:
        return False
    if ":" in host:  # from brackets: an IPv6 literal
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return False
        return True
    return _HOST.fullmatch(host) is not None


def _show(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _number_reason(option: Option, value: Any) -> str | None:
    number = _number(value)
    low = option.minimum
    high = NUMBER_CEILING if option.maximum is None else option.maximum
    if (
        number is not None
        and (not option.integer or isinstance(value, int))
        and (low is None or (number > low if option.above else number >= low))
        and (high is None or number <= high)
    ):
        return None
    kind = "a whole number" if option.integer else "a number"
    if low is not None and not option.above:
        bound = f"from {_show(low)} to {_show(high)}"
    elif low is not None:
        bound = f"above {_show(low)} and at most {_show(high)}"
    else:
        bound = f"{_show(high)} or less"
    return f"must be {kind}, {bound}"


def _reason(option: Option, value: Any) -> str | None:
    """Why ``value`` is not valid for ``option`` (None when it is)."""
    if value is None and option.nullable:
        return None
    if option.kind is Kind.TEXT:
        if isinstance(value, Withheld):  # a credential that no Secret can hold: not shown
            if value.defect is not None:  # a string that cannot be sent
                return f"{HEADER_RULE} (it holds {value.defect}; not shown)"
            return f"must be a string of UTF-8 text (got a value of type {value.type_name}, not shown)"
        if not isinstance(value, str) or not value.strip():
            return "is missing or empty"
        # A credential is a header of every request: one that http.client or the server
        # refuses passed here, then failed every call (the secret is masked before this).
        defect = header_defect(value) if option.required else None
        return None if defect is None else f"{HEADER_RULE} (it holds {defect})"
    if option.kind is Kind.URL:
        return _url_reason(value)
    if option.kind is Kind.NUMBER:
        return _number_reason(option, value)
    if option.kind is Kind.BOOL:
        return None if isinstance(value, bool) else "must be True or False"
    if option.kind is Kind.CHOICE:
        return None if value in option.choices else f"must be one of {', '.join(option.choices)}"
    if option.kind is Kind.SECRETS:
        secrets_ok = isinstance(value, list | tuple) and all(
            bool(item.strip()) if isinstance(item, str) else isinstance(item, Secret) and bool(item)
            for item in value
        )
        return None if secrets_ok else "must be a list of non-empty strings"
    if option.kind is Kind.CAMPAIGNS:
        return _campaigns_reason(value)
    if option.kind is Kind.CURRENCY:
        code_ok = isinstance(value, str) and len(value) == 3 and value.isascii() and value.isalpha()
        return None if code_ok else "must be a three-letter ISO 4217 currency code such as EUR"
    if option.kind is Kind.PROXIES:
        return _proxies_reason(value)
    if option.kind is Kind.VERIFY:
        # requests reads any other value by its truth: "", 0 or [] switched verification off.
        # A path object (``BASE_DIR / "ca.pem"``, as Django settings write paths) is a path.
        path = os.fspath(value) if isinstance(value, os.PathLike) else value
        ok = isinstance(value, bool) or (isinstance(path, str) and path.strip())
        return None if ok else "must be True, False or the path of a CA bundle"
    if option.kind is Kind.FOLDER:
        ok = isinstance(value, str) and value.strip("/")
        return None if ok else "must be a non-empty folder name"
    return None


def _proxies_reason(value: Any) -> str | None:
    """A dict of scheme (``https``, ``all``, or a ``scheme://host``) to proxy URL, as requests
    takes it: a string or a list made the client's construction fail at its first call.
    requests also reads a ``no_proxy`` key, hosts (``localhost,.internal``), not a URL."""
    reason = "must be a dict of scheme to proxy URL"
    if not isinstance(value, dict):
        return reason
    for key, url in value.items():
        if not isinstance(key, str) or not key.strip() or not isinstance(url, str):
            return reason
        if key == "no_proxy":
            continue
        try:
            parts = urlsplit(url)
        except ValueError:
            return reason
        if not parts.scheme or not parts.netloc:
            return f"{reason}: each URL absolute, such as http://proxy:3128"
    return None


def _campaigns_reason(value: Any) -> str | None:
    """A list of campaign names or ids, each one the publications endpoint (and
    ``checkout.publish``) would take: an entry their rule refuses (" Welcome", ".", a NUL, over
    200 characters) could never match a request, a silent misconfiguration."""
    if not isinstance(value, list | tuple):
        return "must be a list of campaign names or ids"
    for item in value:
        defect = campaign_defect(item)
        if defect is not None:
            return (
                f"must be a list of campaign names or ids: the entry {item!r} {defect.value} "
                "(the publications endpoint refuses such a campaign, so it could never match)"
            )
    return None


def _shown(option: Option, value: Any) -> str:
    """What a problem quotes of the value: nothing of a credential, only the type of webhook
    secrets (one string where a list is wanted, a dict: the secret itself, which no list of
    Secrets masks) and of proxies (a proxy's password), the value of any other option."""
    if option.required:
        return ""
    if option.kind in (Kind.SECRETS, Kind.PROXIES):  # a proxy's URL may carry its password
        name = value.type_name if isinstance(value, Withheld) else type(value).__name__
        return f" (got a {name}, not shown)"
    if option.kind is Kind.URL and isinstance(value, str):
        return f" (got {masked_url(value)!r})"
    return f" (got {value!r})"


def option_problems(values: dict[str, Any], options: Iterable[Option] = OPTIONS) -> list[Problem]:
    """Each of ``options`` (all by default) checked against its row of the table, in order."""
    problems = []
    for option in options:
        value = values.get(option.name)
        reason = _reason(option, value)
        if reason is None or option.check_id is None:
            continue
        shown = _shown(option, value)
        problems.append(Problem(option.check_id, f"{SETTING}['{option.name}'] {reason}{shown}.", option.hint))
    return problems


# -- rules over several options (run on a valid snapshot) ------------------------------------

Rule = Callable[[VoucherifySettings], Iterator[Problem]]


def _is_local(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("localhost", "::1", "testserver") or host.startswith("127.")


def _plain_http(conf: VoucherifySettings) -> Iterator[Problem]:
    if conf.api_url.startswith("http://") and not _is_local(conf.api_url):
        yield Problem(
            "voucherify.W001",
            f"{SETTING}['API_URL'] uses plain http to a non-local host ({masked_url(conf.api_url)}).",
            "Your secret key would travel unencrypted; use https.",
            error=False,
        )


def _long_timeouts(conf: VoucherifySettings) -> Iterator[Problem]:
    for key, value in (("CONNECT_TIMEOUT", conf.connect_timeout), ("READ_TIMEOUT", conf.read_timeout)):
        if value > 120:
            yield Problem(
                "voucherify.W002",
                f"{SETTING}['{key}'] is {value} seconds; a request thread would hang that long.",
                "Keep timeouts short (under 30 s) and let retries do the rest.",
                error=False,
            )
    if 0 < conf.retry_budget < conf.connect_timeout:
        yield Problem(
            "voucherify.W003",
            f"{SETTING}['RETRY_BUDGET'] ({conf.retry_budget} s) is shorter than CONNECT_TIMEOUT "
            f"({conf.connect_timeout} s).",
            "No retry could ever fit in the budget; raise RETRY_BUDGET or set MAX_RETRIES=0.",
            error=False,
        )


def _lease(conf: VoucherifySettings) -> Iterator[Problem]:
    """A sync lease that a sender's calls could outlast: two senders would then send one object
    at once, and the older state could land last."""
    lease, longest = conf.sync_lease_seconds, conf.longest_send()
    if lease > longest:
        return
    yield Problem(
        "voucherify.E012",
        f"{SETTING}['SYNC_LEASE_SECONDS'] ({lease:g} s) does not exceed the longest send of one "
        f"outbox entry ({longest:g} s: {REQUESTS_PER_SEND} calls of up to "
        f"{conf.longest_request():g} s, i.e. CONNECT_TIMEOUT + READ_TIMEOUT, plus RETRY_BUDGET "
        "when MAX_RETRIES > 0).",
        f"Raise SYNC_LEASE_SECONDS above {longest:g} (e.g. {2 * longest:g}), or lower the "
        "timeouts or RETRY_BUDGET (see docs/sync.md).",
    )


def _checkout_timing(conf: VoucherifySettings) -> Iterator[Problem]:
    if conf.checkout_timeout > 30:
        yield Problem(
            "voucherify.W020",
            f"{SETTING}['CHECKOUT_TIMEOUT'] is {conf.checkout_timeout} seconds: customers would wait "
            "that long at checkout when Voucherify is slow.",
            "Keep it under 10 seconds.",
            error=False,
        )
    # Past the grace period reconciliation concludes "not redeemed" from an empty list, which is
    # only true if no request of the attempt can still be in flight.
    grace, longest = conf.checkout_reconcile_grace, conf.longest_checkout_request()
    if grace <= longest:
        yield Problem(
            "voucherify.E024",
            f"{SETTING}['CHECKOUT_RECONCILE_GRACE'] ({grace:g} s) does not exceed the longest "
            f"possible checkout request ({longest:g} s, from CONNECT_TIMEOUT, CHECKOUT_TIMEOUT, "
            "MAX_RETRIES, RETRY_BUDGET and the backoff).",
            "Raise CHECKOUT_RECONCILE_GRACE well above it (the default is 60 s, also covering "
            "clock skew between hosts), or shorten the timeouts; otherwise a redeem still in "
            "flight could be concluded 'not redeemed'.",
            # Reported, not enforced: tests and local sandboxes run without a grace on purpose.
            enforced=False,
        )
    late = conf.checkout_late_check_after
    if late <= grace:
        yield Problem(
            "voucherify.E026",
            f"{SETTING}['CHECKOUT_LATE_CHECK_AFTER'] ({late:g} s) must exceed "
            f"CHECKOUT_RECONCILE_GRACE ({grace:g} s).",
            "The late check reads Voucherify's redemptions once more after reconciliation "
            "concluded 'not redeemed', to catch a request processed past the grace period; "
            "unset, it is 3600 s (or twice the grace if longer).",
        )


def _job_timing(conf: VoucherifySettings) -> Iterator[Problem]:
    if conf.job_resubmit_after <= conf.read_timeout:
        yield Problem(
            "voucherify.W040",
            f"{SETTING}['JOB_RESUBMIT_AFTER'] ({conf.job_resubmit_after:g} s) is not longer than "
            "READ_TIMEOUT.",
            "A submit still in flight could be sent twice; keep it well above READ_TIMEOUT.",
            error=False,
        )
    if conf.job_max_age <= conf.job_poll_interval_max:
        yield Problem(
            "voucherify.E043",
            f"{SETTING}['JOB_MAX_AGE'] must be a number of seconds above JOB_POLL_INTERVAL_MAX "
            f"(got {conf.job_max_age:g}).",
            "Leave it unset for 7 days; an unfinished job older than this is failed.",
            enforced=False,
        )


#: The rules over several options, in the order the checks report them.
RULES: tuple[Rule, ...] = (_plain_http, _long_timeouts, _lease, _checkout_timing, _job_timing)


def rule_problems(conf: VoucherifySettings) -> list[Problem]:
    return [problem for rule in RULES for problem in rule(conf)]
