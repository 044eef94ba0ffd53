"""Real Celery workers for the slow tests: the broker app, the database URL, waiting."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from celery import Celery
from django.db import connection


def wait_until(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    describe: Callable[[], str] = lambda: "",
) -> None:
    """Poll ``condition`` every 0.1 s; past ``timeout`` fail with ``what`` and ``describe()``
    (the state that explains the wait). Never an assertion on timing: a deadline to give up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}: {describe()}")


def database_url() -> str:
    """The test database as a URL, for worker processes (``DATABASE_URL``)."""
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def celery_app(broker: str, queue: str) -> Celery:
    """A producer/control app on ``broker`` whose tasks go to this run's ``queue``; a dead
    broker fails fast instead of retrying."""
    app = Celery(f"client-{broker}-{queue}", broker=broker, set_as_current=False)
    app.conf.update(
        task_default_queue=queue,
        broker_connection_timeout=1,
        broker_connection_retry=False,
        broker_connection_retry_on_startup=False,
        task_always_eager=False,
    )
    return app


def worker_command(app: str, name: str, queue: str) -> list[str]:
    """``celery worker`` for one test worker of ``app`` (a module path): the solo pool, and no
    gossip, mingle or heartbeat (a quick start, and no chatter with other runs' workers), named
    ``name`` and consuming only this run's ``queue``."""
    return [
        str(Path(sys.executable).with_name("celery")),
        "-A",
        app,
        "worker",
        "--pool=solo",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-n",
        name,
        "-Q",
        queue,
    ]
