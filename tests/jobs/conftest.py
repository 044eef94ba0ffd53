"""Fixtures of the job tests: the in-process sandbox, eager Celery, media in a temp dir."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from tests.sync.conftest import CallLog

FAST = {"JOB_POLL_INTERVAL": 0.02, "JOB_POLL_INTERVAL_MAX": 0.1, "JOB_RESUBMIT_AFTER": 30.0, "MAX_RETRIES": 0}


@pytest.fixture
def media(tmp_path: Any) -> Iterator[Any]:
    root = tmp_path / "media"
    with override_settings(MEDIA_ROOT=str(root)):
        yield root


@pytest.fixture
def sandbox(voucherify_sandbox: Any, eager_celery: Any, media: Any) -> Iterator[Any]:
    """In-process sandbox (fast async actions) with a ``calls`` log; eager Celery."""
    log = CallLog()
    voucherify_sandbox.response_listeners.append(log)
    voucherify_sandbox.calls = log
    voucherify_sandbox.state.job_delay = 0.01
    with override_settings(VOUCHERIFY={**settings.VOUCHERIFY, **FAST}):
        import django_voucherify

        django_voucherify.reset_client()
        voucherify_sandbox.mount(django_voucherify.get_client().transport.session)
        yield voucherify_sandbox


def voucher_csv(rows: int, start: int = 0, extra: str = "") -> bytes:
    lines = ["Code,Voucher Type,Value,Discount Type,Expiration Date" + (",Batch" if extra else "")]
    for i in range(start, start + rows):
        lines.append(f"CODE-{i:07d},DISCOUNT_VOUCHER,10,PERCENT,2030-01-01" + (f",{extra}" if extra else ""))
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def tune(sandbox: Any) -> Any:
    """``tune(KEY=value)``: change VOUCHERIFY options for the test, still on the sandbox."""
    overrides = []

    def apply(**options: Any) -> None:
        cm = override_settings(VOUCHERIFY={**settings.VOUCHERIFY, **options})
        cm.enable()
        overrides.append(cm)
        import django_voucherify

        django_voucherify.reset_client()
        sandbox.mount(django_voucherify.get_client().transport.session)

    yield apply
    for cm in reversed(overrides):
        cm.disable()
