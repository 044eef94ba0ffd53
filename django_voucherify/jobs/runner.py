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

One step chain per part, as a lease (:mod:`django_voucherify.background`): scheduling a step
(submit or poll) leases the part with a new ``lease_token`` and ``due_at`` (when the step is
due); the step's message carries the token, and the step runs only while that token is still the
part's. Only the step holding it may lease the part for the next step (a compare-and-set on the
token), so a duplicated message reads twice but only one copy carries on, and a take-over
(:func:`pending_steps`, :func:`claim_lost_steps`: a new token without the old one) ends the
chain it replaces. The lease runs :data:`POLL_OVERDUE_GRACE` past the due time: until then
the sweep leaves the part alone, after that its message counts as lost and the sweep claims it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from .. import background, conf
from ..api.batching import EncodedJSON
from ..api.errors import (
    APIError,
    InvalidResponseError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from ..errors import DjangoVoucherifyError
from ..models import Job, JobKind, JobPart, JobState, JobSubmitLock, PartState
from ..models.jobs import BULKY_PART_FIELDS, FINAL_JOB_STATES, FINAL_PART_STATES
from ..validation import storable_json
from . import exports, results

logger = logging.getLogger("django_voucherify.jobs")

#: The steps load a part's bulky columns only when they use them (a poll of a 9 MB part would
#: read it all every time).
BULKY = BULKY_PART_FIELDS
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
    JobKind.PUSH_PRODUCTS: "PRODUCTS.BULK_UPDATE",
    JobKind.GENERATE_CAMPAIGN_CODES: "CAMPAIGN.VOUCHERS_GENERATE",
}
MAX_SUBMIT_ATTEMPTS = 8
CLOCK_SKEW = timedelta(seconds=60)  # tolerated difference between our clock and Voucherify's
#: A part's step (poll or submit) is "lost" (the sweep claims the part) this long after it was
#: due: the lease each step takes runs this long past its due time.
POLL_OVERDUE_GRACE = timedelta(seconds=30)
#: Parts the sweep claims per run (the rest wait for the next run).
RESUME_BATCH = 500
#: A part waits this long (s) for another part of its async type to leave ``submitting``.
SUBMIT_TURN_WAIT = 2.0
#: Steps of a part in a row that raised an unexpected error or read an unusable answer before it
#: fails (a usable answer, a submit or a poll, sets the count back to 0).
MAX_STEP_ERRORS = 8
#: An async action's statuses (the spec's ``AsyncActionBase.status``): not finished, final.
RUNNING_STATUSES = ("ENQUEUED", "IN_PROGRESS")
FINAL_STATUSES = ("DONE", "FAILED")


@dataclass(frozen=True)
class Step:
    action: str  # "submit" or "poll"
    part_id: int
    delay: float = 0.0
    token: str | None = None  # the part's lease token this step was scheduled with

    @property
    def lease(self) -> background.Lease | None:
        """The lease to give back if the step's message cannot be sent (the sweep sends it)."""
        if self.token is None:
            return None
        until = timezone.now() + timedelta(seconds=self.delay) + POLL_OVERDUE_GRACE
        return background.Lease(JobPart, self.part_id, self.token, until)


#: The part states each step needs (a lease for a step is taken only in them).
STEP_STATES = {
    "submit": (PartState.PENDING, PartState.SUBMITTING),
    "poll": (PartState.SUBMITTED,),
}


def lease_step(part_id: int, action: str, delay: float, holder: str | None) -> list[Step]:
    """Lease the part for its next ``action`` in ``delay`` s and return that step: allowed only
    to the step holding token ``holder`` (the current chain), or, with ``None``, as a take-over
    that ends any other chain. Nothing when the part left the states the step needs, or when
    ``holder`` was superseded."""
    held = background.lease(
        JobPart,
        part_id,
        due_in=delay,
        lease_for=POLL_OVERDUE_GRACE,
        force=True,
        holder=holder,
        where=Q(state__in=STEP_STATES[action]),
    )
    return [] if held is None else [Step(action, part_id, delay, held.token)]


def _client() -> Any:
    from .. import client

    return client


def _setting(name: str) -> float:
    return float(getattr(conf.settings(), name.lower()))


def poll_delay(polls: int) -> float:
    """Backoff between polls: ``JOB_POLL_INTERVAL`` growing by half each time, capped."""
    return background.backoff(
        polls, base=_setting("JOB_POLL_INTERVAL"), cap=_setting("JOB_POLL_INTERVAL_MAX"), factor=1.5
    )


def _error(part: JobPart, message: str, exc: BaseException | None = None) -> dict[str, str]:
    """The part's last-error fields: ``message``, with Voucherify's key and request id when
    ``exc`` is its answer; a card's code (a transactions export's) is masked in it."""
    message = _without_card_code(part.job, message)
    if exc is None:
        return {**background.error_fields(None), "last_error": message}
    return background.error_fields(exc, message)


def _without_card_code(job: Job, message: str) -> str:
    """``message`` with the code of the card whose transactions ``job`` exports masked: the
    errors quote it (the request's path, Voucherify's details) and are shown to every user who
    may see jobs, while the code itself (it spends the card's balance) is behind the
    permission to see vouchers, with the job's parameters."""
    code = job.params.get("code") if job.kind == JobKind.EXPORT_VOUCHER_TRANSACTIONS else None
    if not isinstance(code, str) or not code:
        return message
    for written in (quote(code, safe=""), code):  # as in a request's path, and as it is
        message = message.replace(written, _("[card code]"))
    return message


class PartFileMissing(DjangoVoucherifyError):
    """The part's split CSV is not in storage (deleted by hand, a storage restored): nothing was
    sent, and no retry can send it. Caught by the submit step; under the app's root error like
    every other, should :func:`send` ever raise it to a caller."""


def send(part: JobPart) -> str:
    """Make the part's request; returns the async action (or export) id."""
    job, client = part.job, _client()
    encoded = JobPart.objects.filter(pk=part.pk).values_list("body", flat=True).get()
    # Encoded once when the part was built: sent as those bytes (``payload`` holds source ids).
    body = EncodedJSON(encoded) if encoded is not None else part.payload
    kind = job.kind
    if kind in (JobKind.IMPORT_VOUCHERS_CSV, JobKind.IMPORT_CUSTOMERS_CSV):
        resource = client.vouchers if kind == JobKind.IMPORT_VOUCHERS_CSV else client.customers
        upload = resource.import_csv
        try:
            source = part.file.open("rb")
        except FileNotFoundError as exc:
            raise PartFileMissing(str(part.file.name)) from exc
        with source:
            answer = upload(source, filename=str(part.file.name).rsplit("/", 1)[-1])
    elif kind == JobKind.EXPORT_ORDERS:
        return str(client.orders.export(body)["id"])
    elif kind == JobKind.EXPORT_VOUCHER_TRANSACTIONS:
        return str(client.vouchers.export_transactions(job.params["code"], body)["id"])
    elif kind == JobKind.GENERATE_CAMPAIGN_CODES:
        answer = client.campaigns.add_vouchers(job.params["campaign_id"], count=int(job.params["count"]))
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
            JobKind.PUSH_PRODUCTS: lambda: client.products.bulk_update(body),
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


def _claim(part_id: int, token: str | None) -> tuple[JobPart | None, str]:
    """Lock the part and decide: ``send`` (marker written), ``reconcile``, ``wait`` or ``skip``
    (submitted already, or ``token`` superseded: another chain holds the part)."""
    with transaction.atomic():
        part = JobPart.objects.select_for_update().select_related("job").defer(*BULKY).get(pk=part_id)
        if token is not None and part.lease_token != token:
            return part, "skip"
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


def submit_part(part_id: int, token: str | None = None) -> list[Step]:
    """Send a pending part once; reconcile a part whose earlier submit had an unknown outcome.
    ``token``: the lease the step was scheduled with (None: a message from before leases, or a
    direct call; the part's state alone decides, and what follows takes the part over)."""
    job = Job.objects.filter(parts__pk=part_id).first()
    if job is None or give_up_if_too_old(job):
        return []
    part, decision = _claim(part_id, token)
    if part is None or decision == "skip":
        return []  # submitted already (its poll chain and the next submit were queued), or superseded
    if decision == "wait":
        return lease_step(part.pk, "submit", SUBMIT_TURN_WAIT, token)
    if decision == "reconcile":
        return _reconcile(part, token)
    return _send_and_record(part, token)


def _send_and_record(part: JobPart, token: str | None) -> list[Step]:
    try:
        remote_id = send(part)
    except PartFileMissing as exc:
        # Known not sent, and never sendable: failed at once, not left ``submitting`` (an
        # unknown outcome, reconciled and retried MAX_STEP_ERRORS times).
        error = _(
            "The part's file %(name)s is no longer in storage, so nothing was sent; upload the "
            "CSV again to import these rows."
        ) % {"name": exc}
        return _finish_part(part, PartState.FAILED, error=error)
    except TransportError as exc:
        if not exc.request_sent:
            return _back_to_pending(part, exc, 1.0, token)
        logger.warning("Voucherify job part %s: submit outcome unknown (%s); reconciling", part.pk, exc)
        return _outcome_unknown(part, exc, token)
    except (RateLimitedError, ServerError) as exc:
        if exc.status in (429, 502, 503, 504):  # answered before the request was processed
            return _back_to_pending(part, exc, float(getattr(exc, "retry_after", 0) or 2.0), token)
        return _outcome_unknown(part, exc, token)
    except APIError as exc:  # refused: 400, 401, 413...
        message = _("Voucherify refused the request (%(status)s %(key)s): %(message)s [request_id %(rid)s]")
        reason = message % {
            "status": exc.status,
            "key": exc.key or "",
            "message": exc.details or exc.message,
            "rid": exc.request_id or "-",
        }
        return _finish_part(part, PartState.FAILED, error=reason, cause=exc)
    return _record_submitted(part, remote_id, token)


def _outcome_unknown(part: JobPart, exc: Exception, token: str | None) -> list[Step]:
    """A send whose outcome is unknown (500, a read timeout...): noted on the part (staff see
    why it waits), then reconciled (:func:`_reconcile`)."""
    JobPart.objects.filter(pk=part.pk, state=PartState.SUBMITTING).update(**_error(part, str(exc), exc))
    part.last_error = _error(part, str(exc), exc)["last_error"]
    return lease_step(part.pk, "submit", min(5.0, _setting("JOB_RESUBMIT_AFTER")), token)


def _back_to_pending(part: JobPart, exc: Exception, delay: float, token: str | None) -> list[Step]:
    if part.submit_attempts >= MAX_SUBMIT_ATTEMPTS:
        return _finish_part(
            part,
            PartState.FAILED,
            error=_("Not sent after %(n)d attempts: %(error)s") % {"n": part.submit_attempts, "error": exc},
            cause=exc,
        )
    JobPart.objects.filter(pk=part.pk, state=PartState.SUBMITTING).update(
        state=PartState.PENDING, **_error(part, str(exc), exc)
    )
    return lease_step(part.pk, "submit", delay, token)


def _record_submitted(part: JobPart, remote_id: str, token: str | None) -> list[Step]:
    now = timezone.now()
    try:
        with transaction.atomic():
            updated = JobPart.objects.filter(pk=part.pk, state=PartState.SUBMITTING).update(
                state=PartState.SUBMITTED,
                async_action_id=remote_id,
                submitted_at=now,
                step_errors=0,  # a usable answer: only errors in a row fail the part
                **background.error_fields(None),
            )
            if updated:
                Job.objects.filter(pk=part.job_id).update(async_action_id=remote_id, updated_at=now)
    except IntegrityError:  # another part already owns this async action (adopted meanwhile)
        return lease_step(part.pk, "submit", 1.0, token)
    part.refresh_from_db()
    return _after_submitted(part) if updated else []


def next_poll(part: JobPart, holder: str | None, delay: float) -> list[Step]:
    """Schedule the part's next poll in ``delay`` s: allowed only to the step holding token
    ``holder`` (the current chain), or, with ``None``, as a take-over that ends any other chain."""
    return lease_step(part.pk, "poll", delay, holder)


def _after_submitted(part: JobPart) -> list[Step]:
    # The submit chain becomes the poll chain: a take-over, since the submit that recorded the
    # action may be a reconcile of a chain the sweep has replaced meanwhile.
    steps = next_poll(part, None, poll_delay(1))
    following = (
        JobPart.objects.filter(job_id=part.job_id, index__gt=part.index, state=PartState.PENDING)
        .order_by("index")
        .first()
    )
    if following is not None:  # parts go one after the other, in source order
        steps.extend(lease_step(following.pk, "submit", 0.0, None))
    return steps


def _reconcile(part: JobPart, token: str | None) -> list[Step]:
    started = part.submit_started_at or timezone.now()
    if part.job.is_export:  # no list of exports to look in; a second export harms nothing
        if part.submit_attempts >= MAX_SUBMIT_ATTEMPTS:
            return _give_up_sending(part)
        JobPart.objects.filter(pk=part.pk).update(state=PartState.PENDING)
        return lease_step(part.pk, "submit", 0.0, token)
    try:
        found = _find_unclaimed_action(ASYNC_TYPES[JobKind(part.job.kind)], started - CLOCK_SKEW)
    except (InvalidResponseError, _UnusableAnswer) as exc:  # a 2xx that shows nothing: bounded
        return unusable_answer(part, token, str(exc))
    except (TransportError, RateLimitedError, ServerError) as exc:
        logger.warning("Voucherify job part %s: cannot list async actions yet (%s)", part.pk, exc)
        return lease_step(part.pk, "submit", 5.0, token)
    if found:
        logger.info(
            "Voucherify job part %s: adopting async action %s after an unknown submit", part.pk, found
        )
        return _record_submitted(part, found, token)
    waited = (timezone.now() - started).total_seconds()
    resubmit_after = _setting("JOB_RESUBMIT_AFTER")
    if waited < resubmit_after:
        return lease_step(part.pk, "submit", min(5.0, resubmit_after - waited), token)
    if part.submit_attempts >= MAX_SUBMIT_ATTEMPTS:  # no async action came of any send
        return _give_up_sending(part)
    logger.warning("Voucherify job part %s: no async action after %.0f s; sending again", part.pk, waited)
    JobPart.objects.filter(pk=part.pk, state=PartState.SUBMITTING).update(state=PartState.PENDING)
    return submit_part(part.pk, token)


def _give_up_sending(part: JobPart) -> list[Step]:
    """Fail a part sent :data:`MAX_SUBMIT_ATTEMPTS` times, each without a usable answer: a body
    Voucherify fails on every time is not sent for ever (until JOB_MAX_AGE, 7 days), nor does
    it hold up every other part of its async type meanwhile (JobSubmitLock)."""
    return _finish_part(
        part,
        PartState.FAILED,
        error=_("Not sent after %(n)d attempts, none with a usable answer. Last: %(error)s")
        % {"n": part.submit_attempts, "error": part.last_error or "-"},
    )


def _find_unclaimed_action(action_type: str, since: datetime) -> str | None:
    """The oldest async action of ``action_type`` created after ``since`` that no part owns."""
    candidates: list[tuple[datetime, str]] = []
    for action in _client().async_actions.iterate():
        if not isinstance(action, dict):  # skipping it might miss ours, and send the part twice
            raise _UnusableAnswer(_("an item of the list of async actions is not an async action"))
        created = parse_datetime(str(action.get("created_at") or ""))
        if created is None:  # its age unknown: ending the walk here might miss ours, sent twice
            raise _UnusableAnswer(_("an async action of the list has no creation date"))
        if created < since:
            break  # newest first: everything further is older
        if action.get("type") == action_type:
            if not isinstance(action.get("id"), str) or not action["id"]:
                raise _UnusableAnswer(_("an async action of the list has no id"))
            candidates.append((created, action["id"]))
    owned = set(
        JobPart.objects.filter(async_action_id__in=[c[1] for c in candidates]).values_list(
            "async_action_id", flat=True
        )
    )
    free = sorted(c for c in candidates if c[1] not in owned)
    return free[0][1] if free else None


def poll_part(part_id: int, token: str | int | None = None) -> list[Step]:
    """Read the part's async action (or export) once; finish the part or poll again later.

    ``token`` is the lease the poll was scheduled with: a superseded poll does nothing. Anything
    else (None, or the sequence number of a message queued before leases existed) polls only
    when the part is due and no live chain holds it, and then takes the part over.
    """
    part = JobPart.objects.select_related("job").defer(*BULKY).filter(pk=part_id).first()
    if part is None or part.state != PartState.SUBMITTED:
        return []  # final, or its job was deleted meanwhile (the only way to stop a job)
    if not isinstance(token, str):
        now = timezone.now()
        due = Q(due_at__isnull=True) | Q(due_at__lte=now)
        free = Q(lease_until__isnull=True) | Q(lease_until__lte=now)
        held = background.lease(
            JobPart,
            part.pk,
            due_in=0,
            lease_for=POLL_OVERDUE_GRACE,
            where=Q(state=PartState.SUBMITTED) & due & free,
        )
        if held is None:
            return []  # a live chain is scheduled
        token = part.lease_token = held.token
    if token != part.lease_token:
        return []
    if give_up_if_too_old(part.job):
        return []
    JobPart.objects.filter(pk=part.pk).update(polls=F("polls") + 1)
    part.polls += 1
    try:
        if part.job.is_export:
            return exports.poll_export(
                part,
                _finish_part,
                lambda p: _poll_later(p, token),
                lambda p, problem: unusable_answer(p, token, problem),
            )
        # Stored in parts (status, result, message): a NUL or a lone surrogate must not fail it.
        action = storable_json(_client().async_actions.get(part.async_action_id))
    except InvalidResponseError as exc:  # a 2xx that is not an object (a proxy's page)
        return unusable_answer(part, token, str(exc))
    except NotFoundError as exc:
        if not exc.key:  # a gateway's or proxy's 404 page, not Voucherify's: it says nothing
            return _poll_again(part, token, exc)
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
        return _poll_again(part, token, exc)
    except APIError as exc:  # 401/403 (keys changed while the action runs: fix them), a 400...
        return _poll_again(part, token, exc)  # the action goes on at Voucherify: ask again
    status = action.get("status")
    if status not in RUNNING_STATUSES + FINAL_STATUSES:
        return unusable_answer(part, token, exports.status_problem(status, RUNNING_STATUSES + FINAL_STATUSES))
    if status in FINAL_STATUSES:
        result = action.get("result")
        result = dict(result) if isinstance(result, dict) else {}
        state = PartState.DONE if status == "DONE" else PartState.FAILED
        error = "" if state == PartState.DONE else str(result.get("message") or _("The async action failed."))
        return _finish_part(part, state, result=result, error=error, remote_status=status)
    JobPart.objects.filter(pk=part.pk).update(
        remote_status=status[:STATUS_CHARS],
        progress=_percent(action.get("progress")),
    )
    results.refresh_job(part.job_id)
    return _poll_later(part, token)


def _poll_later(part: JobPart, token: str) -> list[Step]:
    """The end of a poll that read "not finished yet": its step went well, so the count of
    unusable answers and unexpected errors starts again (only so many in a row fail the part;
    reset last, so an error raised earlier in the step still adds up), then the next poll."""
    JobPart.objects.filter(pk=part.pk, step_errors__gt=0).update(step_errors=0)
    return next_poll(part, token, poll_delay(part.polls))


#: ``JobPart.remote_status``'s length: a longer status (not Voucherify's) is cut, not an error.
STATUS_CHARS = 32


def _percent(value: Any) -> int:
    """An async action's ``progress`` as a whole percentage from 0 to 100 (0 if it is none)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:  # NaN
        return 0
    return int(min(max(value, 0), 100))


class _UnusableAnswer(Exception):
    """A 2xx answer a step cannot use (not the shape the spec gives): see :func:`unusable_answer`."""


def step_error_delay(errors: int) -> float:
    """Backoff after the ``errors``-th unexpected error or unusable answer of a part: from
    ``JOB_POLL_INTERVAL``, doubling, capped at ``JOB_POLL_INTERVAL_MAX``."""
    return background.backoff(
        errors, base=_setting("JOB_POLL_INTERVAL"), cap=_setting("JOB_POLL_INTERVAL_MAX")
    )


def unusable_answer(part: JobPart, token: str | None, problem: str) -> list[Step]:
    """A 2xx answer the step cannot use: a ``{}`` or another shape without a status the spec
    lists (``ENQUEUED``/``IN_PROGRESS``: not finished; ``DONE``/``FAILED``: final), a page of
    the async action list without its list. Not "not finished yet": it says nothing, so it is
    asked again after a backoff, and after :data:`MAX_STEP_ERRORS` of them (with the
    unexpected errors) the part fails with the reason, never polled until ``JOB_MAX_AGE``."""
    logger.warning("Voucherify job part %s: unusable answer (%s)", part.pk, problem)
    note = _("Voucherify's answer could not be used (%(problem)s); asking again.") % {"problem": problem}
    final = _(
        "Voucherify's answers could not be used %(n)d times (last: %(problem)s), so the outcome "
        "of this part is unknown; it is not sent again. Async action or export: %(id)s."
    )
    return _setback(part, token, note, None, lambda n: final % {"n": n, "problem": problem, "id": _id(part)})


def _id(part: JobPart) -> str:
    return part.async_action_id or "-"


def _setback(
    part: JobPart, token: str | None, note: str, cause: BaseException | None, final: Callable[[int], str]
) -> list[Step]:
    """One unusable answer or unexpected error of ``part``'s step (the chain holding ``token``):
    counted in ``step_errors`` and noted in ``last_error``; the same step again after
    :func:`step_error_delay`; at :data:`MAX_STEP_ERRORS` the part fails with ``final(count)``.
    Nothing when the part is final meanwhile, or another chain holds it."""
    rows = JobPart.objects.filter(pk=part.pk).exclude(state__in=FINAL_PART_STATES)
    if token is not None:
        rows = rows.filter(lease_token=token)
    # The count and the end of the part it fails, in one transaction: when ending it raises (a
    # database error at the 8th), the count is rolled back with it, and whoever records that
    # error (step_failed, or the step run again after the lease) counts this setback once.
    with transaction.atomic():
        if not rows.update(step_errors=F("step_errors") + 1, **_error(part, note, cause)):
            return []
        state, errors = JobPart.objects.filter(pk=part.pk).values_list("state", "step_errors").get()
        if errors >= MAX_STEP_ERRORS:
            ended = _end_part(part, PartState.FAILED, error=final(errors), cause=cause)
    if errors >= MAX_STEP_ERRORS:
        return _after_end(part, ended)
    return lease_step(
        part.pk, "poll" if state == PartState.SUBMITTED else "submit", step_error_delay(errors), token
    )


def step_failed(action: str, part_id: int, token: str | int | None, exc: Exception) -> list[Step]:
    """A step that raised what no branch expected (a bug on an odd answer, a database error, a
    ``requests`` error the transport did not map): logged once (type, text with secrets
    masked, no frame locals), then :func:`_setback` (the part keeps its state: a submit's
    outcome unknown is reconciled, never sent blindly again). If even that fails (the database
    is down), the lease runs out and the sweep takes the part over."""
    described = background.log_unexpected(
        logger, f"Voucherify job part {part_id}: {action} failed unexpectedly", exc
    )
    try:
        part = JobPart.objects.select_related("job").defer(*BULKY).filter(pk=part_id).first()
        if part is None:
            return []
        final = _(
            "Stopped after %(n)d unexpected errors or unusable answers (last: %(error)s); the outcome "
            "of this part is unknown."
        )
        held = token if isinstance(token, str) else None
        return _setback(part, held, described, exc, lambda n: final % {"n": n, "error": described})
    except Exception as again:
        background.log_unexpected(logger, f"Voucherify job part {part_id}: recording the error failed", again)
        return []


def run_guarded(action: str, part_id: int, token: str | int | None) -> list[Step]:
    """The task's step (``submit`` or ``poll``); an unexpected error goes to :func:`step_failed`,
    never out of the task (it used to be retried by Celery, uncounted and unrecorded, and then
    re-driven at lease speed until ``JOB_MAX_AGE``)."""
    try:
        if action == "submit":
            return submit_part(part_id, token if isinstance(token, str) else None)
        return poll_part(part_id, token)
    except Exception as exc:
        return step_failed(action, part_id, token, exc)


def _poll_again(part: JobPart, token: str, exc: Exception) -> list[Step]:
    """A poll without a usable answer: noted on the part (staff see why it waits), the next
    one after the backoff (or the Retry-After)."""
    delay = max(poll_delay(part.polls), float(getattr(exc, "retry_after", 0) or 0))
    logger.warning("Voucherify job part %s: poll failed (%s), next in %.0f s", part.pk, exc, delay)
    JobPart.objects.filter(pk=part.pk, state=PartState.SUBMITTED).update(**_error(part, str(exc), exc))
    return next_poll(part, token, delay)


def _finish_part(
    part: JobPart,
    state: str,
    *,
    result: dict[str, Any] | None = None,
    error: str = "",
    cause: BaseException | None = None,
    remote_status: str = "",
) -> list[Step]:
    """End the part (once: a part already final is left alone); ``error`` is its reason and
    ``cause`` the Voucherify answer behind it, if any (its key and request id are kept)."""
    ended = _end_part(part, state, result=result, error=error, cause=cause, remote_status=remote_status)
    return _after_end(part, ended)


def _end_part(
    part: JobPart,
    state: str,
    *,
    result: dict[str, Any] | None = None,
    error: str = "",
    cause: BaseException | None = None,
    remote_status: str = "",
) -> bool:
    """:func:`_finish_part`'s database work, in one transaction (nested in the caller's, if
    any): the part's final state, its failed rows, its push's rows. True if it ended it now."""
    result = result or {}
    async_type = ASYNC_TYPES.get(JobKind(part.job.kind))
    with transaction.atomic():  # the failed rows are written once, with the final state
        locked = (
            JobPart.objects.select_for_update()
            .defer(*BULKY)
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
                **_error(part, error, cause),
                due_at=None,  # nothing more is due: the chain ends with the part
                lease_until=None,
                remote_status=remote_status or state.upper(),
                progress=100,
                done_count=done,
                failed_count=failed,
                finished_at=timezone.now(),
                result={k: v for k, v in result.items() if k not in ("failed", "errors")},
            )
            from .push import part_finished  # push imports the service, which imports this module

            # In the same transaction: a part is final exactly when its rows are marked (a crash
            # or a deadlock in between rolls both back, and the part is polled again).
            part_finished(part, state)
    return locked is not None


def _after_end(part: JobPart, ended: bool) -> list[Step]:
    """:func:`_finish_part`'s work outside the transaction: the split file, the job's totals."""
    if ended:
        part.refresh_from_db()
        if part.file:
            part.file.delete(save=True)  # the source file is kept; its split copy is not needed
    results.refresh_job(part.job_id)
    return []


def pending_steps(job: Job) -> list[Step]:
    """What a job needs now (its start, :func:`drive`): every step takes its part over (a new
    lease), so a chain it replaces ends. The sweep uses :func:`claim_lost_steps` instead."""
    if job.state in FINAL_JOB_STATES:
        return []
    steps: list[Step] = []
    for part in job.parts.filter(_next_in_line()).exclude(state__in=FINAL_PART_STATES).order_by("index"):
        action = "poll" if part.state == PartState.SUBMITTED else "submit"
        steps.extend(lease_step(part.pk, action, 0.0, None))
    return steps


def _next_in_line() -> Q:
    """Parts whose step may run now: parts go one after the other, so a pending part waits while
    an earlier part of its job is pending too (its own submit queues the next one)."""
    earlier_pending = JobPart.objects.filter(
        job_id=OuterRef("job_id"), index__lt=OuterRef("index"), state=PartState.PENDING
    )
    return Q(~Exists(earlier_pending))


def claim_lost_steps(jobs: QuerySet[Job], limit: int = RESUME_BATCH) -> list[Step]:
    """The steps of running ``jobs`` whose message was lost: parts due and held by no chain (a
    lease runs :data:`POLL_OVERDUE_GRACE` past its due time), claimed with ``SKIP LOCKED`` so
    two sweeps never take the same part, each under a new lease that ends the lost chain."""
    parts = JobPart.objects.filter(
        _next_in_line(),
        job_id__in=jobs.filter(state=JobState.RUNNING).values("pk"),  # a subquery: no Job row lock
        state__in=(PartState.PENDING, PartState.SUBMITTING, PartState.SUBMITTED),
    )
    claimed = background.claim_due(parts, lease_for=POLL_OVERDUE_GRACE, limit=limit)
    return [
        Step("poll" if part.state == PartState.SUBMITTED else "submit", part.pk, 0.0, part.lease_token)
        for part in claimed
    ]


def give_up_old_jobs(jobs: QuerySet[Job]) -> int:
    """Fail the unfinished ``jobs`` older than ``JOB_MAX_AGE`` (:func:`give_up_if_too_old`)."""
    too_old = timezone.now() - timedelta(seconds=_setting("JOB_MAX_AGE"))
    return sum(
        give_up_if_too_old(job)
        for job in jobs.exclude(state__in=FINAL_JOB_STATES).filter(created_at__lt=too_old)
    )


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
    if step.action == "submit":
        return submit_part(step.part_id, step.token)
    return poll_part(step.part_id, step.token)


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
