"""Fixtures of the sync tests: eager Celery against the in-process sandbox, HTTP counting, the
drain's held messages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.drain import DRAIN_CACHES, Broker
from tests.support.sandbox import wired


@pytest.fixture
def sandbox(voucherify_sandbox: Any, eager_celery: Any) -> Iterator[Any]:
    """The in-process sandbox with a ``calls`` log, fast sync retries, and eager Celery."""
    fast = {"SYNC_MAX_ATTEMPTS": 3, "SYNC_RETRY_BACKOFF": 0.01, "SYNC_RETRY_BACKOFF_MAX": 0.05}
    with wired(voucherify_sandbox, **fast, MAX_RETRIES=0) as sandbox:
        yield sandbox


@pytest.fixture
def user_mirrored() -> Iterator[Any]:
    """Django's User connected to the Customer mirror through the registry (users with an
    e-mail become ``user-<pk>`` customers); disconnected after the test."""
    from django.contrib.auth import get_user_model

    from django_voucherify.models import Customer
    from django_voucherify.sync import registry

    User = get_user_model()
    registry.connect(
        User,
        Customer,
        lambda u: (
            {"source_id": f"user-{u.pk}", "email": u.email, "name": u.get_full_name(), "user": u}
            if u.email
            else None
        ),
    )
    yield User
    registry.disconnect(User)


@pytest.fixture
def broker(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Broker]:
    """The drain on (a cache of its own), batches of 3, and a broker that holds the messages."""
    from django.core.cache import caches
    from django.test import override_settings

    from django_voucherify import background, conf

    held = Broker()
    monkeypatch.setattr(background, "send", held.send)
    values = {**conf.raw_settings(), "SYNC_DRAIN_CACHE": "drain", "SYNC_BATCH_SIZE": 3}
    with override_settings(CACHES=DRAIN_CACHES, VOUCHERIFY=values):
        caches["drain"].clear()
        yield held
        caches["drain"].clear()
