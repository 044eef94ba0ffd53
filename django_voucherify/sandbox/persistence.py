"""Keep a sandbox's state in a JSON file across restarts (``--data FILE``).

The file is loaded at start; after mutations a background thread writes it at most every
``interval`` seconds, and :meth:`FilePersistence.close` writes it one last time. Writes are
atomic (temporary file + ``os.replace``) so a crash never leaves half a file.

Two saves can overlap (the thread's, slow for a large store, and the last one): each snapshot
is numbered when taken, under the state's lock, and a write older than the file on disk is
dropped instead of renamed over it. :meth:`FilePersistence.close` writes the last snapshot at
once, then waits for a save still under way to end, however long it takes: before, it waited
5 s, wrote, and returned; the older save then renamed its stale snapshot over the last one, or
was cut off by the process' exit, leaving its temporary file behind.
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
        self._taken = 0  # snapshots numbered in the order of the states they hold
        self._written = 0  # the number of the snapshot the file holds
        self._replacing = threading.Lock()
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
        """Write the state now (atomically); a save that ends after a newer one is dropped."""
        with self.state.lock:  # the number and the snapshot of the same moment
            text = self.state.to_json()
            self._taken += 1
            number = self._taken
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".sandbox-", dir=self.path.parent)
        renamed = False
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            with self._replacing:
                if number > self._written:
                    os.replace(tmp, self.path)
                    self._written, renamed = number, True
        finally:
            if not renamed:  # failed, or older than the file: no temp file left beside the state
                Path(tmp).unlink(missing_ok=True)

    def close(self) -> None:
        """Stop the saver thread and write a final snapshot; returns once it is on disk and the
        thread has ended. The final write does not wait for a save under way (a supervisor's
        grace period may be short), but ``close`` does, so that save can neither land after
        the final one nor be cut off half-written when the process exits."""
        self._stop.set()
        self._dirty.set()
        try:
            self.save()
        finally:
            self._thread.join()
