"""Helpers to interleave two database connections deterministically (PostgreSQL only)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import connection, connections


def wait_until_another_session_waits_for_a_lock(timeout: float = 10.0) -> bool:
    """Poll ``pg_stat_activity`` until another backend of this database is blocked on a lock.

    The timeout only bounds a broken run; the outcome never depends on how fast anything is.
    """
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # else frozen for the transaction
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND pid <> pg_backend_pid() AND datname = current_database()"
            )
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.005)
    return False


def run_in_threads(*targets: Callable[[], Any]) -> dict[str, str]:
    """Run each target in its own thread (own connection); returns ``{name: repr(error)}``."""
    errors: dict[str, str] = {}

    def wrap(target: Callable[[], Any]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except Exception as exc:  # reported to the test, which asserts on it
                errors[target.__name__] = repr(exc)[:300]
            finally:
                connection.close()

        return run

    threads = [threading.Thread(target=wrap(t)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return errors


def closing_connections(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, run in a pool's worker thread: the database connection the thread opened
    for it (each thread has its own) is closed after it, not left open past the test."""
    try:
        return fn(*args)
    finally:
        connections.close_all()
