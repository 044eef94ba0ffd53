"""``python -m django_voucherify.sandbox --host 127.0.0.1 --port 8100 ...`` (see cli.py)."""

from __future__ import annotations

import signal
import sys

from django_voucherify.sandbox.cli import main


def _terminate(signum: int, frame: object) -> None:
    # SIGTERM behaves like Ctrl-C so the state file is written before exiting.
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(main())
