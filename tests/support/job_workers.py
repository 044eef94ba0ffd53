"""Real Celery worker processes running the bulk jobs' tasks (``tests.jobs.celery_app``) for the
slow tests, with the sandbox over HTTP: the ``live`` and ``workers`` fixtures (test modules
import them), and ``wait_for`` a job condition.

Each run uses its own queue and worker names on the broker, so concurrent runs (other checkouts,
other engineers) sharing the Redis db neither consume nor flush each other's messages.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from django_voucherify.models import Job, JobPart
from tests.support.sandbox import point_at_server
from tests.support.workers import celery_app, database_url, wait_until, worker_command

BROKER = os.environ.get("VOUCHERIFY_JOBS_TEST_BROKER", "redis://127.0.0.1:6379/12")
ROOT = Path(__file__).resolve().parents[2]
RUN = uuid.uuid4().hex[:10]
QUEUE = f"voucherify-jobs-tests-{RUN}"


def wait_for(condition: Callable[[], bool], timeout: float = 25.0, what: str = "condition") -> None:
    """:func:`~tests.support.workers.wait_until` ``condition``; a timeout shows the jobs and parts."""

    def describe() -> str:
        jobs_state = list(Job.objects.values_list("pk", "state", "error"))
        parts = list(JobPart.objects.values_list("job_id", "index", "state", "async_action_id", "last_error"))
        return f"jobs={jobs_state} parts={parts}"

    wait_until(condition, timeout, what, describe)


class Workers:
    """Starts worker processes on demand; each can be SIGKILLed."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env, self.log_dir = env, log_dir
        self.procs: list[tuple[subprocess.Popen[bytes], IO[str]]] = []
        self.control = celery_app(BROKER, QUEUE)
        self.control.conf.task_default_queue = QUEUE

    def start(self) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"jobs_worker_{len(self.procs)}.log", "w")  # noqa: SIM115
        name = f"jobs{len(self.procs)}-{RUN}@tests"
        proc = subprocess.Popen(
            worker_command("tests.jobs.celery_app", name, QUEUE),
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
def live(voucherify_sandbox_server, settings, tmp_path) -> Any:
    voucherify_sandbox_server.sandbox.state.job_delay = 0.3
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return point_at_server(settings, voucherify_sandbox_server)


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
