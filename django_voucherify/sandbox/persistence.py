"""Keep a sandbox's state in a JSON file across restarts (``--data FILE``).

The file is loaded at start; after mutations a background thread writes it at most every
``interval`` seconds, and :meth:`FilePersistence.close` writes it one last time. Writes are
atomic (temporary file + ``os.replace``) so a crash never leaves half a file.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

from django_voucherify.sandbox.log import logger
from django_voucherify.sandbox.state import SandboxState


def load_state(path: str | os.PathLike[str]) -> SandboxState:
    """A state loaded from ``path`` if it exists, else an empty one."""
    p = Path(path)
    if p.exists() and p.stat().st_size:
        return SandboxState.from_json(p.read_text(encoding="utf-8"))
    return SandboxState()


class FilePersistence:
    """Saves ``state`` to ``path`` after changes (debounced) and on :meth:`close`."""

    def __init__(self, state: SandboxState, path: str | os.PathLike[str], interval: float = 1.0):
        self.state = state
        self.path = Path(path)
        self.interval = interval
        self._dirty = threading.Event()
        self._stop = threading.Event()
        state.on_change.append(self._dirty.set)
        self._thread = threading.Thread(target=self._loop, daemon=True, name="sandbox-persist")
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._dirty.wait(timeout=self.interval)
            if self._stop.is_set():
                break
            if self._dirty.is_set():
                self._dirty.clear()
                try:
                    self.save()
                except Exception:  # a full disk must not end the saving for good: try again
                    logger.exception("sandbox: could not save the state to %s", self.path)
                    self._dirty.set()
                self._stop.wait(self.interval)  # debounce bursts of mutations

    def save(self) -> None:
        """Write the state now (atomically)."""
        text = self.state.to_json()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".sandbox-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)  # no half-written temp files left beside the state
            raise

    def close(self) -> None:
        """Stop the saver thread and write a final snapshot."""
        self._stop.set()
        self._dirty.set()
        self._thread.join(timeout=5)
        self.save()
