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
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import django_voucherify
from django_voucherify import jobs
from django_voucherify.jobs import dispatch, runner
from django_voucherify.models import Job, JobPart, JobState, PartState
from tests.support.jobs import voucher_csv
from tests.support.workers import celery_app, database_url, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BROKER = os.environ.get("VOUCHERIFY_JOBS_TEST_BROKER", "redis://127.0.0.1:6379/12")
ROOT = Path(__file__).resolve().parents[2]
RUN = uuid.uuid4().hex[:10]
QUEUE = f"voucherify-jobs-tests-{RUN}"


def wait_for(condition: Callable[[], bool], timeout: float = 25.0, what: str = "condition") -> None:
    def describe() -> str:
        jobs_state = list(Job.objects.values_list("pk", "state", "error"))
        parts = list(JobPart.objects.values_list("job_id", "index", "state", "async_action_id", "last_error"))
        return f"jobs={jobs_state} parts={parts}"

    wait_until(condition, timeout, what, describe)


class Workers:
    """Starts worker processes on demand; each can be SIGKILLed."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env, self.log_dir, self.procs = env, log_dir, []
        self.control = celery_app(BROKER, QUEUE)
        self.control.conf.task_default_queue = QUEUE

    def start(self) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"jobs_worker_{len(self.procs)}.log", "w")  # noqa: SIM115
        name = f"jobs{len(self.procs)}-{RUN}@tests"
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("celery")),
                "-A",
                "tests.jobs.celery_app",
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                name,
                "-Q",
                QUEUE,
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append((proc, log))
        # Ping this worker only: another run's workers on the same broker must not answer for it.
        wait_until(
            lambda: proc.poll() is None and bool(self.control.control.ping(destination=[name], timeout=0.5)),
            30,
            "worker ready",
        )
        return proc

    def stop_all(self) -> None:
        for proc, log in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
            log.close()


@pytest.fixture
def live(voucherify_sandbox_server, settings, tmp_path) -> Iterator[Any]:
    server = voucherify_sandbox_server
    server.sandbox.state.job_delay = 0.3
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.VOUCHERIFY = {
        **settings.VOUCHERIFY,
        "APP_ID": server.sandbox.app_id,
        "SECRET_KEY": server.sandbox.app_token,
        "API_URL": server.url,
        "MAX_RETRIES": 0,
    }
    django_voucherify.reset_client()
    return server


@pytest.fixture
def workers(live, settings, tmp_path) -> Iterator[Workers]:
    import redis

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.jobs.worker_settings",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": BROKER,
        "CELERY_TASK_DEFAULT_QUEUE": QUEUE,
        "VOUCHERIFY_API_URL": live.url,
        "MEDIA_ROOT": settings.MEDIA_ROOT,
        "JOB_SIGNAL_LOG": str(tmp_path / "signals.log"),
    }
    log_dir = ROOT / ".pytest_cache" if (ROOT / ".pytest_cache").is_dir() else tmp_path
    pool = Workers(env, log_dir)
    pool.control.set_current()
    try:
        yield pool
    finally:
        pool.stop_all()
        broker = redis.Redis.from_url(BROKER)  # only this run's queue (never flushdb: shared db)
        for key in broker.scan_iter(match=f"{QUEUE}*"):
            broker.delete(key)


def signals_sent(tmp_path: Path) -> list[str]:
    path = tmp_path / "signals.log"
    return path.read_text().split("\n")[:-1] if path.exists() else []


def part_of(job: Job) -> JobPart:
    return JobPart.objects.get(job=job)


def actions_of_type(live: Any, action_type: str) -> list[dict[str, Any]]:
    return [a for a in live.sandbox.state.async_actions.values() if a["type"] == action_type]


def test_worker_killed_during_submit_and_while_a_poll_is_scheduled(workers, live, tmp_path):
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
