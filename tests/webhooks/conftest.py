"""Webhook tests: the receiver mounted at /hooks/voucherify/, two secrets configured, and no
HTTP call allowed (the receiver and processing never call Voucherify)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests.adapters

from django_voucherify.webhooks import sign

SECRETS = ["new-secret", "old-secret"]
URL = "/hooks/voucherify/"
_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def webhook_settings(settings: Any) -> None:
    settings.ROOT_URLCONF = "tests.webhooks.urls"
    settings.VOUCHERIFY = {**settings.VOUCHERIFY, "WEBHOOK_SECRETS": SECRETS, "WEBHOOK_MAX_ATTEMPTS": 3}


@pytest.fixture(autouse=True)
def no_http(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    def refuse(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(request.url)
        raise AssertionError(f"no HTTP call expected, got {request.method} {request.url}")

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", refuse)
    return calls


def envelope(
    kind: str, data: dict[str, Any], *, at: str = "2026-01-01T10:00:00.000Z", event_id: str | None = None
) -> dict[str, Any]:
    """An event as Voucherify sends it (webhooks-openapi.json: DefaultPayloadData1/2)."""
    number = next(_ids)
    return {
        "id": f"whs_{number:020x}",
        "project_id": "proj_test",
        "created_at": at,
        "type": kind,
        "data": data,
        "source": {"id": "wh_test", "object": "webhook", "target_url": "https://shop.example/hooks"},
        "event": {
            "id": event_id or f"ev_{number:020x}",
            "type": kind,
            "created_at": at,
            "category": "ACTION",
            "entity_id": "user_test",
        },
    }


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
