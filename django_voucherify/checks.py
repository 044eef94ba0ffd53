"""System checks of django_voucherify (``manage.py check``): ids ``voucherify.E0xx``/``W0xx``.

Every problem with ``settings.VOUCHERIFY`` comes from :func:`django_voucherify.conf.problems`
(the table's per-option checks, then the rules over several options), so that ``manage.py
check`` and ``conf.settings()`` say the same words. What only the checks can see is added here:
a value that is not a dict (E000), unknown keys (W004), a job storage missing from
``settings.STORAGES`` (E040), a drain cache missing from ``settings.CACHES`` or local to a
process (E014, W014), a database backend the outbox cannot write to (E013) and a PostgreSQL
database whose transactions run at REPEATABLE READ (W015). This
module imports only :mod:`django_voucherify.conf`: no feature package, no import circle.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from django.core import checks

from . import conf

SETTING = "settings.VOUCHERIFY"

#: Database vendors the app supports: the outbox's upsert (``INSERT ... ON CONFLICT``) is
#: written and tested for these two only.
SUPPORTED_VENDORS = ("postgresql", "sqlite")


def _message(problem: conf.Problem) -> checks.CheckMessage:
    kind = checks.Error if problem.error else checks.Warning
    return kind(problem.message, hint=problem.hint, id=problem.check_id)


def _unknown_keys(values: dict[str, Any]) -> Iterable[checks.CheckMessage]:
    known = list(conf.DEFAULTS)
    for key in sorted(set(values) - set(known)):
        close = difflib.get_close_matches(key, known, n=1)
        yield checks.Warning(
            f"{SETTING}['{key}'] is not an option of django_voucherify; it is ignored.",
            hint=f"Did you mean '{close[0]}'?" if close else "See docs/settings.md for the options.",
            id="voucherify.W004",
        )


def _storage_problems(values: dict[str, Any]) -> Iterable[checks.CheckMessage]:
    from django.conf import settings

    alias = values.get("JOB_STORAGE")
    storages = getattr(settings, "STORAGES", {}) or {}
    # A STORAGES that is no dict (a string) would answer ``in`` by substring: look it up in none.
    if (
        isinstance(alias, str)
        and alias.strip()
        and alias not in (storages if isinstance(storages, dict) else {})
    ):
        option = conf.BY_NAME["JOB_STORAGE"]
        yield checks.Error(
            f"{SETTING}['JOB_STORAGE'] must name a storage in settings.STORAGES (got {alias!r}).",
            hint=option.hint,
            id=option.check_id,
        )


#: Cache backends whose entries one process cannot see from another: a drain flag set by a
#: shop process there is never cleared by the worker (saves would wait for the sweep). (The
#: dummy cache stores nothing: every save sends its message, as without the option.)
PROCESS_LOCAL_CACHES = ("django.core.cache.backends.locmem.LocMemCache",)

CACHE_SHAPE_HINT = (
    "Each entry of CACHES is a dict, e.g. CACHES = {'drain': {'BACKEND': "
    "'django.core.cache.backends.redis.RedisCache', 'LOCATION': env('REDIS_URL')}}."
)


def _drain_cache_problems(values: dict[str, Any]) -> Iterable[checks.CheckMessage]:
    from django.conf import settings

    alias = values.get("SYNC_DRAIN_CACHE")
    if not isinstance(alias, str) or not alias.strip():
        return
    option = conf.BY_NAME["SYNC_DRAIN_CACHE"]
    caches = getattr(settings, "CACHES", {}) or {}
    # CACHES, or its entry, of another shape (``{"default": "redis://..."}``): Django cannot
    # build that cache, so the drain could not use it. Only the type is quoted: a cache's URL
    # may carry its password.
    if not isinstance(caches, dict):
        yield _cache_shape_error("settings.CACHES", caches, option)
        return
    if alias not in caches:
        yield checks.Error(
            f"{SETTING}['SYNC_DRAIN_CACHE'] must name a cache in settings.CACHES (got {alias!r}).",
            hint=option.hint,
            id=option.check_id,
        )
        return
    entry = caches[alias]
    if not isinstance(entry, dict):
        yield _cache_shape_error(f"settings.CACHES[{alias!r}]", entry, option)
    elif entry.get("BACKEND") in PROCESS_LOCAL_CACHES:
        yield checks.Warning(
            f"{SETTING}['SYNC_DRAIN_CACHE'] names CACHES[{alias!r}], whose backend is not shared "
            "between processes: the workers cannot clear the flag a shop process sets there, so "
            "outbox rows would wait for the periodic sweep.",
            hint=option.hint,
            id="voucherify.W014",
        )


def _cache_shape_error(where: str, value: object, option: conf.Option) -> checks.CheckMessage:
    return checks.Error(
        f"{SETTING}['SYNC_DRAIN_CACHE'] names a cache Django cannot build: {where} must be a dict "
        f"(got a {type(value).__name__}, not shown).",
        hint=CACHE_SHAPE_HINT,
        id=option.check_id,
    )


@checks.register("voucherify")
def check_voucherify_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Report every problem in ``settings.VOUCHERIFY`` with a hint that says what to set."""
    try:
        values = conf.raw_settings()
    except Exception as exc:  # ImproperlyConfigured: not a dict
        return [
            checks.Error(
                str(exc), hint="VOUCHERIFY = {'APP_ID': ..., 'SECRET_KEY': ...}", id="voucherify.E000"
            )
        ]
    return [
        *(_message(problem) for problem in conf.problems(values)),
        *_storage_problems(values),
        *_drain_cache_problems(values),
        *_unknown_keys(values),
    ]


def _aliases() -> set[str]:
    """The database aliases the app's models are read from and written to (per the routers)."""
    from django.apps import apps
    from django.db import router

    aliases: set[str] = set()
    for model in apps.get_app_config("django_voucherify").get_models():
        aliases.update(alias for alias in (router.db_for_read(model), router.db_for_write(model)) if alias)
    return aliases


@checks.register("voucherify")
def check_database_backends(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``voucherify.E013``: the app's tables live on a backend the outbox cannot write to."""
    from django.db import connections

    problems: list[checks.CheckMessage] = []
    for alias in sorted(_aliases()):
        vendor = connections[alias].vendor
        if vendor not in SUPPORTED_VENDORS:
            problems.append(
                checks.Error(
                    f"django_voucherify does not support the {vendor!r} database backend of "
                    f"DATABASES[{alias!r}].",
                    hint="Route the app's models to a PostgreSQL or SQLite database: the outbox's "
                    "upsert is written and tested for those two only.",
                    id="voucherify.E013",
                )
            )
    return problems


@checks.register("voucherify")
def check_isolation_levels(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``voucherify.W015``: the app's tables live on a PostgreSQL database configured for
    REPEATABLE READ. An order's cancellation asks for the rollback of the ledger rows it sees:
    at REPEATABLE READ it sees them as they were when its transaction began, so a redemption
    made meanwhile (claimed, sent and recorded) stays live on the cancelled order. READ COMMITTED
    (Django's default) sees it; at SERIALIZABLE one of the two transactions fails instead."""
    from django.db import connections

    problems: list[checks.CheckMessage] = []
    for alias in sorted(_aliases()):
        connection = connections[alias]
        level = (connection.settings_dict.get("OPTIONS") or {}).get("isolation_level")
        if connection.vendor != "postgresql" or level is None:
            continue
        from django.db.backends.postgresql.psycopg_any import IsolationLevel

        if IsolationLevel(level) == IsolationLevel.REPEATABLE_READ:
            problems.append(
                checks.Warning(
                    f"DATABASES[{alias!r}] runs transactions at REPEATABLE READ: an order "
                    "cancelled in a transaction begun before a redemption of it was recorded "
                    "does not see that redemption, which then stays live.",
                    hint="Leave OPTIONS['isolation_level'] unset (READ COMMITTED) for the "
                    "database of django_voucherify's tables, or use SERIALIZABLE.",
                    id="voucherify.W015",
                )
            )
    return problems
