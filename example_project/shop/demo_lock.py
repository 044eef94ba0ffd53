"""One demo per data folder: ``./scripts/demo`` holds an exclusive ``flock`` on
``VAR_DIR/demo.lock`` for its whole life (the kernel drops it on any exit, a crash included), and
``manage.py demo_reset`` takes the same lock, so a second demo or a reset on a folder in use is
refused instead of both corrupting the same broker folder, database and sandbox data.

The script runs ``demo_reset`` itself for ``--reset`` while holding the lock: it passes the
descriptor in ``DEMO_LOCK_FD``, which counts only if it is that very lock file.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = "demo.lock"


class DemoRunning(Exception):
    """Another demo holds the folder's lock; ``str()`` says so with what to do."""


def refusal(var_dir: Path) -> str:
    return (
        f"another demo is running on {var_dir} (it holds {var_dir / LOCK_NAME}). Stop it first, "
        "or give this one its own data and ports, e.g. DEMO_VAR_DIR=/tmp/demo2 "
        "DATABASE_URL=sqlite:////tmp/demo2/db.sqlite3 DEMO_SANDBOX_DATA=/tmp/demo2/sandbox.json "
        "DEMO_PORT=8001 SANDBOX_PORT=8101 ./scripts/demo"
    )


def _inherited(path: Path) -> bool:
    """True if ``DEMO_LOCK_FD`` is an open descriptor of ``path`` (the script's held lock)."""
    fd = os.environ.get("DEMO_LOCK_FD", "")
    if not fd.isdigit():
        return False
    try:
        held, here = os.fstat(int(fd)), path.stat()
    except OSError:
        return False
    return (held.st_dev, held.st_ino) == (here.st_dev, here.st_ino)


@contextmanager
def exclusive(var_dir: Path) -> Iterator[bool]:
    """Hold the folder's demo lock for the block (yields whether it was taken here: False when
    inherited from the script); raises :class:`DemoRunning` at once if someone else holds it."""
    path = var_dir / LOCK_NAME
    if _inherited(path):
        yield False
        return
    var_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DemoRunning(refusal(var_dir)) from None
        yield True
    finally:
        os.close(fd)
