"""The demo's broker: kombu's filesystem transport, with folders that come back when deleted.

The stock transport expects its folders to exist: deleting ``DEMO_VAR_DIR/broker`` (to clear a
backlog, or by ``demo_reset`` while the demo runs) made the worker die on ``FileNotFoundError``
at its next poll, and every later ``delay()`` of the web process fail. This transport's channel
creates a folder whenever it is about to use it (one ``mkdir`` per poll, nothing to measure), so
the demo carries on with an empty queue. Settings select it with ``CELERY_BROKER_TRANSPORT``.

Each message is also written atomically: under a name no reader takes, then renamed into the
queue. kombu's own ``_put`` creates the ``.msg`` file empty and then writes it; a worker polling
in between moved the empty file away, read nothing and died on a ``JSONDecodeError``
("Unrecoverable error"), which stopped the whole demo (seen in CI, twice over the stops).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

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

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        """Put ``payload`` on ``queue`` whole or not at all: written as ``partial-<uuid>`` (no
        ``.msg`` suffix, so ``_get`` never takes it), then renamed to kombu's name (same folder:
        the rename is atomic)."""
        folder = self.data_folder_out
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        partial = os.path.join(folder, f"partial-{uuid.uuid4()}")
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, os.path.join(folder, name))
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.remove(partial)
            raise ChannelError(f"Cannot add file {name!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel

    @property
    def default_connection_params(self) -> dict[str, Any]:
        """No default host: a folder has none. kombu's virtual transports default to
        ``localhost`` and then warn "No hostname was supplied. Reverting to default 'localhost'"
        each time a connection describes itself (the worker's banner, clones, each job's
        connection): lines in the demo's output that read like a misconfiguration."""
        return {"port": self.default_port}
