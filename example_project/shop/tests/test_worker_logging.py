"""The demo's Celery worker prints each of the app's log records once (it printed every one
twice: Celery's handler on the root logger, and the console handler settings.LOGGING gives the
app's logger for runserver)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = """
import logging
import django
django.setup()
from example_project.celery import app
app.log.setup(loglevel="INFO", redirect_stdouts=False)  # what `celery worker` does at start
logging.getLogger("django_voucherify.jobs").info("a record of the app")
"""


def test_the_worker_prints_each_app_record_once(tmp_path: Path) -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "example_project.settings"}
    env.update(DEMO_VAR_DIR=str(tmp_path / "var"), PYTHONPATH=str(ROOT))
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    printed = [line for line in (run.stdout + run.stderr).splitlines() if "a record of the app" in line]
    assert len(printed) == 1, printed
    assert "INFO/MainProcess" in printed[0]  # in Celery's format, with its time and level
