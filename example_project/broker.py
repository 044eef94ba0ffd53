"""The demo's broker: kombu's filesystem transport, with folders that come back when deleted.

The stock transport expects its folders to exist: deleting ``DEMO_VAR_DIR/broker`` (to clear a
backlog, or by ``demo_reset`` while the demo runs) made the worker die on ``FileNotFoundError``
at its next poll, and every later ``delay()`` of the web process fail. This transport's channel
creates a folder whenever it is about to use it (one ``mkdir`` per poll, nothing to measure), so
the demo carries on with an empty queue. Settings select it with ``CELERY_BROKER_TRANSPORT``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kombu.transport import filesystem

#: ``CELERY_BROKER_TRANSPORT`` of the demo (with ``CELERY_BROKER_URL = "filesystem://"``).
TRANSPORT = "example_project.broker:Transport"


def transport_options(broker_dir: Path) -> dict[str, Any]:
    return {
        # One folder both ways: every process (web, commands, worker, beat) shares the queue.
        "data_folder_in": str(broker_dir / "queue"),
        "data_folder_out": str(broker_dir / "queue"),
        "processed_folder": str(broker_dir / "processed"),
        "store_processed": False,
        "control_folder": str(broker_dir / "control"),
        # A worker polls the folder; 0.2 s keeps a task's latency well under a second.
        "polling_interval": 0.2,
    }


def _present(folder: str | Path) -> Any:
    Path(folder).mkdir(parents=True, exist_ok=True)
    return folder


class Channel(filesystem.Channel):
    """Each folder is (re)created when the channel reads it (kombu reads them on every use)."""

    @property
    def data_folder_in(self) -> Any:
        return _present(super().data_folder_in)

    @property
    def data_folder_out(self) -> Any:
        return _present(super().data_folder_out)

    @property
    def processed_folder(self) -> Any:
        return _present(super().processed_folder)

    @property
    def control_folder(self) -> Any:
        return _present(super().control_folder)


class Transport(filesystem.Transport):
    Channel = Channel
