"""Fixtures of the sync tests: eager Celery against the in-process sandbox, HTTP counting."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings


class CallLog:
    """Every request the sandbox answered: ``(method, path, status)``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int]] = []

    def __call__(self, exchange: Any) -> None:
        self.calls.append((exchange.request.method, exchange.request.path, exchange.response.status))

    def count(self, method: str | None = None, path: str | None = None) -> int:
        return sum(1 for m, p, _ in self.calls if (method in (None, m)) and (path in (None, p)))

    def by_route(self) -> Counter[tuple[str, str]]:
        return Counter((m, p) for m, p, _ in self.calls)


@pytest.fixture
def sandbox(voucherify_sandbox: Any, eager_celery: Any) -> Iterator[Any]:
    """The in-process sandbox with a ``calls`` log, fast sync retries, and eager Celery."""
    log = CallLog()
    voucherify_sandbox.response_listeners.append(log)
    voucherify_sandbox.calls = log
    conf = dict(settings.VOUCHERIFY)
    conf.update(SYNC_MAX_ATTEMPTS=3, SYNC_RETRY_BACKOFF=0.01, SYNC_RETRY_BACKOFF_MAX=0.05, MAX_RETRIES=0)
    with override_settings(VOUCHERIFY=conf):
        import django_voucherify

        django_voucherify.reset_client()
        voucherify_sandbox.mount(django_voucherify.get_client().transport.session)
        yield voucherify_sandbox
