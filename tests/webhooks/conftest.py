"""Webhook tests: the receiver mounted at /hooks/voucherify/, two secrets configured, and no
HTTP call allowed (the receiver and processing never call Voucherify)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests.adapters

from django_voucherify.webhooks import sign
from tests.support.webhooks import SECRETS, URL


@pytest.fixture(autouse=True)
def webhook_settings(settings: Any) -> None:
    settings.ROOT_URLCONF = "tests.webhooks.urls"
    # The tests' events carry fixed 2026 dates; an event older than the retention is refused
    # (its id may be forgotten): a century keeps them acceptable whenever the suite runs.
    settings.VOUCHERIFY = {
        **settings.VOUCHERIFY,
        "WEBHOOK_SECRETS": SECRETS,
        "WEBHOOK_MAX_ATTEMPTS": 3,
        "WEBHOOK_RETENTION_DAYS": 36500,
    }


@pytest.fixture(autouse=True)
def no_http(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    def refuse(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(request.url)
        raise AssertionError(f"no HTTP call expected, got {request.method} {request.url}")

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", refuse)
    return calls


@pytest.fixture
def post(client: Any) -> Callable[..., Any]:
    def send(
        body: Any, *, secret: str = SECRETS[0], raw: bytes | None = None, header: str | None = None
    ) -> Any:
        data = raw if raw is not None else json.dumps(body, separators=(",", ":")).encode()
        extra = {} if header == "" else {"HTTP_X_VOUCHERIFY_SIGNATURE": header or sign(data, secret)}
        return client.post(URL, data=data, content_type="application/json", **extra)

    return send


@pytest.fixture(autouse=True)
def _eager(eager_celery: Any) -> Iterator[Any]:
    """Tasks run inline here: nothing is published to a broker nobody reads."""
    yield eager_celery
