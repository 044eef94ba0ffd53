"""The sandbox's log: the ``django_voucherify.sandbox`` logger.

- Unexpected errors are logged at ERROR with their traceback: a handler that failed (answered
  500, whose body says "see its log" and gives the request id the log line names), a
  connection the server could not serve, a job that crashed, a state file that could not be
  written.
- Each request answered is logged at INFO: method, path without the query string, status (or
  ``dropped`` / ``timed out`` for injected faults) and time in ms. Headers are never logged:
  they carry the app token.

The package puts a ``NullHandler`` on ``django_voucherify`` (a library leaves logging to the
project), which silenced all of this when the sandbox ran on its own. :func:`configure`, called
by the command line, gives the logger a stderr handler unless the project already routes its
records somewhere, and switches the request lines on with ``--verbose``.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

logger = logging.getLogger("django_voucherify.sandbox")


def log_request(method: str, path: str, outcome: int | str, started: float) -> None:
    """One line per request: ``GET /v1/vouchers/A 200 3 ms``; ``started`` is a perf_counter()."""
    if logger.isEnabledFor(logging.INFO):
        logger.info("%s %s %s %d ms", method, path, outcome, round((time.perf_counter() - started) * 1000))


def configure(verbose: bool = False, stream: TextIO | None = None) -> None:
    """Log errors (and with ``verbose`` every request) to ``stream`` (stderr by default)."""
    logger.setLevel(logging.INFO if verbose else logging.WARNING)
    if not _routed(logger):
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)


def _routed(start: logging.Logger) -> bool:
    """Whether a handler that writes somewhere (not a NullHandler) already gets its records."""
    node: logging.Logger | None = start
    while node is not None:
        if any(not isinstance(h, logging.NullHandler) for h in node.handlers):
            return True
        node = node.parent if node.propagate else None
    return False
