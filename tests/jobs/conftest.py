"""Fixtures of the job tests: the in-process sandbox, eager Celery, media in a temp dir, staff
users holding only the permissions a test names."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from functools import partial
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import override_settings

from tests.support.admin import login_staff
from tests.support.jobs import FAST
from tests.support.sandbox import options, wired


@pytest.fixture
def media(tmp_path: Any) -> Iterator[Any]:
    root = tmp_path / "media"
    with override_settings(MEDIA_ROOT=str(root)):
        yield root


@pytest.fixture
def sandbox(voucherify_sandbox: Any, eager_celery: Any, media: Any) -> Iterator[Any]:
    """In-process sandbox (fast async actions) with a ``calls`` log; eager Celery."""
    voucherify_sandbox.state.job_delay = 0.01
    with wired(voucherify_sandbox, **FAST) as sandbox:
        yield sandbox


@pytest.fixture
def tune(sandbox: Any) -> Iterator[Callable[..., None]]:
    """``tune(KEY=value)``: change VOUCHERIFY options for the test, still on the sandbox."""
    with ExitStack() as stack:
        yield lambda **values: stack.enter_context(options(sandbox, **values))


@pytest.fixture
def staff(client: Any) -> Callable[..., User]:
    """``staff("view_job", ...)``: a logged-in staff user with exactly these permissions."""
    return partial(login_staff, client)
