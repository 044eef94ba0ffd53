"""Fixtures of the sync tests: eager Celery against the in-process sandbox, HTTP counting."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.sandbox import wired


@pytest.fixture
def sandbox(voucherify_sandbox: Any, eager_celery: Any) -> Iterator[Any]:
    """The in-process sandbox with a ``calls`` log, fast sync retries, and eager Celery."""
    fast = {"SYNC_MAX_ATTEMPTS": 3, "SYNC_RETRY_BACKOFF": 0.01, "SYNC_RETRY_BACKOFF_MAX": 0.05}
    with wired(voucherify_sandbox, **fast, MAX_RETRIES=0) as sandbox:
        yield sandbox
