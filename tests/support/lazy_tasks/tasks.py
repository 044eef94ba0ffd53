"""Imported only by autodiscovery (tests/test_background.py): records each run."""

from __future__ import annotations

from celery import shared_task

RUNS: list[int] = []


@shared_task(name="tests.lazy_tasks.ping")
def ping(value: int) -> None:
    RUNS.append(value)
