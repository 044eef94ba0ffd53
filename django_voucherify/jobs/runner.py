"""Submitting parts and following them to the end, one step at a time.

Each step (:func:`submit_part`, :func:`poll_part`) does one call, records the outcome in the
database and returns the :class:`Step` objects to run next (with a delay). Celery tasks schedule
them with ``countdown``; :func:`drive` runs them in the calling process (commands, tests, bench).
Nothing here sleeps, except :func:`drive`, which is never called inside a worker.

Exactly once: before the call the part is marked ``submitting`` (committed), after it
``submitted`` with the async action id. A step that finds a part ``submitting`` comes after a
crash (or an unknown outcome: timeout, 500) and *reconciles*: it looks for an async action of
the same type created since the marker and not owned by another part, and adopts it. Only when
none shows up ``JOB_RESUBMIT_AFTER`` seconds after the marker (longer than any request can stay
in flight) is the part sent again. At most one part per async type is ``submitting`` at a
time across the app (:class:`JobSubmitLock`), so two of our parts never adopt each other's
action. Residual risk, documented in docs/jobs.md: another client starting an async action of
the same type in that window could be adopted by mistake.

One poll chain per part: each scheduled poll carries ``JobPart.poll_seq`` as it was when it was
scheduled; it runs only while that number is current, and only the poll that holds it may
schedule the next one (bumping the number). Duplicated messages, re-delivered submits and
``resume`` therefore never add a second chain: they either do nothing or take the chain over.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from .. import conf
from ..api.errors import APIError, NotFoundError, RateLimitedError, ServerError, TransportError
from ..models import Job, JobKind, JobPart, JobState, JobSubmitLock, PartState
from ..models.jobs import FINAL_JOB_STATES, FINAL_PART_STATES
from . import exports, results

logger = logging.getLogger("django_voucherify.jobs")

#: Voucherify's async action type of each kind (used to reconcile an unknown submit).
ASYNC_TYPES = {
    JobKind.IMPORT_VOUCHERS: "VOUCHERS.IMPORT",
    JobKind.IMPORT_VOUCHERS_CSV: "VOUCHERS.IMPORT_CSV",
    JobKind.IMPORT_CUSTOMERS_CSV: "CUSTOMERS.IMPORT_CSV",
    JobKind.IMPORT_ORDERS: "ORDERS.IMPORT",
    JobKind.BULK_UPDATE_VOUCHERS: "VOUCHERS.BULK_UPDATE",
    JobKind.UPDATE_VOUCHERS_METADATA: "VOUCHERS.METADATA_UPDATE",
    JobKind.BULK_UPDATE_CUSTOMERS: "CUSTOMERS.BULK_UPDATE",
    JobKind.UPDATE_CUSTOMERS_METADATA: "CUSTOMERS.METADATA_UPDATE",
    JobKind.PUSH_CUSTOMERS: "CUSTOMERS.BULK_UPDATE",
    JobKind.PUSH_ORDERS: "ORDERS.IMPORT",
}
MAX_SUBMIT_ATTEMPTS = 8
CLOCK_SKEW = timedelta(seconds=60)  # tolerated difference between our clock and Voucherify's
#: A submitted part's poll is "lost" (``resume`` schedules one) this long after it was due.
POLL_OVERDUE_GRACE = timedelta(seconds=30)
#: A part waits this long (s) for another part of its async type to leave ``submitting``.
SUBMIT_TURN_WAIT = 2.0


@dataclass(frozen=True)
class Step:
    action: str  # "submit" or "poll"
    part_id: int
    delay: float = 0.0
    seq: int | None = None  # polls: the part's poll_seq this poll was scheduled with


def _client() -> Any:
    from .. import client

    return client


def _setting(name: str) -> float:
    return float(getattr(conf.settings(), name.lower()))


def poll_delay(polls: int) -> float:
    """Backoff between polls: ``JOB_POLL_INTERVAL`` growing by half each time, capped."""
    return min(_setting("JOB_POLL_INTERVAL") * 1.5 ** max(0, polls - 1), _setting("JOB_POLL_INTERVAL_MAX"))


def send(part: JobPart) -> str:
    """Make the part's request; returns the async action (or export) id."""
    job, client, body = part.job, _client(), part.payload
    kind = job.kind
    if kind in (JobKind.IMPORT_VOUCHERS_CSV, JobKind.IMPORT_CUSTOMERS_CSV):
        resource = client.vouchers if kind == JobKind.IMPORT_VOUCHERS_CSV else client.customers
        upload = resource.import_csv
        with part.file.open("rb") as source:
            answer = upload(source, filename=str(part.file.name).rsplit("/", 1)[-1])
    elif kind == JobKind.EXPORT_ORDERS:
        return str(client.orders.export(body)["id"])
    elif kind == JobKind.EXPORT_VOUCHER_TRANSACTIONS:
        return str(client.vouchers.export_transactions(job.params["code"], body)["id"])
    else:
        calls = {
            JobKind.IMPORT_VOUCHERS: lambda: client.vouchers.import_json(body),
            JobKind.IMPORT_ORDERS: lambda: client.orders.import_json(body),
            JobKind.BULK_UPDATE_VOUCHERS: lambda: client.vouchers.bulk_update(body),
            JobKind.UPDATE_VOUCHERS_METADATA: lambda: client.vouchers.update_metadata(
                body, job.params["metadata"]
            ),
            JobKind.BULK_UPDATE_CUSTOMERS: lambda: client.customers.bulk_update(body),
            JobKind.PUSH_CUSTOMERS: lambda: client.customers.bulk_update(body),
            JobKind.PUSH_ORDERS: lambda: client.orders.import_json(body),
            JobKind.UPDATE_CUSTOMERS_METADATA: lambda: client.customers.update_metadata(
                body, job.params["metadata"]
            ),
        }
        answer = calls[JobKind(kind)]()
    return str(answer["async_action_id"])


def _another_part_submitting(part: JobPart) -> bool:
    """Under a lock per async type: is another part of the same type ``submitting``?"""
    async_type = ASYNC_TYPES.get(JobKind(part.job.kind))
    if async_type is None:  # exports are not reconciled by type
        return False
    JobSubmitLock.objects.get_or_create(async_type=async_type)
    JobSubmitLock.objects.select_for_update().get(async_type=async_type)  # held until commit
    kinds = [kind for kind, type_ in ASYNC_TYPES.items() if type_ == async_type]
    return (
        JobPart.objects.filter(state=PartState.SUBMITTING, job__kind__in=kinds).exclude(pk=part.pk).exists()
    )


def _claim(part_id: int) -> tuple[JobPart | None, str]:
    """Lock the part and decide: ``send`` (marker written), ``reconcile``, ``wait`` or ``skip``."""
    with transaction.atomic():
        part = JobPart.objects.select_for_update().select_related("job").get(pk=part_id)
        if part.state == PartState.PENDING:
            if _another_part_submitting(part):
                return part, "wait"
            part.state, part.submit_started_at = PartState.SUBMITTING, timezone.now()
            part.submit_attempts += 1
            part.save(update_fields=["state", "submit_started_at", "submit_attempts"])
            return part, "send"
        if part.state == PartState.SUBMITTING:
            return part, "reconcile"
        return part, "skip"


def submit_part(part_id: int) -> list[Step]:
    """Send a pending part once; reconcile a part whose earlier submit had an unknown outcome."""
    job = Job.objects.filter(parts__pk=part_id).first()
    if job is None or give_up_if_too_old(job):
        return []
    part, decision = _claim(part_id)
    if part is None or decision == "skip":
        return []  # submitted already: its poll chain and the next submit were queued then
    if decision == "wait":
        return [Step("submit", part.pk, SUBMIT_TURN_WAIT)]
    if decision == "reconcile":
        return _reconcile(part)
    return _send_and_record(part)


def _send_and_record(part: JobPart) -> list[Step]:
    try:
        remote_id = send(part)
    except TransportError as exc:
        if not exc.request_sent:
            return _back_to_pending(part, str(exc), 1.0)
        logger.warning("Voucherify job part %s: submit outcome unknown (%s); reconciling", part.pk, exc)
        return [Step("submit", part.pk, min(5.0, _setting("JOB_RESUBMIT_AFTER")))]
    except (RateLimitedError, ServerError) as exc:
        if exc.status in (429, 502, 503, 504):  # answered before the request was processed
            return _back_to_pending(part, str(exc), float(getattr(exc, "retry_after", 0) or 2.0))
        return [Step("submit", part.pk, min(5.0, _setting("JOB_RESUBMIT_AFTER")))]
    except APIError as exc:  # refused: 400, 401, 413...
        message = _("Voucherify refused the request (%(status)s %(key)s): %(message)s [request_id %(rid)s]")
        reason = message % {
            "status": exc.status,
            "key": exc.key or "",
            "message": exc.details or exc.message,
            "rid": exc.request_id or "-",
        }
        return _finish_part(part, PartState.FAILED, error=reason)
    return _record_submitted(part, remote_id)


def _back_to_pending(part: JobPart, error: str, delay: float) -> list[Step]:
    if part.submit_attempts >= MAX_SUBMIT_ATTEMPTS:
        return _finish_part(
            part,
            PartState.FAILED,
            error=_("Not sent after %(n)d attempts: %(error)s") % {"n": part.submit_attempts, "error": error},
        )
    JobPart.objects.filter(pk=part.pk, state=PartState.SUBMITTING).update(
        state=PartState.PENDING, error=error
    )
    return [Step("submit", part.pk, delay)]


def _record_submitted(part: JobPart, remote_id: str) -> list[Step]:
    now = timezone.now()
    try:
        with transaction.atomic():
            updated = JobPart.objects.filter(pk=part.pk, state=PartState.SUBMITTING).update(
                state=PartState.SUBMITTED, async_action_id=remote_id, submitted_at=now, error=""
            )
            if updated:
                Job.objects.filter(pk=part.job_id).update(async_action_id=remote_id, updated_at=now)
    except IntegrityError:  # another part already owns this async action (adopted meanwhile)
        return [Step("submit", part.pk, 1.0)]
    part.refresh_from_db()
    return _after_submitted(part) if updated else []


def next_poll(part: JobPart, after_seq: int | None, delay: float) -> list[Step]:
    """Schedule the part's next poll in ``delay`` s: allowed only to the poll holding
    ``after_seq`` (the current chain), or, with ``None``, as a take-over that ends any other chain."""
    with transaction.atomic():
        locked = JobPart.objects.select_for_update().filter(pk=part.pk, state=PartState.SUBMITTED).first()
        if locked is None or (after_seq is not None and locked.poll_seq != after_seq):
            return []  # finished, or this chain was superseded
        locked.poll_seq += 1
        locked.next_poll_at = timezone.now() + timedelta(seconds=delay)
        locked.save(update_fields=["poll_seq", "next_poll_at"])
    return [Step("poll", part.pk, delay, locked.poll_seq)]


def _after_submitted(part: JobPart) -> list[Step]:
    steps = next_poll(part, None, poll_delay(1))
    following = (
        JobPart.objects.filter(job_id=part.job_id, index__gt=part.index, state=PartState.PENDING)
        .order_by("index")
        .first()
    )
    if following is not None:  # parts go one after the other, in source order
        steps.append(Step("submit", following.pk))
    return steps


def _reconcile(part: JobPart) -> list[Step]:
    started = part.submit_started_at or timezone.now()
    if part.job.is_export:  # no list of exports to look in; a second export harms nothing
        JobPart.objects.filter(pk=part.pk).update(state=PartState.PENDING)
        return [Step("submit", part.pk)]
    try:
        found = _find_unclaimed_action(ASYNC_TYPES[JobKind(part.job.kind)], started - CLOCK_SKEW)
    except (TransportError, RateLimitedError, ServerError) as exc:
        logger.warning("Voucherify job part %s: cannot list async actions yet (%s)", part.pk, exc)
        return [Step("submit", part.pk, 5.0)]
    if found:
        logger.info(
            "Voucherify job part %s: adopting async action %s after an unknown submit", part.pk, found
        )
        return _record_submitted(part, found)
    waited = (timezone.now() - started).total_seconds()
    resubmit_after = _setting("JOB_RESUBMIT_AFTER")
    if waited < resubmit_after:
        return [Step("submit", part.pk, min(5.0, resubmit_after - waited))]
    logger.warning("Voucherify job part %s: no async action after %.0f s; sending again", part.pk, waited)
    JobPart.objects.filter(pk=part.pk, state=PartState.SUBMITTING).update(state=PartState.PENDING)
    return submit_part(part.pk)


def _find_unclaimed_action(action_type: str, since: datetime) -> str | None:
    """The oldest async action of ``action_type`` created after ``since`` that no part owns."""
    candidates: list[tuple[datetime, str]] = []
    for action in _client().async_actions.iterate():
        created = parse_datetime(str(action.get("created_at") or ""))
        if created is None or created < since:
            break  # newest first: everything further is older
        if action.get("type") == action_type:
            candidates.append((created, str(action["id"])))
    owned = set(
        JobPart.objects.filter(async_action_id__in=[c[1] for c in candidates]).values_list(
            "async_action_id", flat=True
        )
    )
    free = sorted(c for c in candidates if c[1] not in owned)
    return free[0][1] if free else None


def poll_part(part_id: int, seq: int | None = None) -> list[Step]:
    """Read the part's async action (or export) once; finish the part or poll again later.

    ``seq`` is the poll sequence the poll was scheduled with: a superseded poll does nothing.
    ``None`` (a message queued before sequences existed) polls only when the part's poll is due.
    """
    part = JobPart.objects.select_related("job").get(pk=part_id)
    if part.state != PartState.SUBMITTED:
        return []
    if seq is None:
        if part.next_poll_at and part.next_poll_at > timezone.now():
            return []  # a live chain is scheduled
        seq = part.poll_seq
    if seq != part.poll_seq:
        return []
    if give_up_if_too_old(part.job):
        return []
    JobPart.objects.filter(pk=part.pk).update(polls=F("polls") + 1)
    part.polls += 1
    try:
        if part.job.is_export:
            return exports.poll_export(part, _finish_part, lambda p: next_poll(p, seq, poll_delay(p.polls)))
        action = _client().async_actions.get(part.async_action_id)
    except NotFoundError:
        return _finish_part(
            part,
            PartState.FAILED,
            error=_(
                "Voucherify has no async action or export %(id)s (404): it expired or belongs to "
                "another project, so the outcome of this part is unknown."
            )
            % {"id": part.async_action_id},
        )
    except (TransportError, RateLimitedError, ServerError) as exc:
        delay = max(poll_delay(part.polls), float(getattr(exc, "retry_after", 0) or 0))
        logger.warning("Voucherify job part %s: poll failed (%s), next in %.0f s", part.pk, exc, delay)
        return next_poll(part, seq, delay)
    status = str(action.get("status") or "")
    if status in ("DONE", "FAILED"):
        result = dict(action.get("result") or {})
        state = PartState.DONE if status == "DONE" else PartState.FAILED
        error = "" if state == PartState.DONE else str(result.get("message") or _("The async action failed."))
        return _finish_part(part, state, result=result, error=error, remote_status=status)
    JobPart.objects.filter(pk=part.pk).update(remote_status=status, progress=int(action.get("progress") or 0))
    results.refresh_job(part.job_id)
    return next_poll(part, seq, poll_delay(part.polls))


def _finish_part(
    part: JobPart,
    state: str,
    *,
    result: dict[str, Any] | None = None,
    error: str = "",
    remote_status: str = "",
) -> list[Step]:
    result = result or {}
    async_type = ASYNC_TYPES.get(JobKind(part.job.kind))
    with transaction.atomic():  # the failed rows are written once, with the final state
        locked = (
            JobPart.objects.select_for_update()
            .filter(pk=part.pk)
            .exclude(state__in=FINAL_PART_STATES)
            .first()
        )
        if locked is not None:
            failed_rows = results.save_failed_rows(results.failed_rows_of(locked, result))
            done, failed = results.part_counts(locked, async_type, result, failed_rows)
            if state == PartState.FAILED and "done_count" not in result:
                done, failed = 0, max(failed, locked.row_count)  # nothing applied that we know of
            JobPart.objects.filter(pk=part.pk).update(
                state=state,
                error=error,
                remote_status=remote_status or state.upper(),
                progress=100,
                done_count=done,
                failed_count=failed,
                finished_at=timezone.now(),
                result={k: v for k, v in result.items() if k not in ("failed", "errors")},
            )
    updated = locked is not None
    if updated:
        part.refresh_from_db()
        from .push import part_finished  # push imports the service, which imports this module

        part_finished(part, state)
        if part.file:
            part.file.delete(save=True)  # the source file is kept; its split copy is not needed
    results.refresh_job(part.job_id)
    return []


def pending_steps(job: Job, *, overdue_only: bool = False) -> list[Step]:
    """What a job still needs (after a lost message, or for :func:`drive`).

    A submitted part gets a poll that takes its chain over; with ``overdue_only`` (``resume``)
    only when its scheduled poll is overdue, i.e. its message was lost.
    """
    if job.state in FINAL_JOB_STATES:
        return []
    steps: list[Step] = []
    overdue_before = timezone.now() - POLL_OVERDUE_GRACE
    for part in job.parts.exclude(state__in=FINAL_PART_STATES).order_by("index"):
        if part.state == PartState.SUBMITTED:
            if not overdue_only or part.next_poll_at is None or part.next_poll_at < overdue_before:
                steps.extend(next_poll(part, None, 0.0))
            continue
        steps.append(Step("submit", part.pk))
        if part.state == PartState.PENDING:
            break  # the next parts follow this one
    return steps


def give_up_if_too_old(job: Job) -> bool:
    """Fail an unfinished job older than ``JOB_MAX_AGE`` with the last known status of each part."""
    max_age = _setting("JOB_MAX_AGE")
    if job.state in FINAL_JOB_STATES or timezone.now() - job.created_at < timedelta(seconds=max_age):
        return False
    given_up = _("Given up: the job is older than JOB_MAX_AGE (%(age)d s).") % {"age": max_age}
    if job.state == JobState.PREPARING:
        results.fail_job(job, given_up)
        return True
    for part in job.parts.exclude(state__in=FINAL_PART_STATES):
        last = _(" Last known status: %(status)s, %(progress)d%%, async action %(id)s.") % {
            "status": part.remote_status or part.state,
            "progress": part.progress,
            "id": part.async_action_id or "-",
        }
        _finish_part(part, PartState.FAILED, error=given_up + last, remote_status=part.remote_status)
    results.refresh_job(job.pk)
    return True


def run_step(step: Step) -> list[Step]:
    return submit_part(step.part_id) if step.action == "submit" else poll_part(step.part_id, step.seq)


def drive(job: Job, *, timeout: float = 3600.0, progress: Any = None) -> Job:
    """Run a job to its end in this process (management commands with ``--here``, tests,
    benchmarks): the same steps the Celery tasks run, with the delays slept here."""
    from .service import prepare

    if job.state == JobState.PREPARING and job.source_file:
        prepare(job.pk)
        job.refresh_from_db()
    deadline = time.monotonic() + timeout
    queue: list[tuple[float, Step]] = [(time.monotonic(), s) for s in pending_steps(job)]
    while queue and time.monotonic() < deadline:
        queue.sort(key=lambda item: item[0])
        due, step = queue.pop(0)
        time.sleep(max(0.0, min(due - time.monotonic(), deadline - time.monotonic())))
        queue.extend((time.monotonic() + s.delay, s) for s in run_step(step))
        if progress is not None:
            job.refresh_from_db()
            progress(job)
    job.refresh_from_db()
    return job
