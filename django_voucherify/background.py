"""Background work: the one shape of every row a Celery task drives (outbox, ledger, job parts).

A feature keeps its own state machine (outbox ``pending/in_progress/synced/failed``, ledger
states, job states) and leaves the plumbing to this module. Its model mixes in
:class:`~django_voucherify.models.background.BackgroundWork`: ``due_at`` (when the next step is
due; NULL: at once), ``lease_until`` and ``lease_token`` (who holds the row, until when), and the
last Voucherify error (``last_error``, ``last_error_key``, ``last_request_id``).

API:

- :func:`claim_due` locks due, unleased rows (``SELECT ... FOR UPDATE SKIP LOCKED``, earliest
  due first, ``limit``) and leases each to a fresh token: two sweeps never take the same row.
- :func:`lease` takes one row by primary key for a step due in ``due_in`` seconds (``holder``:
  the holder re-takes it for its next step, only while its token still holds; ``force``: whoever
  holds it); :func:`release` ends a lease (the row stays due at a given time, or not), with a
  ``token`` only if that lease still holds. So a stalled holder whose row was taken over finds
  another token and neither frees nor takes back the row: checkout and jobs send their token in each task
  message; the outbox locks the row and compares it itself (:func:`new_token`).
- :func:`describe` words an error no step expected (a bug on an odd answer, a database error):
  its type, its text with every credential masked, where it was raised; :func:`log_unexpected`
  logs that one line, without a traceback (whose frame locals error reporters would render).
- :func:`backoff` is the one retry delay (exponential, capped, optional jitter, ``Retry-After``).
- :func:`enqueue` sends a task BY NAME once the transaction commits; :func:`send` sends now.
  The task object is looked up in the current Celery app's registry (``app.tasks.get``; in
  eager mode after running the app's lazy autodiscovery, so eager mode runs the task itself),
  else ``app.send_task``. A broker failure is logged, never raised: the row stays due (a lease given
  is freed) and the periodic sweep (``django_voucherify.sweep``) sends it.

Eager mode (``task_always_eager``: tests, the demo) is handled here and nowhere else. A delayed
task cannot wait there: it would run at once, recursively. A retry after a failure
(``may_run_early``) still runs inline; any other delayed task (a step that must wait for time to
pass) is not run: its row stays due and the sweep takes it when it is. Inline runs nest (each in
the one that sent it), so past :data:`INLINE_DEPTH` nested runs nothing more runs inline: the
step is left due now for the sweep.

Job parts use it with the token in the message: each step of a part (submit or poll) is
``lease(JobPart, pk, due_in=delay, lease_for=..., holder=<the token of the step scheduling it>)``
then ``send("django_voucherify.poll_job_part", (pk, token), countdown=delay, lease=...)``; a
step whose token is no longer the row's does nothing (a superseded chain ends), and resuming
is :func:`claim_due` over unfinished parts.
"""

from __future__ import annotations

import logging
import random
import secrets
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.db import transaction
from django.db.models import F, Model, Q, QuerySet
from django.utils import timezone

from .api.errors import APIError
from .conf import credentials
from .models.background import ERROR_FIELDS
from .validation import storable_json

logger = logging.getLogger("django_voucherify.background")

M = TypeVar("M", bound=Model)

#: Nested inline runs of retries in eager mode before a retry is left to the sweep.
INLINE_DEPTH = 20

_inline_depth: ContextVar[int] = ContextVar("voucherify_inline_depth", default=0)


@dataclass(frozen=True)
class Lease:
    """A holder's lease on one row: its token, and until when it holds the row."""

    model: type[Model]
    pk: Any
    token: str
    until: datetime


def new_token() -> str:
    return secrets.token_hex(8)


def mask_secrets(text: str) -> str:
    """``text`` with the API token and every webhook secret masked: an error no layer expected
    (a ``requests`` error that escaped the transport's mapping, a bug quoting a header) may
    quote one, and its text goes to logs and to ``last_error`` columns the admin shows."""
    for secret in credentials():  # read even when another option is broken
        text = secret.masked_in(text)
    return text


#: A description's text is cut to this many characters (the place it was raised is kept).
DESCRIBE_CHARS = 2000


def describe(exc: BaseException) -> str:
    """One line for an error no step expected: ``Type: text (at module:line in function)``,
    credentials masked (:func:`mask_secrets`). No traceback, so no frame locals: the place it
    was raised is enough to find a bug, and the text never carries a secret. Storable in any
    column and log: each NUL and lone surrogate replaced (``storable_json``), at most
    :data:`DESCRIBE_CHARS` characters (masked before it is cut: no half secret is left)."""
    try:
        said = str(exc)
    except Exception:  # an exception whose __str__ fails must not fail the step recording it
        said = "(no text)"
    text = str(storable_json(f"{type(exc).__name__}: {mask_secrets(said)}"))
    place = ""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "?")
        place = f" (at {module}:{tb.tb_lineno} in {tb.tb_frame.f_code.co_name})"[: DESCRIBE_CHARS // 2]
    room = DESCRIBE_CHARS - len(place)
    if len(text) > room:
        text = text[: room - 1] + "…"
    return text + place


def log_unexpected(log: logging.Logger, what: str, exc: BaseException, *, level: int = logging.ERROR) -> str:
    """Log ``what`` failed with ``exc`` as one line (:func:`describe`); returns the description."""
    described = describe(exc)
    log.log(level, "%s: %s", what, described)
    return described


def error_fields(exc: BaseException | None, message: str | None = None) -> dict[str, str]:
    """Values of the last-error fields for ``exc`` (``message`` overrides its text): a
    Voucherify answer gives its ``key`` and ``request_id``, any other error its class name;
    None clears them. Credentials are masked (:func:`mask_secrets`). For
    ``QuerySet.update(**...)`` or ``setattr``."""
    if exc is None:
        return dict.fromkeys(ERROR_FIELDS, "")
    if isinstance(exc, APIError):
        key, request_id = exc.key or "", exc.request_id or ""
    else:
        key, request_id = type(exc).__name__, ""
    text = mask_secrets(str(exc) if message is None else message)
    # An answer's text may hold a NUL or a lone surrogate, which no column can store.
    return {
        "last_error": storable_json(text)[:2000],
        "last_error_key": storable_json(key)[:100],
        "last_request_id": storable_json(request_id)[:100],
    }


def put_error(row: Model, error: BaseException | dict[str, str] | None) -> None:
    """Set ``row``'s last-error fields from an error (or :func:`error_fields`' values); None
    clears them. The caller saves the row."""
    values = error if isinstance(error, dict) else error_fields(error)
    for field, value in values.items():
        setattr(row, field, value)


def _free(now: datetime) -> Q:
    return Q(lease_until__isnull=True) | Q(lease_until__lte=now)


def _due(now: datetime) -> Q:
    return Q(due_at__isnull=True) | Q(due_at__lte=now)


def claim_due(
    queryset: QuerySet[M],
    *,
    lease_for: timedelta,
    limit: int,
    now: datetime | None = None,
    wanted: Callable[[M], bool] | None = None,
) -> list[M]:
    """Lease up to ``limit`` rows of ``queryset`` that are due and held by nobody.

    ``SKIP LOCKED``: rows another transaction is claiming are passed over, never waited for.
    ``wanted`` drops rows that need nothing after all (they stay unleased). Each returned row
    carries its new ``lease_token``, ``lease_until`` and ``due_at = now``.
    """
    now = now or timezone.now()
    with transaction.atomic(using=queryset.db):
        rows = list(
            queryset.select_for_update(skip_locked=True)
            .filter(_due(now), _free(now))
            .order_by(F("due_at").asc(nulls_first=True), "pk")[:limit]
        )
        claimed = [row for row in rows if wanted is None or wanted(row)]
        for row in claimed:
            token = new_token()
            type(row)._default_manager.using(queryset.db).filter(pk=row.pk).update(
                due_at=now, lease_until=now + lease_for, lease_token=token
            )
            row.due_at, row.lease_until, row.lease_token = now, now + lease_for, token  # type: ignore[attr-defined]
    return claimed


def lease(
    model: type[Model],
    pk: Any,
    *,
    due_in: float | None,
    lease_for: timedelta,
    force: bool = False,
    holder: str | None = None,
    where: Q | None = None,
) -> Lease | None:
    """Lease row ``pk`` for a step due in ``due_in`` seconds, held ``lease_for`` past that.

    Without ``force``, only when nobody holds it (None otherwise: the holder does the work).
    ``force`` is for the holder itself scheduling its own next step, or for a take-over that
    ends whatever chain held the row. ``holder`` (implies ``force``): only while the lease with
    that token still holds, so a superseded holder cannot renew (one chain per row, for
    features whose messages carry their token: job parts). ``where``: only if the row also
    matches (a state the step needs). One ``UPDATE``: no lock is held.
    """
    now = timezone.now()
    due = now + timedelta(seconds=due_in or 0)
    rows = model._default_manager.filter(pk=pk)
    if where is not None:
        rows = rows.filter(where)
    if holder is not None:
        rows = rows.filter(lease_token=holder)
    elif not force:
        rows = rows.filter(_free(now))
    token = new_token()
    if rows.update(due_at=due, lease_until=due + lease_for, lease_token=token) != 1:
        return None
    return Lease(model, pk, token, due + lease_for)


def release(
    model: type[Model],
    pk: Any,
    *,
    due_in: float | None = None,
    keep_due: bool = False,
    token: str | None = None,
) -> bool:
    """End the lease on row ``pk``: nothing due (default), due in ``due_in`` seconds, or
    (``keep_due``) at the time already recorded. With ``token``, only if that lease still holds."""
    changes: dict[str, Any] = {"lease_until": None}
    if due_in is not None:
        changes["due_at"] = timezone.now() + timedelta(seconds=due_in)
    elif not keep_due:
        changes["due_at"] = None
    rows = model._default_manager.filter(pk=pk)
    if token is not None:
        rows = rows.filter(lease_token=token)
    return rows.update(**changes) == 1


def backoff(
    attempt: int,
    *,
    base: float,
    cap: float,
    jitter: float = 0.0,
    retry_after: float | None = None,
    factor: float = 2.0,
) -> float:
    """Seconds before attempt ``attempt + 1``: Voucherify's ``Retry-After`` when it sent one,
    else ``base`` growing by ``factor`` per attempt (doubling; job polls grow by half), capped at
    ``cap``; ``jitter`` (a fraction) spreads retries of many rows that failed together."""
    if retry_after is not None:
        return float(retry_after)
    delay = min(float(cap), float(base) * float(factor) ** max(attempt - 1, 0))
    if jitter:
        delay *= 1 + random.uniform(-jitter, jitter)  # spreading load, not a secret
    return float(delay)


def enqueue(
    name: str,
    args: Sequence[Any] = (),
    kwargs: dict[str, Any] | None = None,
    *,
    countdown: float | None = None,
    lease: Lease | None = None,
    may_run_early: bool = False,
    using: str | None = None,
) -> None:
    """:func:`send` once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(
        lambda: send(name, args, kwargs, countdown=countdown, lease=lease, may_run_early=may_run_early),
        using=using,
    )


def send(
    name: str,
    args: Sequence[Any] = (),
    kwargs: dict[str, Any] | None = None,
    *,
    countdown: float | None = None,
    lease: Lease | None = None,
    may_run_early: bool = False,
) -> bool:
    """Send task ``name`` now; False when it was not (broker down, or a wait eager mode cannot
    honour): the row stays due for the sweep, and ``lease`` (if given and still held) is freed."""
    from celery import current_app

    app = current_app
    task = app.tasks.get(name)
    if task is None and app.conf.task_always_eager:
        # Autodiscovery is lazy: it runs when a worker imports its default modules. An eager
        # process has no worker, so it runs here; else the task would go to a broker nobody reads.
        app.loader.import_default_modules()
        task = app.tasks.get(name)
    delayed = bool(countdown and countdown > 0)
    if app.conf.task_always_eager:
        depth = _inline_depth.get()
        if delayed and not may_run_early:
            logger.info("Voucherify: %s%s left to the sweep (eager mode cannot wait)", name, tuple(args))
            _give_back(lease, due_now=False)
            return False
        if depth >= INLINE_DEPTH:
            # Every inline run nests in the one that sent it (a job's next part in the previous
            # part's submit): past this depth the step is left due now, for the sweep, rather
            # than running into Python's recursion limit inside someone's transaction.
            logger.info("Voucherify: %s%s left to the sweep (eager nesting)", name, tuple(args))
            _give_back(lease, due_now=True)
            return False
    token = _inline_depth.set(_inline_depth.get() + 1)
    try:
        options: dict[str, Any] = {"countdown": countdown} if delayed else {}
        if task is not None:
            task.apply_async(args=tuple(args), kwargs=kwargs or {}, retry=False, **options)
        else:
            app.send_task(name, args=tuple(args), kwargs=kwargs or {}, retry=False, **options)
    except Exception:
        logger.warning(
            "Voucherify: could not enqueue %s%s (broker down?); the periodic sweep will send it.",
            name,
            tuple(args),
            exc_info=True,
        )
        _give_back(lease, due_now=True)
        return False
    finally:
        _inline_depth.reset(token)
    return True


def _give_back(lease: Lease | None, *, due_now: bool) -> None:
    if lease is None:
        return
    try:
        if due_now:
            release(lease.model, lease.pk, due_in=0, token=lease.token)
        else:
            release(lease.model, lease.pk, keep_due=True, token=lease.token)
    except Exception:  # the database is down too: the lease expires and the sweep takes the row
        logger.warning("Voucherify: could not free %s %s", lease.model.__name__, lease.pk, exc_info=True)
