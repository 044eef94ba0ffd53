"""``--data``: what the sandbox answered before a stop is on disk after it, even when a
background save of a large store is still writing when the stop comes (a slow writer,
injected)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from django_voucherify.sandbox.persistence import FilePersistence
from django_voucherify.sandbox.state import SandboxState

SAVER = "sandbox-persist"  # the background saver thread's name


class SlowWriter:
    """``os.fdopen`` whose files, on the saver thread, write only once ``go`` is set: a save
    that takes as long as the test wants. ``writing`` is set when such a write starts."""

    def __init__(self, go: threading.Event) -> None:
        self.go = go
        self.writing = threading.Event()
        self.real = os.fdopen

    def __call__(self, fd: int, *args: Any, **kwargs: Any) -> Any:
        fh = self.real(fd, *args, **kwargs)
        if threading.current_thread().name == SAVER:
            real_write = fh.write

            def write(text: str) -> int:
                self.writing.set()
                assert self.go.wait(timeout=60), "the slow save was never let go"
                return real_write(text)

            fh.write = write
        return fh


def value(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))["extra"].get("n")


@pytest.fixture
def slow(monkeypatch: Any) -> tuple[SlowWriter, threading.Event]:
    go = threading.Event()
    writer = SlowWriter(go)
    monkeypatch.setattr(os, "fdopen", writer)
    return writer, go


def test_a_save_under_way_at_close_neither_lands_after_the_last_one_nor_stays_half_written(
    tmp_path, slow, monkeypatch
):
    writer, go = slow
    path = tmp_path / "state.json"
    real_replace = os.replace

    def replace(src: str, dst: Any) -> None:
        real_replace(src, dst)
        if threading.current_thread().name != SAVER:
            go.set()  # the slow save ends only once the last one is on disk

    monkeypatch.setattr(os, "replace", replace)
    state = SandboxState()
    persistence = FilePersistence(state, path, interval=0.01)
    state.extra["n"] = 1
    state.changed()
    assert writer.writing.wait(timeout=10)  # the saver is writing n=1, slowly
    state.extra["n"] = 2  # answered before the stop
    state.changed()

    persistence.close()
    # The old close waited 5 s for the slow save, wrote n=2 and returned with the save still
    # writing: it then renamed n=1 over the file, or the exit cut it off half-written.
    assert not persistence._thread.is_alive()
    assert value(path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]  # no temp file left


def test_close_waits_for_a_slow_save_and_the_file_holds_the_last_state(tmp_path, slow):
    writer, go = slow
    path = tmp_path / "state.json"
    state = SandboxState()
    persistence = FilePersistence(state, path, interval=0.01)
    state.extra["n"] = 1
    state.changed()
    assert writer.writing.wait(timeout=10)
    state.extra["n"] = 2
    state.changed()
    closing = threading.Thread(target=persistence.close)
    closing.start()
    try:
        # The last snapshot is written at once, while the slow save still runs.
        for _ in range(6000):
            if path.exists():
                break
            closing.join(timeout=0.01)
        assert value(path) == 2
        assert closing.is_alive()  # close has not returned: the slow save is under way
    finally:
        go.set()
        closing.join(timeout=30)
    assert not closing.is_alive() and value(path) == 2  # the older save was dropped
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]
