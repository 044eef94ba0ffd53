"""A plain stderr progress bar for the sync commands (no extra dependency)."""

from __future__ import annotations

from django.core.management.base import OutputWrapper


class ProgressBar:
    """``[#####.....] 5000/10000 rows, 1 request`` redrawn in place on a TTY, else every 10%."""

    def __init__(self, stream: OutputWrapper, label: str, width: int = 30) -> None:
        self.stream, self.label, self.width = stream, label, width
        self.tty = stream.isatty()
        self._last_tenth = -1

    def __call__(self, done: int, total: int, requests: int) -> None:
        frac = done / total if total else 1.0
        tenth = int(frac * 10)
        if not self.tty and tenth == self._last_tenth and done != total:
            return
        self._last_tenth = tenth
        filled = int(frac * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        line = f"{self.label} [{bar}] {done}/{total}, {requests} request(s)"
        self.stream.write(("\r" + line) if self.tty else line, ending="" if self.tty else "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("")
