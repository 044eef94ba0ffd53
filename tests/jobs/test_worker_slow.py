"""With REAL Celery worker processes, the Redis broker, PostgreSQL and the sandbox over
HTTP: a CSV import reaches DONE; a worker SIGKILLed while a submit is in flight, or while a poll
is scheduled, is replaced and the job still ends DONE exactly once, with one async action.

Waits poll the database for a condition with a deadline; nothing asserts on timing. Each run
uses its own queue and worker names on the broker, so concurrent runs (other checkouts, other
engineers) sharing the Redis db neither consume nor flush each other's messages.
"""

from __future__ import annotations

import io
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from django_voucherify import jobs
from django_voucherify.jobs import dispatch, runner
from django_voucherify.models import Job, JobPart, JobState, PartState
from tests.support.job_workers import live, wait_for, workers  # noqa: F401  (fixtures)
from tests.support.jobs import voucher_csv

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def signals_sent(tmp_path: Path) -> list[str]:
    path = tmp_path / "signals.log"
    return path.read_text().split("\n")[:-1] if path.exists() else []


def part_of(job: Job) -> JobPart:
    return JobPart.objects.get(job=job)


def actions_of_type(live: Any, action_type: str) -> list[dict[str, Any]]:  # noqa: F811
    return [a for a in live.sandbox.state.async_actions.values() if a["type"] == action_type]


def test_worker_killed_during_submit_and_while_a_poll_is_scheduled(workers, live, tmp_path):  # noqa: F811
    worker = workers.start()

    # 1. Normal run: CSV stored, split, submitted and polled by the worker to DONE.
    job = jobs.import_vouchers_csv(io.BytesIO(voucher_csv(30)), name="ok.csv")
    wait_for(lambda: Job.objects.get(pk=job.pk).state == JobState.DONE, what="first job done")
    assert Job.objects.get(pk=job.pk).done_count == 30

    # 2. SIGKILL while the submit is in flight: Voucherify acted, the answer never came back.
    live.sandbox.faults.add(path="/v1/vouchers/importCSV", method="POST", latency=3, after=True, times=1)
    job = jobs.import_vouchers_csv(io.BytesIO(voucher_csv(20, start=100)), name="killed.csv")
    wait_for(lambda: JobPart.objects.filter(job=job, state=PartState.SUBMITTING).exists(), what="in flight")
    wait_for(lambda: len(actions_of_type(live, "VOUCHERS.IMPORT_CSV")) == 2, what="request reached")
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    worker = workers.start()  # the re-delivered submit reconciles instead of sending again
    wait_for(lambda: Job.objects.get(pk=job.pk).state == JobState.DONE, what="job done after kill")
    assert len(actions_of_type(live, "VOUCHERS.IMPORT_CSV")) == 2  # one per job: not re-sent
    assert part_of(job).async_action_id == actions_of_type(live, "VOUCHERS.IMPORT_CSV")[-1]["id"]
    assert Job.objects.get(pk=job.pk).done_count == 20

    # 3. SIGKILL while a poll is scheduled (the async action takes a while).
    live.sandbox.state.job_delay = 1.5
    job = jobs.import_vouchers_csv(io.BytesIO(voucher_csv(10, start=200)), name="poll.csv")
    wait_for(
        lambda: JobPart.objects.filter(job=job, state=PartState.SUBMITTED, polls__gte=1).exists(),
        what="polling",
    )
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    workers.start()

    # The kill may land between the poll committing its successor's lease and publishing its
    # message: the chain is then lost until the sweep's resume takes it over, once the lease
    # ran out (the scheduled poll is POLL_OVERDUE_GRACE late). The test plays beat (production runs it).
    def done_with_beat() -> bool:
        dispatch.resume()
        return Job.objects.get(pk=job.pk).state == JobState.DONE

    wait_for(
        done_with_beat, timeout=30 + runner.POLL_OVERDUE_GRACE.total_seconds(), what="job done after 2nd kill"
    )
    assert len(actions_of_type(live, "VOUCHERS.IMPORT_CSV")) == 3
    assert len(live.sandbox.state.vouchers) == 60

    # Each job finished once: one job_finished signal per job, all DONE.
    done = [line for line in signals_sent(tmp_path)]
    assert sorted(done) == sorted(f"{j.pk} done" for j in Job.objects.all())
