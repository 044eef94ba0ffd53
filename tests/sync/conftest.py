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
