"""Background jobs behind async actions and exports.

Design (chosen for determinism): each job runs in its own daemon thread. The record (an async
action in ``state.async_actions`` or an export in ``state.exports``) is created by the request
as ENQUEUED (exports: SCHEDULED); after ``state.job_delay`` seconds it becomes IN_PROGRESS, and
after another ``job_delay`` (and once ``state.jobs_may_run`` is set: tests hold jobs with it)
the job function runs under ``state.lock`` and the record becomes DONE (or FAILED) with
``progress`` 100, ``processing_time`` and ``result``. Tests call
``Sandbox.wait_for_jobs()`` (or poll, as real clients do). Job kind and payload are kept in
``state.extra["jobs"]`` so a persisted state resumes unfinished jobs after a restart.

A job stays in ``state.extra["jobs"]`` until the lock hold that writes its result, so every
save holds either the job or its result. A chunked job (one that lets the lock go between
chunks: campaign_vouchers.breathe) keeps its cursor in its payload, updated in the hold that
did the chunk's work, so a resumed job continues where the save left it instead of doing
the saved chunks twice (see ``cursor``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from django_voucherify.sandbox.log import logger
from django_voucherify.sandbox.state import SandboxState

JSON = dict[str, Any]

#: kind -> function(state, record, payload) that fills ``record`` (status, result...).
JobFn = Callable[[SandboxState, JSON, JSON], None]
JOBS: dict[str, JobFn] = {}


def job(kind: str) -> Callable[[JobFn], JobFn]:
    """Register a job function under ``kind``."""

    def deco(fn: JobFn) -> JobFn:
        JOBS[kind] = fn
        return fn

    return deco


def _collection(state: SandboxState, record_id: str) -> dict[str, JSON]:
    return state.exports if record_id.startswith("exp_") else state.async_actions


def enqueue(state: SandboxState, record: JSON, kind: str, payload: JSON) -> None:
    """Store ``record`` and start its job (call with ``state.lock`` held, i.e. in a handler)."""
    _collection(state, record["id"])[record["id"]] = record
    state.extra.setdefault("jobs", {})[record["id"]] = {"kind": kind, "payload": payload}
    _start(state, record["id"])


def _start(state: SandboxState, record_id: str) -> None:
    t = threading.Thread(target=_run, args=(state, record_id), daemon=True, name=record_id)
    state.threads = [x for x in state.threads if x.is_alive()]
    state.threads.append(t)
    t.start()


def _run(state: SandboxState, record_id: str) -> None:
    started = time.monotonic()
    time.sleep(state.job_delay)
    with state.lock:
        record = _collection(state, record_id).get(record_id)
        if record is None:
            return
        record["status"] = "IN_PROGRESS"
        if "progress" in record:
            record["progress"] = 0
        if "updated_at" in record:
            record["updated_at"] = state.now_iso()
    time.sleep(state.job_delay)
    state.jobs_may_run.wait()
    with state.lock:
        record = _collection(state, record_id).get(record_id)
        # The spec stays queued while the job runs and leaves in the hold that writes the
        # result: a chunked job lets the lock go between chunks, and a save taken then must
        # hold the job (with its cursor, kept in its payload) or its result, never neither.
        spec = state.extra.get("jobs", {}).get(record_id)
        if record is None or spec is None:
            state.extra.get("jobs", {}).pop(record_id, None)
            return
        # The spec no longer leaves the queue when its job starts: a second start of the same
        # job (resume() on a state whose job is running) must not run it twice.
        running: set[str] = state.transient.setdefault("running_jobs", set())
        if record_id in running:
            return
        running.add(record_id)
        try:
            JOBS[spec["kind"]](state, record, spec["payload"])
            record.setdefault("status", "DONE")
            if record["status"] == "IN_PROGRESS":
                record["status"] = "DONE"
        except Exception as exc:  # a job bug must not kill the sandbox; report it as FAILED
            logger.exception("sandbox: job %s (%s) failed", record_id, spec["kind"])
            record["status"] = "FAILED" if not record_id.startswith("exp_") else "ERROR"
            record["result"] = {"message": f"Job failed: {exc}"}
        if "progress" in record:
            record["progress"] = 100
        if "processing_time" in record:
            record["processing_time"] = int((time.monotonic() - started) * 1000)
        if "updated_at" in record:
            record["updated_at"] = state.now_iso()
        state.extra.get("jobs", {}).pop(record_id, None)
        running.discard(record_id)
        state.changed()


def cursor(payload: JSON) -> JSON:
    """The resumable progress of a chunked job, persisted inside its payload (an empty dict
    on the first run). Update it in the same lock hold as the work it counts."""
    found: JSON = payload.setdefault("cursor", {})
    return found


#: Items per hold of the state lock in a chunked job (resumable()).
CHUNK = 200


def breathe(state: SandboxState) -> None:
    """Let other requests take the state lock between two chunks of a job that holds it (the
    job runner takes it once: _run), then take it back."""
    state.lock.release()
    try:
        time.sleep(0.001)  # a real pause: a waiting request gets the lock before we retake it
    finally:
        state.lock.acquire()


def resumable(state: SandboxState, payload: JSON, items: list[Any]) -> Iterator[tuple[int, Any, JSON]]:
    """The items of a chunked job as ``(number from 1, item, progress)``, from where a saved
    cursor left them, letting the lock go every :data:`CHUNK` items. The job counts into
    ``progress`` (persisted with the job) while it handles an item: at each breath the
    cursor and the counts agree."""
    progress = cursor(payload)
    first = int(progress.get("rows", 0))
    for number in range(first + 1, len(items) + 1):
        if number > first + 1 and (number - 1) % CHUNK == 0:
            breathe(state)
        yield number, items[number - 1], progress
        progress["rows"] = number


def resume(state: SandboxState) -> None:
    """Restart jobs left unfinished in a loaded state."""
    with state.lock:
        for record_id in list(state.extra.get("jobs", {})):
            _start(state, record_id)


def wait(state: SandboxState, timeout: float = 10.0) -> None:
    """Join all job threads (raises TimeoutError if some are still running)."""
    deadline = time.monotonic() + timeout
    for t in list(state.threads):
        t.join(max(0.0, deadline - time.monotonic()))
        if t.is_alive():
            raise TimeoutError(f"job {t.name} still running")
