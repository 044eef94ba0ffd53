"""The demo's filesystem broker survives its folder being deleted while the demo runs (the
worker used to die on FileNotFoundError at its next poll, and the web's delay() calls failed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

# Runs under the demo's real settings (filesystem broker), as the web process and worker do.
SCRIPT = """
import shutil, sys
from pathlib import Path
import django
django.setup()
from django.conf import settings
from example_project.celery import app

broker = Path(settings.VAR_DIR) / "broker"


def sent_and_received(number):
    app.send_task("demo.broker_test", args=[number])  # what a web request's delay() does
    with app.connection_for_read() as connection:  # what the worker polls: the default queue
        queue = connection.SimpleQueue(app.conf.task_default_queue)
        try:
            message = queue.get(timeout=2)
            message.ack()
            return message.headers["task"], message.headers["argsrepr"]
        finally:
            queue.close()


assert sent_and_received(1) == ("demo.broker_test", "[1]")
shutil.rmtree(broker)  # someone clears the backlog by deleting the folder
with app.connection_for_read() as connection:  # the worker's next poll of the empty queue
    queue = connection.SimpleQueue(app.conf.task_default_queue)
    try:
        queue.get(timeout=0.5)
    except queue.Empty:
        pass
assert sent_and_received(2) == ("demo.broker_test", "[2]")
print("ok", sorted(p.name for p in broker.iterdir()))
"""


def test_the_broker_folders_come_back_when_deleted(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER"}  # the demo's default broker
    }
    env.update(DJANGO_SETTINGS_MODULE="example_project.settings", DEMO_VAR_DIR=str(tmp_path / "var"))
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "ok" in run.stdout and "queue" in run.stdout


def test_a_message_is_never_seen_half_written(tmp_path: Path, monkeypatch) -> None:
    """kombu's filesystem ``_put`` creates the ``.msg`` file empty, then writes it: a worker
    polling in between took the empty file and died on a JSONDecodeError (the demo stopped). Here
    a reader polls the folder at the moment the writer has written nothing yet: it must find no
    message (the writer's file is not a ``.msg`` one until it is whole), then the whole one."""
    import builtins

    from kombu import Connection

    from example_project import broker

    folder = tmp_path / "queue"
    seen_mid_write: list[list[str]] = []
    real_open = builtins.open

    class Spying:
        def __init__(self, file):
            self.file = file

        def __enter__(self):
            self.file.__enter__()
            return self

        def __exit__(self, *exc):
            return self.file.__exit__(*exc)

        def write(self, data):
            # The file exists, nothing written yet: what a polling worker sees now.
            seen_mid_write.append(sorted(p.name for p in folder.iterdir() if p.name.endswith(".msg")))
            return self.file.write(data)

    def spying_open(path, mode="r", *args, **kwargs):
        opened = real_open(path, mode, *args, **kwargs)
        return Spying(opened) if "w" in str(mode) and str(path).startswith(str(folder)) else opened

    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "store_processed": False,
        "control_folder": str(tmp_path / "control"),  # not kombu's default ./control
    }
    with Connection("filesystem://", transport=broker.Transport, transport_options=options) as connection:
        queue = connection.SimpleQueue("demo")
        try:
            monkeypatch.setattr(builtins, "open", spying_open)
            queue.put({"n": 1})
            monkeypatch.setattr(builtins, "open", real_open)
            assert seen_mid_write == [[]]  # mid-write, no message a worker would take
            message = queue.get(timeout=2)
            assert message.payload == {"n": 1}
            message.ack()
            assert not [p for p in folder.iterdir() if p.name.startswith("partial-")]
        finally:
            queue.close()


def test_the_broker_needs_no_hostname_and_logs_no_warning_for_it(tmp_path: Path, caplog) -> None:
    """The worker printed "No hostname was supplied. Reverting to default 'localhost'" at start and
    on later connections: kombu's warning for a URL without a host, which a folder never has."""
    from kombu import Connection

    from example_project.broker import Transport, transport_options

    connection = Connection(
        "filesystem://", transport=Transport, transport_options=transport_options(tmp_path)
    )
    with caplog.at_level("WARNING", logger="kombu.connection"), connection:
        connection.info()
        connection.clone().info()
        queue = connection.SimpleQueue("demo.hostname")
        queue.put({"n": 1})
        message = queue.get(timeout=2)
        message.ack()
        queue.close()
    assert message.payload == {"n": 1}
    assert [r.getMessage() for r in caplog.records if r.name == "kombu.connection"] == []
