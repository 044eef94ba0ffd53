"""Runs the example shop's checkout tests under the shop's own settings, in a subprocess (the
shop app is not part of tests.settings) on a database of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("database", ["postgres", "sqlite"])
def test_example_shop_checkout(database, tmp_path):
    """On PostgreSQL, and on SQLite as the demo runs by default: two tabs submitting one
    checkout at once used to give the second a 500 "database is locked" there."""
    # A database of this run's own (two runs on one server, or two xdist workers, never share it).
    run_id = (
        f"{os.environ.get('VOUCHERIFY_TEST_RUN_ID', 'local')}_{os.environ.get('PYTEST_XDIST_WORKER', 'gw')}"
    )
    url = (
        os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test").rstrip("/")
        + f"_shop_{run_id}"
    )
    if database == "sqlite":
        url = f"sqlite:///{tmp_path / 'shop.sqlite3'}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": "memory://",
        "CELERY_TASK_ALWAYS_EAGER": "1",
    }
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--ds=example_project.settings",
            "--rootdir",
            str(ROOT),
            str(ROOT / "example_project" / "shop" / "tests"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,  # the shop suite (76 tests, one process) takes 5 min on a loaded 2-core machine
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout
