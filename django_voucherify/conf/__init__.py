"""``settings.VOUCHERIFY``, read through one typed accessor: :func:`settings`.

- :mod:`.options` is the table declaring every option (type, default, bounds, meaning, check
  ids, docs page); :mod:`.values` the typed, frozen :class:`VoucherifySettings` built from it;
  :mod:`.rules` the one validator (each option against its row, then the rules over several
  options). The system checks (:mod:`django_voucherify.checks`) and ``docs/settings.md`` are
  derived from the same table; this package imports neither.
- :func:`settings` validates and caches the snapshot until Django's ``setting_changed`` signal
  names ``VOUCHERIFY`` (``override_settings`` works; sync's per-save reads cost a global
  lookup). It does not require the credentials: a process without keys may still save models.
- :func:`get_settings` is the client's builder's read: the same snapshot, credentials required.

An invalid value raises ImproperlyConfigured with the system check's message and hint.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from ..secret import MASK, Secret, Withheld, can_hold
from .options import (
    BY_NAME,
    CREDENTIALS,
    DEFAULT_API_URL,
    DEFAULT_LATE_CHECK_AFTER,
    DEFAULTS,
    MAX_REDEEMABLES,
    OPTIONAL,
    OPTIONS,
    OUTAGE_POLICIES,
    PROCEED_WITHOUT_DISCOUNT,
    REFUSE,
    Kind,
    Option,
)
from .rules import Problem, option_problems, rule_problems
from .values import REQUESTS_PER_SEND, VoucherifySettings

__all__ = [
    "BY_NAME",
    "DEFAULTS",
    "DEFAULT_API_URL",
    "DEFAULT_LATE_CHECK_AFTER",
    "MAX_REDEEMABLES",
    "OPTIONS",
    "OUTAGE_POLICIES",
    "PROCEED_WITHOUT_DISCOUNT",
    "REFUSE",
    "REQUESTS_PER_SEND",
    "SETTING_NAME",
    "Option",
    "Problem",
    "VoucherifySettings",
    "credentials",
    "get_settings",
    "option",
    "problems",
    "raw_settings",
    "settings",
]

SETTING_NAME = "VOUCHERIFY"

_cache: VoucherifySettings | None = None
#: Bumped by every change of ``VOUCHERIFY``: a snapshot read before a change is never cached
#: after it (a thread that read the old dict while another overrode it must not store it).
_generation = 0
#: Makes "no change since I started reading, so store" one step against a concurrent change.
_lock = threading.Lock()


def raw_settings() -> dict[str, Any]:
    """The ``VOUCHERIFY`` dict merged over the defaults, unvalidated: for the system checks
    (which report unknown keys too). Features read :func:`settings`.

    The credentials in it are already :class:`Secret` (or :class:`Withheld`): each caller
    holds this dict in a local, which error reporters render when anything below it raises.
    """
    configured = getattr(django_settings, SETTING_NAME, None) or {}
    if not isinstance(configured, dict):
        raise ImproperlyConfigured(
            f"settings.{SETTING_NAME} must be a dict, got {type(configured).__name__}."
        )
    values = {**DEFAULTS, **configured}
    _shield_secret_key(values)
    _take_webhook_secrets(values)
    return values


def _shield_secret_key(values: dict[str, Any]) -> None:
    """``SECRET_KEY`` as a :class:`Secret`; a value of another type, or a string no Secret can
    hold (:func:`~django_voucherify.secret.can_hold`), as a :class:`Withheld` (refused, never
    quoted). A blank string holds no secret."""
    raw = values.get("SECRET_KEY")
    if isinstance(raw, str) and raw.strip() and can_hold(raw):
        values["SECRET_KEY"] = Secret(raw)
    elif raw is not None and not isinstance(raw, Secret) and not (isinstance(raw, str) and not raw.strip()):
        values["SECRET_KEY"] = Withheld(raw)


def _take_secret(values: dict[str, Any]) -> Secret:
    """Swap ``values['SECRET_KEY']`` for a mask (valid to the validator exactly when the real
    one is) and return the real one as a :class:`Secret` (empty when missing or invalid).

    A token that cannot be sent as a header (a line break at its end, from a file or a
    secret manager) becomes a :class:`Withheld` naming only what is wrong with it: it passed
    the checks and failed every request. What no Secret can hold stays the Withheld it is."""
    raw = values.get("SECRET_KEY")
    # Spaces or tabs at either end (an env file's "KEY=abc "): a server drops them from the
    # header, so the key worked; it is sent without them, never refused. (A Secret of spaces
    # only is then empty: missing, as a blank string is.)
    secret = None
    if isinstance(raw, Secret | str) and (raw.strip() if isinstance(raw, str) else raw):
        secret = Secret.wrap(raw).trimmed()
    if secret:
        defect = secret.header_defect()
        values["SECRET_KEY"] = MASK if defect is None else Withheld(secret, defect=defect)
        return secret if defect is None else Secret("")
    values["SECRET_KEY"] = raw if isinstance(raw, Withheld) else ""
    return Secret("")


def _take_webhook_secrets(values: dict[str, Any]) -> None:
    """Wrap each webhook secret in a :class:`Secret` before anything validates or shows them.

    What cannot be a list of secrets (one string, a dict, a list in the list) may still hold
    one: it becomes a :class:`Withheld` naming its type, for the validator's message, since the
    frame that raises the validator's error (its locals rendered by error pages) holds ``values``.
    """
    raw = values.get("WEBHOOK_SECRETS")
    if "WEBHOOK_SECRETS" not in values or isinstance(raw, Withheld):  # absent, or done already
        return
    values["WEBHOOK_SECRETS"] = (
        tuple(_webhook_secret(item) for item in raw) if isinstance(raw, list | tuple) else Withheld(raw)
    )


def _webhook_secret(item: Any) -> Any:
    """One entry of the list: a :class:`Secret`, or a blank string (no secret in it) or a
    :class:`Withheld` for the validator to refuse."""
    if isinstance(item, Secret | Withheld):
        return item
    if isinstance(item, str) and can_hold(item):
        return Secret(item) if item.strip() else item
    return Withheld(item)


def _typed(option: Option, value: Any) -> Any:
    """A valid ``value`` as its field's type (URLs without their trailing slash)."""
    if value is None:
        return None
    if option.kind is Kind.NUMBER:
        return int(value) if option.integer else float(value)
    if option.kind is Kind.URL:
        return str(value).rstrip("/")
    if option.kind in (Kind.SECRETS, Kind.CAMPAIGNS):
        return tuple(value)
    if option.kind is Kind.CURRENCY:
        return str(value).upper()
    if option.kind is Kind.VERIFY and isinstance(value, os.PathLike):
        # requests takes a CA bundle's path as a str only: a Path was silently not used.
        return os.fspath(value)
    return value


def _build(values: dict[str, Any], secret_key: Secret) -> VoucherifySettings:
    """The snapshot of a dict whose options are valid (credentials may be missing)."""
    fields = {option.field: _typed(option, values[option.name]) for option in OPTIONS}
    app_id = values["APP_ID"]
    # Without spaces or tabs at either end, as the secret key (_take_secret): requests refused
    # an APP_ID starting with one at every request; a server drops them anyway.
    fields["app_id"] = app_id.strip(" \t") if isinstance(app_id, str) and app_id.strip() else ""
    fields["secret_key"] = secret_key
    if fields["checkout_late_check_after"] is None:
        grace = fields["checkout_reconcile_grace"]
        fields["checkout_late_check_after"] = max(DEFAULT_LATE_CHECK_AFTER, 2 * grace)
    return VoucherifySettings(**fields)


def problems(values: dict[str, Any]) -> list[Problem]:
    """Everything wrong with a merged ``VOUCHERIFY`` dict (credentials included): each option
    against its row, then, when every option is valid, the rules over several options."""
    values = dict(values)
    secret_key = _take_secret(values)
    _take_webhook_secrets(values)
    found = option_problems(values)
    if option_problems(values, OPTIONAL):
        return found
    return found + rule_problems(_build(values, secret_key))


def _refuse(problem: Problem) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"{problem.message} {problem.hint}".strip())


def _read() -> VoucherifySettings:
    values = raw_settings()
    # raw_settings() wrapped the credentials already, so no frame below (a validation error
    # raised here is rendered with its locals on Django's error pages) holds one as a string;
    # the token is taken out of what the validators read, a mask left in its place.
    secret_key = _take_secret(values)
    for problem in option_problems(values, OPTIONAL):
        raise _refuse(problem)
    conf = _build(values, secret_key)
    for problem in rule_problems(conf):
        if problem.error and problem.enforced:
            raise _refuse(problem)
    return conf


def settings() -> VoucherifySettings:
    """The validated options (cached until ``VOUCHERIFY`` changes); credentials not required.

    Raises :class:`~django.core.exceptions.ImproperlyConfigured` naming the option to fix.
    """
    global _cache
    conf = _cache
    if conf is None:
        generation = _generation
        conf = _read()
        with _lock:
            if generation == _generation:  # no change while reading: this snapshot is current
                _cache = conf
    return conf


def option(name: str) -> Any:
    """One option, checked against its own row only: for the save path.

    A ``post_save`` receiver must not fail a shop's save (its own views, its imports) because
    an unrelated option is wrong (a checkout bound, a rule over several options that the
    system checks report and a shop may have silenced). Only this option's own problem raises.
    """
    conf = _cache
    row = BY_NAME[name]
    if conf is not None:
        return getattr(conf, row.field)
    value = raw_settings()[name]  # credentials already wrapped there
    for problem in option_problems({name: value}, (row,)):
        raise _refuse(problem)
    return _typed(row, value)


def credentials() -> tuple[Secret, ...]:
    """The API token and the webhook secrets, to mask them in text (an error's): from
    :func:`settings`, or, when another option is wrong (it raises then), read from the raw
    dict as :func:`settings` reads them, so a broken unrelated option never unmasks a token a
    request of the earlier, valid settings sent. A value of the wrong shape (``WEBHOOK_SECRETS``
    as one string or a dict, a ``SECRET_KEY`` no string, read as missing) gives the strings
    inside it. Empty only when ``VOUCHERIFY`` is no dict."""
    try:
        conf = settings()
    except Exception:  # the text is masked with what can be read
        return _raw_credentials("SECRET_KEY", "WEBHOOK_SECRETS")
    if not conf.secret_key:  # unset, or of a shape read as missing: a Withheld in the raw dict
        return (*_raw_credentials("SECRET_KEY"), *conf.webhook_secrets)
    return (conf.secret_key, *conf.webhook_secrets)


def _raw_credentials(*names: str) -> tuple[Secret, ...]:
    """The secrets in the raw dict's ``names``, as raw_settings() wrapped them: Secrets, or a
    Withheld (a shape that cannot be a secret) holding the strings inside it as Secrets."""
    try:
        values = raw_settings()
    except ImproperlyConfigured:
        return ()
    found: list[Secret] = []
    for name in names:
        value = values.get(name)
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, Secret):
                # The key as sent (trimmed, a part of the configured one): masks both.
                found.append(item.trimmed() if name == "SECRET_KEY" else item)
            elif isinstance(item, Withheld):
                found.extend(item.secrets)
    return tuple(found)


def get_settings() -> VoucherifySettings:
    """:func:`settings` for building a client: ``APP_ID`` and ``SECRET_KEY`` must be set."""
    conf = settings()
    present: dict[str, Any] = {"APP_ID": conf.app_id, "SECRET_KEY": MASK}
    if not conf.secret_key:  # missing, or refused: the raw value says which, for the message
        values = raw_settings()
        _take_secret(values)
        present["SECRET_KEY"] = values["SECRET_KEY"]
    for problem in option_problems(present, CREDENTIALS):
        raise _refuse(problem)
    return conf


def _forget(setting: str, **kwargs: Any) -> None:
    global _cache, _generation
    if setting == SETTING_NAME:
        with _lock:
            _generation += 1
            _cache = None


setting_changed.connect(_forget, dispatch_uid="django_voucherify.conf.forget")
